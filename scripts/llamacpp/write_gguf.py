"""Write zero-filled GGUF files shaped like catalogued models, with llmsize's own GGUF tensor list and
llama.cpp-faithful quantization types (llmsize.quant.gguf_presets), so real llama.cpp can load them
and report its buffers. Runs in any venv that has the `gguf` package (the measurement venv installs the
gguf-py vendored with the llama.cpp it builds) and llmsize's src on sys.path.

    python scripts/llamacpp/write_gguf.py OUTDIR MODEL:PRESET [MODEL:PRESET ...]

MODEL is a catalogued preset or a config.json (tests/data/llamacpp_models/: small MoE and MLA shapes).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))

import gguf  # noqa: E402

from llmsize.catalog.presets import find_preset  # noqa: E402
from llmsize.load import load_preset  # noqa: E402
from llmsize.quant.gguf_presets import FTYPES, tensor_types  # noqa: E402

# llmsize model_type -> llama.cpp architecture name
ARCH = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "gemma3_text": "gemma3", "gpt2": "gpt2",
        "qwen3_moe": "qwen3moe", "deepseek_v3": "deepseek2"}


def _spec(model: str):
    if model.endswith(".json"):
        from llmsize.load import load

        return load(model).spec
    return load_preset(find_preset(model)).spec


def _moe_mla(w, spec, arch: str) -> None:
    """Mixture-of-experts and MLA keys as convert_hf_to_gguf.py writes them for qwen3moe / deepseek2."""
    m, a = spec.moe, spec.attention
    if m is not None:
        w.add_expert_count(m.num_experts)
        w.add_expert_used_count(m.top_k)
        w.add_expert_feed_forward_length(m.expert_intermediate_size)
    if arch == "deepseek2":
        w.add_leading_dense_block_count(sum(1 for x in spec.moe_layers if not x))
        w.add_expert_shared_count(m.shared_intermediate_size // m.expert_intermediate_size)
        w.add_expert_weights_scale(2.5)
        w.add_expert_weights_norm(True)
        w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
        w.add_q_lora_rank(a.q_lora_rank)
        w.add_kv_lora_rank(a.kv_lora_rank)
        # MLA as the current converter writes it: K cache = the latent + the rope part, V = the latent
        w.add_key_length(a.kv_lora_rank + a.qk_rope_head_dim)
        w.add_value_length(a.kv_lora_rank)
        w.add_key_length_mla(a.head_dim)  # nope + rope
        w.add_value_length_mla(a.v_dim)
        w.add_rope_dimension_count(a.qk_rope_head_dim)


def write(outdir: str, model: str, ftype: str) -> str:
    spec = _spec(model)
    arch = ARCH[spec.model_type]
    a = spec.attention
    name = spec.name if model.endswith(".json") else model
    path = os.path.join(outdir, f"{name}-{ftype}.gguf")
    w = gguf.GGUFWriter(path, arch)
    w.add_name(name)
    w.add_file_type(FTYPES[ftype][0])
    w.add_context_length(spec.max_position_embeddings)
    w.add_embedding_length(spec.hidden_size)
    w.add_block_count(spec.num_layers)
    w.add_feed_forward_length(spec.mlp.intermediate_size)
    w.add_head_count(a.num_heads)
    w.add_head_count_kv(1 if a.mla else a.num_kv_heads)  # MLA: one latent K (= V) per token, as MQA
    w.add_vocab_size(spec.vocab_size)
    if arch == "gpt2":
        w.add_layer_norm_eps(1e-5)
    else:
        w.add_layer_norm_rms_eps(1e-6)
        w.add_rope_freq_base(10000.0)
        if arch == "deepseek2":
            _moe_mla(w, spec, arch)
        else:
            w.add_rope_dimension_count(a.head_dim)
            if spec.moe is not None:
                _moe_mla(w, spec, arch)
        if arch != "deepseek2" and (a.head_dim * a.num_heads != spec.hidden_size or arch in ("qwen3", "gemma3",
                                                                                              "qwen3moe")):
            w.add_key_length(a.head_dim)
            w.add_value_length(a.head_dim)
    if spec.sliding_window and arch == "gemma3":
        w.add_sliding_window(spec.sliding_window)
    w.add_tokenizer_model("none")
    for g, t in tensor_types(spec, ftype, source="F16", mla="split" if a.mla else "kv_b"):
        qt = gguf.GGMLQuantizationType[t.name]
        block, type_size = gguf.GGML_QUANT_SIZES[qt]
        shape = tuple(reversed(g.ne))  # numpy order (outermost first)
        if t.name == "F32":
            data = np.zeros(shape, np.float32)
        elif t.name == "F16":
            data = np.zeros(shape, np.float16)
        else:
            data = np.zeros((*shape[:-1], shape[-1] // block * type_size), np.uint8)
        w.add_tensor(g.name, data, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for arg in sys.argv[2:]:
        m, _, f = arg.partition(":")
        print(write(out, m, f))
