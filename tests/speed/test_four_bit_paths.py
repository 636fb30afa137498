"""The FP4 compute path, the k-quant key of Metal's quantized prompts, and what a decode step attends: sliding
windows, absorbed MLA and each GPU's TP share of the KV."""
from __future__ import annotations

import pytest

from llmsize.catalog import hardware as hw
from llmsize.load import load
from llmsize.perf import attention_flops, forward_flops
from llmsize.speedmodel.efficiency import attention_path, is_super_block, phase_key, serve_path
from llmsize.speedmodel.predict import prefill
from llmsize.speedmodel.serving import serve


# ------------------------------------------------------------------ FP4

def test_fp4_rates_are_dense_and_sourced():
    b200, b300, r5090, pro = (hw.get_gpu(n) for n in ("B200", "B300", "RTX-5090", "RTX-PRO-6000"))
    assert b200.peak_flops("fp4") == 9e15 == 2 * b200.peak_flops("fp8")
    assert b300.peak_flops("fp4") == 13.5e15 == 3 * b300.peak_flops("fp8")  # Blackwell Ultra: 1.5x B200's fp4
    assert r5090.peak_flops("fp4") == pytest.approx(4 * r5090.peak_flops("fp8"), rel=1e-3)  # GeForce fp8 is fp32-acc
    assert pro.peak_flops("fp4") == 2 * pro.peak_flops("fp8")
    for g in hw.gpus():
        if g.has("fp4"):
            assert "fp4 (dense" in g.note and g.flops["fp4"] >= g.flops["fp8"], g.name
    assert not hw.get_gpu("H100-SXM").has("fp4")


# the 16-bit stand-in of a weight-only format is fp16 (serve_path: weight-only formats dequantise to fp16)
@pytest.mark.parametrize(("engine", "weights", "gpu", "path"), [
    ("trt-llm", "nvfp4", "B200", "fp4"),  # W4A4
    ("vllm", "nvfp4", "RTX-PRO-6000", "fp4"),
    ("sglang", "nvfp4", "GB200", "fp4"),
    ("vllm", "nvfp4", "H100-SXM", "fp16"),  # Marlin weight-only
    ("trt-llm", "mxfp4", "B200", "fp8"),  # W4A8: MXFP8 activations
    ("sglang", "mxfp4", "GB300", "fp8"),
    ("vllm", "mxfp4", "B200", "fp16"),  # FlashInfer MXFP4 x BF16, vLLM's default
    ("trt-llm", "mxfp4", "H200-SXM", "fp16"),  # Triton, 16-bit math
    ("trt-llm", "mxfp4", "RTX-PRO-6000", "fp16"),
    ("llama.cpp", "MXFP4", "B200", "int8"),  # MMQ
])
def test_four_bit_paths(engine, weights, gpu, path):
    assert serve_path(engine, weights, hw.get_gpu(gpu)) == path


def test_an_fp4_checkpoint_serves_faster_than_its_bf16_on_compute_bound_work():
    spec = load("Llama-3.3-70B-Instruct").spec
    g = hw.get_gpu("B200")
    kw = dict(engine="trt-llm", kv_dtype="fp8", prompt=8192, output=1024, concurrency="max", serve_efficiency=0.5)
    fp4, bf16 = serve(spec, g, weights="nvfp4", **kw), serve(spec, g, weights="bf16", tp=2, **kw)
    assert fp4.path == "fp4" and bf16.path == "bf16"
    assert fp4.prompt_compute_s < bf16.prompt_compute_s


# ------------------------------------------------------------------ attention's own path

@pytest.mark.parametrize(("engine", "path", "kv", "gpu", "expected"), [
    ("trt-llm", "fp4", "fp8", "B200", "fp8"),  # FP8 context FMHA over an FP8 cache
    ("vllm", "fp8", "fp8", "H100-SXM", "fp8"),  # FlashAttention 3 attends an FP8 cache in FP8
    ("sglang", "fp4", "fp8", "B200", "fp16"),  # dequantizes the cache to 16 bits to attend
    ("trt-llm", "fp4", "bf16", "B200", "fp16"),  # a 16-bit cache: 16-bit attention beside FP4 GEMMs
    ("trt-llm", "fp8", None, "H100-SXM", "fp16"),
    ("vllm", "fp16", "fp8", "A100-SXM-80GB", "fp16"),  # no FP8 units
    ("llama.cpp", "int8", "f16", "RTX-4090", "fp16"),  # MMQ GEMMs, flash attention on f16 tensor cores
    ("trt-llm", "bf16", "fp8", "H100-SXM", "bf16"),  # a 16-bit GEMM path is attention's too
])
def test_attention_runs_on_the_path_of_its_operands(engine, path, kv, gpu, expected):
    assert attention_path(engine, path, kv, hw.get_gpu(gpu)) == expected


