// llmsize llama.cpp memory probe: load a GGUF, create a context, print the exact bytes llama.cpp
// allocated per buffer type (model / context (KV) / compute), as llama_get_memory_breakdown reports
// them, plus llama.cpp's own log lines. Built by scripts/llamacpp_measure.py against the libllama of
// llama-cpp-python. Usage: probe MODEL n_ctx n_batch n_ubatch fa(0/1) type_k type_v n_seq_max
//                               kv_unified(0/1) mmap(0/1) extra_bufts(0/1) swa_full(0/1)
#include "llama.h"
#include "llama-ext.h"
#include "ggml-backend.h"
#include <cstdio>
#include <cstdlib>
#include <string>

static std::string g_log;
static void log_cb(enum ggml_log_level level, const char * text, void *) {
    (void) level;
    g_log += text;
}

static void json_str(const std::string & s) {
    putchar('"');
    for (char c : s) {
        if (c == '"' || c == '\\') { putchar('\\'); putchar(c); }
        else if (c == '\n') { fputs("\\n", stdout); }
        else if ((unsigned char) c < 0x20) { printf("\\u%04x", c); }
        else { putchar(c); }
    }
    putchar('"');
}

int main(int argc, char ** argv) {
    if (argc != 13) { fprintf(stderr, "usage: see source\n"); return 2; }
    llama_log_set(log_cb, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.load_mode = atoi(argv[10]) ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
    mp.use_extra_bufts = atoi(argv[11]) != 0;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "load failed\n%s", g_log.c_str()); return 1; }
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = atoi(argv[2]);
    cp.n_batch = atoi(argv[3]);
    cp.n_ubatch = atoi(argv[4]);
    cp.flash_attn_type = atoi(argv[5]) ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = (ggml_type) atoi(argv[6]);
    cp.type_v = (ggml_type) atoi(argv[7]);
    cp.n_seq_max = atoi(argv[8]);
    cp.kv_unified = atoi(argv[9]) != 0;
    cp.swa_full = atoi(argv[12]) != 0;
    cp.n_threads = 1;
    cp.n_threads_batch = 1;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "context failed\n%s", g_log.c_str()); return 1; }
    llama_memory_breakdown mb = llama_get_memory_breakdown(ctx);
    printf("{\"n_ctx\": %u, \"n_ctx_seq\": %u, \"n_batch\": %u, \"n_ubatch\": %u, \"n_seq_max\": %u, ",
           llama_n_ctx(ctx), llama_n_ctx_seq(ctx), llama_n_batch(ctx), llama_n_ubatch(ctx), llama_n_seq_max(ctx));
    printf("\"model_size\": %llu, \"buffers\": {", (unsigned long long) llama_model_size(model));
    bool first = true;
    for (const auto & [buft, d] : mb) {
        if (!first) printf(", ");
        first = false;
        json_str(ggml_backend_buft_name(buft));
        printf(": {\"model\": %zu, \"context\": %zu, \"compute\": %zu}", d.model, d.context, d.compute);
    }
    printf("}, \"log\": ");
    json_str(g_log);
    printf("}\n");
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
