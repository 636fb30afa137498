"""Write zero-filled GGUF files shaped like catalogued models, with llmsize's own GGUF tensor list and
llama.cpp-faithful quantization types (llmsize.quant.gguf_presets), so real llama.cpp can load them
and report its buffers. Runs in any venv that has the `gguf` package (the measurement venv installs the
gguf-py vendored with the llama.cpp it builds) and llmsize's src on sys.path.

    python scripts/llamacpp/write_gguf.py OUTDIR MODEL:PRESET [MODEL:PRESET ...]
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
ARCH = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "gemma3_text": "gemma3", "gpt2": "gpt2"}


def write(outdir: str, model: str, ftype: str) -> str:
    spec = load_preset(find_preset(model)).spec
    arch = ARCH[spec.model_type]
    a = spec.attention
    path = os.path.join(outdir, f"{model}-{ftype}.gguf")
    w = gguf.GGUFWriter(path, arch)
    w.add_name(model)
    w.add_file_type(FTYPES[ftype][0])
    w.add_context_length(spec.max_position_embeddings)
    w.add_embedding_length(spec.hidden_size)
    w.add_block_count(spec.num_layers)
    w.add_feed_forward_length(spec.mlp.intermediate_size)
    w.add_head_count(a.num_heads)
    w.add_head_count_kv(a.num_kv_heads)
    w.add_vocab_size(spec.vocab_size)
    if arch == "gpt2":
        w.add_layer_norm_eps(1e-5)
    else:
        w.add_layer_norm_rms_eps(1e-6)
        w.add_rope_freq_base(10000.0)
        w.add_rope_dimension_count(a.head_dim)
        if a.head_dim * a.num_heads != spec.hidden_size or arch in ("qwen3", "gemma3"):
            w.add_key_length(a.head_dim)
            w.add_value_length(a.head_dim)
    if spec.sliding_window and arch == "gemma3":
        w.add_sliding_window(spec.sliding_window)
    w.add_tokenizer_model("none")
    for g, t in tensor_types(spec, ftype, source="F16"):
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