def test_attention_flops_are_the_context_share_of_the_forward():
    spec = load("Llama-3.1-8B").spec
    assert attention_flops(spec, 7, 100) == forward_flops(spec, 7, 100) - forward_flops(spec, 7, 0) > 0


def test_a_long_fp4_prompt_is_slower_over_a_16_bit_cache_than_over_an_fp8_one():
    # the GEMMs are the same FP4 ones; only attention's products move from the FP8 to the 16-bit rate
    spec, g = load("Llama-3.3-70B-Instruct").spec, hw.get_gpu("B200")
    kw = dict(engine="trt-llm", weights="nvfp4", batch=1, tokens=32768, prefill_efficiency=0.5)
    fp8, bf16 = prefill(spec, g, kv_dtype="fp8", **kw), prefill(spec, g, kv_dtype="bf16", **kw)
    attn = attention_flops(spec, 32768, 16384)
    assert bf16.terms["compute_s"] - fp8.terms["compute_s"] == pytest.approx(
        attn / (0.5 * g.peak_flops("fp16")) - attn / (0.5 * g.peak_flops("fp8")), rel=1e-9)


def test_speed_reports_attention_path_beside_the_gemms():
    from click.testing import CliRunner

    from llmsize.cli import cli
    from tests.web.conftest import cli_json

    args = ("speed", "Llama-3.3-70B-Instruct", "--gpu", "B200", "--engine", "trt-llm", "--weights", "nvfp4")
    rep = cli_json(*args, "--kv-dtype", "fp8")
    assert rep["compute_path"] == "fp4" and rep["attention_path"] == "fp8"
    assert cli_json(*args, "--kv-dtype", "auto")["attention_path"] == "fp16"
    out = CliRunner().invoke(cli, list(args) + ["--kv-dtype", "fp8"]).output
    assert "compute path: fp4, attention on fp8" in out
    assert "attention on" not in CliRunner().invoke(cli, ["speed", "Llama-3.1-8B", "--gpu", "H100-SXM"]).output


# ------------------------------------------------------------------ k-quant prompts on the 16-bit path

def test_k_quant_prompts_on_metal_have_their_own_key():
    assert is_super_block("Q4_K_M") and is_super_block("IQ4_XS") and is_super_block("q6_k")
    assert not is_super_block("Q4_0") and not is_super_block("Q8_0")
    assert phase_key("prefill", "fp16", "Q4_K_M") == "prefill-kq"
    assert phase_key("prefill", "fp16", "Q4_0") == "prefill-q"
    assert phase_key("decode", "fp16", "Q4_K_M") == "decode-q"  # a decode step's unpacking is dequant_s
    assert phase_key("prefill", "int8", "Q4_K_M") == "prefill-int8"


def test_apple_k_quant_prompts_run_below_legacy_ones():
    spec = load("Llama-2-7b-hf").spec
    g = hw.get_gpu("M2-Ultra")
    q4_0 = prefill(spec, g, engine="llama.cpp", weights="Q4_0", batch=1, tokens=512)
    q4_k = prefill(spec, g, engine="llama.cpp", weights="Q4_K_M", batch=1, tokens=512)
    assert q4_k.efficiencies[0].key.endswith("prefill-kq") and q4_0.efficiencies[0].key.endswith("prefill-q")
    assert q4_k.efficiencies[0].value < q4_0.efficiencies[0].value


# ------------------------------------------------------------------ what a decode step attends

