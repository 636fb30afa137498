"""Unpacking work of llama.cpp's quantized matrix-vector (decode) kernels, per GGUF block type.

A decode step's mat-vec kernel (CUDA/ROCm mmvq + vecdotq.cuh, Metal mul_mv) unpacks every weight it reads
from its block (bit fields, scales, mins, grid lookups) on the GPU's vector ALUs. For the cheap types
(Q4_0, Q8_0) that work hides under the memory read; for the K-quants with small sub-blocks (Q2_K, Q3_K:
16 weights per scale, 2-3 bit fields split over two arrays) it does not on cards whose ALU rate is low
against their bandwidth: Q2_K/Q3_K_S decode of a 7B on an RTX 3090 ran at 93/87 tokens/s in January 2024
(llama.cpp PR 4766) when Q4_0 ran at 133, although they read a third less.

t_deq = Σ_types N_type · k_type / X_alu   (X_alu the GPU's fp32 peak; a step costs max(t_mem, t_comp, t_deq))

Source: llamacpp-dequant
"""
from __future__ import annotations

from functools import lru_cache

from llmsize.spec import ModelSpec

# fp32-equivalent ALU operations a mat-vec kernel spends per weight of each block type, solved from the
# published decode rows named (k = (1/measured − L·t_layer) · X_fp32 / N_type, the rows' median):
# ASSUMES: one cost per block type for every GPU and backend (CUDA, ROCm, Metal); types without a row
#          that is bound by it (Q4_0, Q5_0, Q8_0, Q4_K, Q6_K, other IQ types) add none (their unpacking hides under the
#          read: Q4_K_M decode is within 10% of its bandwidth roofline on every NVIDIA card, M2 Ultra and M3
#          Max; the M1 Max's Q4_K_M rows, 40-58% slower, would need 40 ops per Q4_K weight, which moves the
#          RTX 3080's and the M2 Ultra 70B's rows by -15 to -20%, so Q4_K has none)
DEQUANT_OPS: dict[str, float] = {
    "Q2_K": 39.6,  # llamacpp-pr4766-rtx3090-llama7b-q2_k-tg128 (92.69 tokens/s)
    "Q3_K": 45.4,  # llamacpp-pr4766-rtx3090-llama7b-q3_k_s-tg128 (87.26 tokens/s)
    # IQ3_XXS: 3 bits as indices into a 256-entry grid of 4 values, sign bits and a scale per 32 weights;
    # llamacpp-rtx3090-llama8b-iq3_xxs-ub1-pp512 (135.27 tokens/s, CUDA graphs on), the mix's Q3_K tensors
    # taken at their own cost (its IQ2_S and IQ3_S tensors, 15% of the weights, at none)
    "IQ3_XXS": 32.0,
}

_LOOKUPS = ("token_embd", "pos_embd")


@lru_cache(maxsize=256)
def dequant_ops(spec: ModelSpec, weights: str) -> float:
    """ALU operations one decode step spends unpacking the quantized weights it reads (the matmul
    tensors; an untied input embedding is a one-row lookup and adds none).

    O = Σ_tensors params · k(type)

    Source: llamacpp-dequant"""
    from llmsize.quant.formats import weight_plan

    total = 0.0
    for t in weight_plan(spec, weights).tensors:
        k = DEQUANT_OPS.get(t.format.upper())
        if not k or (t.role in _LOOKUPS and not (t.role == "token_embd" and spec.tie_word_embeddings)):
            continue
        total += t.params * k
    return total
