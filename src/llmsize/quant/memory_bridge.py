"""Inference memory of a quantized model through llmsize.memory, fed the exact weight bytes.

llmsize.memory replays transformers' generate (prefill of the whole context, then decode) and
counts its KV cache in bf16/fp16/fp32/fp8; llama.cpp's block KV types (q8_0, q4_0, ...) are applied
here to the cache it counts: the same cached values, at block_bytes per 32.
"""
from __future__ import annotations

from fractions import Fraction

from llmsize.memory import Workload, estimate
from llmsize.memory.workload import KV_DTYPE_BYTES
from llmsize.quant.kv import kv_bytes_per_element, kv_rows, kv_row_bytes
from llmsize.recurrent import STATE_TERM
from llmsize.quant.weights import WeightPlan
from llmsize.spec import ModelSpec

# formats whose runtime (transformers + bitsandbytes) dequantizes a whole weight to 16-bit per matmul
_DEQUANTIZING = ("nf4", "fp4")


def inference_bytes(spec: ModelSpec, plan: WeightPlan, context: int, kv: str, batch: int
                    ) -> tuple[int, int, int | None, tuple[str, ...]]:
    """(total bytes, KV bytes in that total, bytes beyond weights and KV, notes) at the prefill/decode
    peak of `batch` sequences of `context` tokens.

    M = estimate(spec, generate(b, s), weights = exact plan bytes).peak, KV rescaled to the block type

    Source: llama-kv-cache"""
    native = kv in KV_DTYPE_BYTES
    wl = Workload(mode="generate", batch=batch, seq_len=context, new_tokens=1,
                  kv_cache_dtype=kv.split("_")[0] if native or kv.startswith("fp8") else "bf16")
    bits = float(plan.bits_per_weight) if plan.format.startswith(_DEQUANTIZING) else None
    est = estimate(spec, wl, weights_bytes_override=plan.bytes, weight_bits=bits)
    # the K/V only is rescaled: a recurrent state (state-space layers) keeps its own dtypes whatever the KV type
    state = sum(t.bytes for t in est.terms if t.name == STATE_TERM)
    kv_term = sum(t.bytes for t in est.terms if t.category == "kv_cache") - state
    total = est.peak_bytes
    notes = ["total = llmsize.memory's peak for transformers-style generate (the whole context prefilled at "
             "once), with these exact weight bytes"]
    if not native and not kv.startswith("fp8"):
        k, v = kv_rows(spec)
        kv_row_bytes(kv, k)  # refuses rows that are not whole blocks
        if v:
            kv_row_bytes(kv, v)
        scaled = Fraction(kv_term, 2) * kv_bytes_per_element(kv)
        new_kv = int(scaled) if scaled.denominator == 1 else -(-scaled.numerator // scaled.denominator)
        total += new_kv - kv_term
        kv_term = new_kv
        notes.append(f"KV cache in {kv} blocks: the bf16 cache llmsize.memory counts, at "
                     f"{kv_bytes_per_element(kv)} bytes per value")
    kv_term += state  # reported with the KV cache: it is what the cache holds besides K and V
    other = total - plan.bytes - kv_term
    if spec.attention.mla and not spec.traits.mla_expanded_serving:
        notes.append("MLA: transformers caches decompressed K and V per head (counted in total); vLLM, SGLang "
                     "and llama.cpp cache the r_kv + d_rope latent, which the decode speed uses")
    return total, kv_term, other, tuple(notes)