def test_sliding_window_layers_hold_and_read_their_window_only():
    from llmsize.speedmodel.predict import attended_positions, kv_bytes_attended, kv_bytes_per_token

    oss = load("openai/gpt-oss-20b").spec  # 24 layers, every other one a 128-token window
    assert oss.sliding_window == 128
    assert attended_positions(oss, 1000) == 12 * 1000 + 12 * 128
    assert kv_bytes_attended(oss, 1000, "fp8") == pytest.approx(kv_bytes_per_token(oss, "fp8") / 24 * (12 * 1128))
    dense = load("Llama-3.1-8B").spec
    assert kv_bytes_attended(dense, 1000, "bf16") == 1000 * kv_bytes_per_token(dense, "bf16")


def test_a_long_context_gpt_oss_batch_fits_its_windows():
    oss, g = load("openai/gpt-oss-20b").spec, hw.get_gpu("B200")
    s = serve(oss, g, engine="trt-llm", weights="mxfp4", kv_dtype="fp8", prompt=1024, output=32768,
              concurrency="max", max_seqs=100000)
    # half the layers hold 128 tokens: about twice the sequences a full-attention cache would hold
    assert s.batch_limit == "kv" and s.batch > 1.9 * s.kv_capacity_tokens / (1024 + 32768)


def test_absorbed_mla_decode_attention_is_counted_as_math():
    from llmsize.speedmodel.predict import decode_attention_flops

    v3 = load("deepseek-ai/DeepSeek-V3").spec
    a = v3.attention
    assert decode_attention_flops(v3, 1000) == 2 * 128 * (2 * 512 + 64) * 1000 * 61
    assert a.kv_lora_rank == 512 and a.qk_rope_head_dim == 64
    llama = load("Llama-3.1-8B").spec
    assert decode_attention_flops(llama, 1000) == 2 * 32 * (128 + 128) * 1000 * 32


def test_tp_past_the_kv_heads_and_mla_replicate_the_cache():
    from llmsize.parallel import kv_fraction

    assert kv_fraction(load("Llama-3.1-8B").spec, 8) == 1 / 8
    assert kv_fraction(load("Qwen/Qwen3-235B-A22B").spec, 8) == 1 / 4  # 4 KV heads: one on each of 8 GPUs
    assert kv_fraction(load("deepseek-ai/DeepSeek-V3").spec, 8) == 1.0  # every rank keeps the latent
    q = load("Qwen/Qwen3-235B-A22B").spec
    kw = dict(engine="vllm", weights="fp8", kv_dtype="fp8", prompt=1024, output=1024, concurrency="max",
              max_seqs=100000)
    t4, t8 = serve(q, hw.get_gpu("H200-SXM"), tp=4, **kw), serve(q, hw.get_gpu("H200-SXM"), tp=8, **kw)
    # TP 8 frees weight memory, but each GPU still holds one of the 4 KV heads (94 layers x K and V x 128 x
    # 1 byte a token): the tokens that fit grow only with the memory freed, not twice
    from llmsize.speedmodel.predict import weight_bytes

    g, w = hw.get_gpu("H200-SXM"), weight_bytes(q, "fp8")
    per_tok = 94 * 2 * 128
    for s, tp in ((t4, 4), (t8, 8)):
        assert s.kv_capacity_tokens == int((g.usable * 0.9 - w / tp) // per_tok)


def test_pp_stages_read_their_weights_per_micro_batch_and_llama_cpp_runs_its_stages_in_turn():
    spec, g = load("Llama-3.1-70B").spec, hw.get_gpu("RTX-4090")
    kw = dict(weights="Q4_K_M", kv_dtype="f16", prompt=512, output=512, concurrency=8, mbu=0.5,
              prefill_efficiency=0.5)
    lc2, lc4 = (serve(spec, g, engine="llama.cpp", pp=p, **kw) for p in (2, 4))
    v2, v4 = (serve(spec, g, engine="vllm", pp=p, **kw) for p in (2, 4))
    # llama.cpp's layer split runs the batch through its GPUs in turn: p passes of W/p, b tokens each, so
    # splitting over more GPUs of one kind leaves its decode step as it was
    assert lc4.step_s == pytest.approx(lc2.step_s, rel=1e-9)
    # a pipelining engine's stages read their weights once per micro-batch (all of W a step, as above)
    # but split the batch's math and KV reads: no slower with more stages, faster than llama.cpp's turn
    assert v4.step_s <= v2.step_s * (1 + 1e-9) and v4.step_s < lc4.step_s
