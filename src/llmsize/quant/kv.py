"""KV-cache element types: bytes per cached value for fp16/bf16, vLLM's fp8, and llama.cpp's block
types (-ctk/-ctv q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl), and the exact cache size of a spec.

A llama.cpp cache row (one token's K or V of one layer, n_kv·d_h values) is stored in ggml blocks of
32, so a quantized row must be a multiple of 32 values and costs block_bytes·n/32.
"""
from __future__ import annotations

from fractions import Fraction

from llmsize.errors import LlmsizeError, did_you_mean
from llmsize.quant.ggml_types import ggml_type, row_bytes
from llmsize.spec import ModelSpec

# name -> (ggml type or None for plain bytes, bytes per element if plain, source key)
_KV: dict[str, tuple[str | None, int, str]] = {
    "fp32": ("F32", 4, "llama-kv-cache"), "fp16": ("F16", 2, "llama-kv-cache"),
    "bf16": ("BF16", 2, "llama-kv-cache"),
    "fp8": (None, 1, "vllm-fp8-kv"), "fp8_e4m3": (None, 1, "vllm-fp8-kv"), "fp8_e5m2": (None, 1, "vllm-fp8-kv"),
    "q8_0": ("Q8_0", 0, "llama-kv-cache"), "q4_0": ("Q4_0", 0, "llama-kv-cache"),
    "q4_1": ("Q4_1", 0, "llama-kv-cache"), "q5_0": ("Q5_0", 0, "llama-kv-cache"),
    "q5_1": ("Q5_1", 0, "llama-kv-cache"), "iq4_nl": ("IQ4_NL", 0, "llama-kv-cache"),
}
_ALIASES = {"f32": "fp32", "float32": "fp32", "f16": "fp16", "float16": "fp16", "half": "fp16", "auto": "bf16",
            "bfloat16": "bf16", "fp8-e4m3": "fp8_e4m3", "fp8-e5m2": "fp8_e5m2", "e4m3": "fp8_e4m3", "e5m2": "fp8_e5m2"}
KV_DTYPES = tuple(_KV)


def kv_dtype(name: str) -> str:
    """Canonical KV dtype name; unknown -> LlmsizeError with suggestions."""
    n = name.strip().lower().replace("-", "_") if name.strip().lower() not in _ALIASES else name.strip().lower()
    n = _ALIASES.get(n, n)
    if n not in _KV:
        raise did_you_mean(name, list(_KV), what="KV-cache dtype")
    return n


def kv_bytes_per_element(name: str) -> Fraction:
    """Bytes per cached value: fp16/bf16 2, fp8 1, q8_0 34/32, q5_1 24/32, q5_0 22/32, q4_1 20/32,
    q4_0 and iq4_nl 18/32.

    Source: llama-kv-cache"""
    t, plain, _ = _KV[kv_dtype(name)]
    if t is None:
        return Fraction(plain)
    g = ggml_type(t)
    return Fraction(g.block_bytes, g.block)


def kv_row_bytes(name: str, n: int) -> int:
    """Exact bytes of one cache row of `n` values (one token, one layer, K or V).

    row = n · bytes/element, n ≡ 0 (mod 32) for the block types

    Source: llama-kv-cache"""
    t, plain, _ = _KV[kv_dtype(name)]
    if n <= 0:
        raise LlmsizeError(f"a KV row needs a positive number of values, got {n}")
    if t is None:
        return n * plain
    try:
        return row_bytes(t, n)
    except LlmsizeError:
        raise LlmsizeError(f"KV cache type {kv_dtype(name)} stores blocks of {ggml_type(t).block} values; a row of "
                           f"{n} (KV heads x head size) is not a multiple of it") from None


def kv_rows(spec: ModelSpec) -> tuple[int, int]:
    """Values cached per token per layer: (K row, V row). MLA caches one latent of r_kv + d_rope (the
    absorbed form vLLM, SGLang and llama.cpp use for DeepSeek) as the K row and nothing as V; MiniCPM3's
    engines cache the expanded K (n_h x d_qk) and V (n_h x d_v) per head.

    Source: deepseek-v2"""
    a = spec.attention
    if a.mla and spec.traits.mla_expanded_serving:  # llama.cpp's minicpm3 graph: k = [k_nope; k_pe], v per head
        return a.num_heads * a.head_dim, a.num_heads * a.v_dim
    if a.mla:
        assert a.kv_lora_rank is not None
        return a.kv_lora_rank + a.qk_rope_head_dim, 0
    return a.num_kv_heads * a.head_dim, a.num_kv_heads * a.v_dim


def kv_cache_bytes(spec: ModelSpec, context: int, dtype: str = "bf16", *, batch: int = 1) -> int:
    """Exact KV-cache bytes for `batch` sequences of `context` tokens: the attention layers' K and V plus
    the fixed recurrent state of state-space/conv layers (llmsize.recurrent; not scaled by `dtype`).

    KV = batch · Σ_attention layers tokens_l · (row(K) + row(V)) + S(batch),
    tokens_l = min(context, window) on sliding layers

    Source: llama-kv-cache"""
    from llmsize.recurrent import recurrent_state

    return attention_kv_bytes(spec, context, dtype, batch=batch) + recurrent_state(spec, batch).total


def attention_kv_bytes(spec: ModelSpec, context: int, dtype: str = "bf16", *, batch: int = 1) -> int:
    """K and V of the attention layers only (what grows with the context; per token at context 1).

    Source: llama-kv-cache"""
    if context < 0 or batch <= 0:
        raise LlmsizeError(f"context must be >= 0 and batch > 0, got {context} and {batch}")
    k, v = kv_rows(spec)
    per = kv_row_bytes(dtype, k) + (kv_row_bytes(dtype, v) if v else 0)
    total = 0
    for i in range(spec.num_layers):
        if not spec.has_attention(i):
            continue
        tokens = context
        if spec.layer_type(i) == "sliding" and spec.sliding_window is not None:
            tokens = min(context, spec.sliding_window)
        total += tokens * per
    return batch * total
