"""Optimizer states and the temporaries of one step.

Source: loshchilov2019
"""
from __future__ import annotations

from dataclasses import dataclass

from llmsize.memory.weights import Weights


@dataclass(frozen=True, slots=True)
class OptMem:
    states: int  # persistent bytes
    step_temp: int  # extra bytes live during step()
    formula: str
    temp_formula: str
    source: str


def optimizer_memory(opt: str, wt: Weights) -> OptMem:
    """States kept between steps and the step's temporaries, for N trainable params of s bytes each
    (s = the trainable parameters' dtype: torch keeps states in the parameter dtype), n tensors.

    AdamW/Adam (torch, foreach):  M = 2 N s + 4 n ;  step temp = N s (_foreach_sqrt(exp_avg_sq))
    SGD momentum (foreach):       M = N s (momentum buffer);  step temp = 0
    SGD:                          M = 0
    Lion:                         M = N s ;  temp = 2 x largest tensor (clone + update)
    Adafactor (factored, HF):     M ~ sum over matrices (rows + cols) s + vectors N_v s ;  temp = 3 x largest x 4
    8-bit AdamW (bitsandbytes):   M = 2 N (1 + 4/256) (blockwise absmax per 256) ;  temp = 0 (fused kernel)
    paged AdamW (bitsandbytes):   M = 2 N 4 (32-bit states in paged memory) ;  paged 8-bit: as 8-bit

    Source: loshchilov2019"""
    n, nt = wt.trainable, wt.trainable_tensors
    s = wt.trainable_bytes // n if n else 2
    if opt in ("adamw", "adam"):  # states in each parameter's dtype: 2 x the trainable bytes
        return OptMem(2 * wt.trainable_bytes + 4 * nt, n * s, "2·N·s + 4·n_tensors (exp_avg, exp_avg_sq, fp32 step)",
                      "N·s (foreach sqrt of exp_avg_sq)", "loshchilov2019")
    if opt == "sgd-momentum":
        return OptMem(wt.trainable_bytes, 0, "N·s (momentum buffer)", "0", "pytorch-optim")
    if opt == "sgd":
        return OptMem(0, 0, "0", "0", "pytorch-optim")
    if opt == "lion":
        return OptMem(n * s, 2 * wt.largest * s, "N·s (exp_avg)", "2·largest tensor·s", "chen2023-lion")
    if opt == "adafactor":
        # ASSUMES: ~ 2·sqrt(N) per matrix is negligible: factored second moment ~ N / 256 of the states
        return OptMem(max(1, n // 256) * s + 4 * nt, 3 * wt.largest * 4,
                      "Σ_matrices (rows + cols)·s ≈ N·s/256", "3·largest tensor·4 (fp32 update)", "shazeer2018")
    if opt in ("adamw-8bit", "paged-adamw-8bit"):
        return OptMem(2 * n + 2 * (n // 256) * 4 + 4 * nt, 0, "2·N·1 + 2·(N/256)·4 (blockwise absmax)", "0",
                      "dettmers2022")
    if opt == "paged-adamw":
        return OptMem(2 * n * 4 + 4 * nt, 0, "2·N·4 (fp32 states, paged)", "0", "dettmers2022")
    return OptMem(0, 0, "0", "0", "pytorch-optim")
