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
# ASSUMES: one cost per block type for every GPU of the CUDA and ROCm backends; types without a row that
#          is bound by it (Q4_0, Q5_0, Q8_0, Q4_K, Q6_K, other IQ types) add none there (their unpacking hides
#          under the read: Q4_K_M decode is within 10% of its bandwidth roofline on every NVIDIA card);
#          Metal's k-quant kernels cost more (METAL_DEQUANT_OPS below)
DEQUANT_OPS: dict[str, float] = {
    "Q2_K": 39.6,  # llamacpp-pr4766-rtx3090-llama7b-q2_k-tg128 (92.69 tokens/s)
    "Q3_K": 45.4,  # llamacpp-pr4766-rtx3090-llama7b-q3_k_s-tg128 (87.26 tokens/s)
    # IQ3_XXS: 3 bits as indices into a 256-entry grid of 4 values, sign bits and a scale per 32 weights;
    # llamacpp-rtx3090-llama8b-iq3_xxs-ub1-pp512 (135.27 tokens/s, CUDA graphs on), the mix's Q3_K tensors
    # taken at their own cost (its IQ2_S and IQ3_S tensors, 15% of the weights, at none)
    "IQ3_XXS": 38.0,
}

# Metal's mat-vec kernels (kernel_mul_mv_q4_K_f32 and its siblings) unpack each block to fp32 and multiply
# on the fp32 ALUs, where CUDA and ROCm multiply packed int8 with dp4a: the k-quants cost more there. Solved
# from xd-llama3-m1max-32c-llama38b-q4_k_m-tg512 (35.73 tokens/s: 7.5e9 Q4_K/Q6_K weights, 160 µs per layer)
# the lowest ALU rate against bandwidth of the Apple GPUs with rows (10.4 TFLOPS on 400 GB/s); its 70B
# row and tg4096, not used to solve it, then come within 3%.
# ASSUMES: Q5_K and Q6_K unpack at Q4_K's cost; Metal's Q2_K, Q3_K and IQ3_XXS at CUDA's (no Metal rows)
METAL_DEQUANT_OPS: dict[str, float] = {**DEQUANT_OPS, "Q4_K": 31.7, "Q5_K": 31.7, "Q6_K": 31.7}
BACKEND_OPS = {"cuda": DEQUANT_OPS, "metal": METAL_DEQUANT_OPS}

_LOOKUPS = ("token_embd", "pos_embd")


@lru_cache(maxsize=256)
def dequant_ops(spec: ModelSpec, weights: str, backend: str = "cuda") -> float:
    """ALU operations one decode step spends unpacking the quantized weights it reads (the matmul
    tensors; an untied input embedding is a one-row lookup and adds none), on llama.cpp's ``cuda`` (also
    ROCm's) or ``metal`` kernels.

    O = Σ_tensors params · k_backend(type)

    Source: llamacpp-dequant"""
    from llmsize.quant.formats import weight_plan

    ops = BACKEND_OPS[backend]
    total = 0.0
    for t in weight_plan(spec, weights).tensors:
        k = ops.get(t.format.upper())
        if not k or (t.role in _LOOKUPS and not (t.role == "token_embd" and spec.tie_word_embeddings)):
            continue
        total += t.params * k
    return total
