"""Per-rank peak of tensor-parallel training (Hugging Face `base_model_tp_plan` through DTensor
`parallelize_module`): each rank replays the same model with its local shapes.

ColwiseParallel q/k/v/gate/up and RowwiseParallel o/down leave every rank a decoder layer with
n_h/t query heads, n_kv/t KV heads and an FFN of f/t; embeddings, norms and the LM head stay
replicated. The single-device replay of that local model (`train_points`) is the rank's live set:
  peak = W_local + M_local + G_local + saved activations(local shapes) + working set
The optimizer step runs one AdamW over the DTensor parameters and one over the plain (replicated)
ones (a single foreach AdamW refuses the mix), so its temporaries are those of the larger group.

Source: pytorch-tp
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from llmsize.errors import LlmsizeError
from llmsize.memory.estimate import context
from llmsize.memory.fsdp import LOSS_BYTES, RankPeak
from llmsize.memory.optimizer import optimizer_memory
from llmsize.memory.train import train_points
from llmsize.memory.weights import weights
from llmsize.memory.workload import Workload
from llmsize.spec import ModelSpec
from llmsize.tensors import tensors


@lru_cache(maxsize=256)
def tp_spec(spec: ModelSpec, t: int) -> ModelSpec:
    """The model one of `t` TP ranks runs: heads, KV heads and FFN width divided by t.

    Source: pytorch-tp"""
    a, f = spec.attention, spec.mlp.intermediate_size
    if not isinstance(t, int) or isinstance(t, bool) or t < 1:
        raise LlmsizeError(f"TP must be a positive integer, got {t!r}")
    if spec.moe is not None or a.mla or a.fused_qkv or spec.mlp.fused_gate_up or spec.vision is not None:
        raise LlmsizeError(f"{spec.name}: the TP replay covers separate q/k/v and gate/up projections without "
                           f"experts, MLA or a vision tower")
    bad = [f"{n} ({v})" for n, v in (("attention heads", a.num_heads), ("KV heads", a.num_kv_heads), ("FFN", f))
           if v % t]
    if bad:
        raise LlmsizeError(f"{spec.name}: TP {t} must divide " + ", ".join(bad))
    return replace(spec, attention=replace(a, num_heads=a.num_heads // t, num_kv_heads=a.num_kv_heads // t),
                   mlp=replace(spec.mlp, intermediate_size=f // t))


def tp_peak(spec: ModelSpec, wl: Workload, t: int, rank: int = 0, *, input_ids: bool = True) -> RankPeak:
    """Peak bytes of one TP rank training `wl` (`input_ids`: count the b·s·8 input ids, which the
    measured TP cases do not track).

    Source: pytorch-tp"""
    if wl.mode != "train" or wl.lora is not None:
        raise LlmsizeError("the TP replay covers full fine-tuning (mode train, no LoRA)")
    if not 0 <= rank < t:
        raise LlmsizeError(f"rank must be 0 to {t - 1}, got {rank!r}")
    local = tp_spec(spec, t)
    cx = context(local, wl)
    wt = weights(local, wl)
    om = optimizer_memory(wl.opt, wt)
    s = wl.w_bytes
    # replicated (plain) parameters: outside the layers, and the layers' norms (1-D, not a linear's bias)
    plain = sum(x.numel for x in tensors(local) if not x.buffer and (
        x.layer is None or (len(x.shape) == 1 and not x.role.endswith(".bias"))))
    step_temp = om.step_temp
    if wl.opt in ("adamw", "adam") and t > 1:  # one foreach sqrt per optimizer, the larger group's
        step_temp = max(plain, wt.trainable - plain) * s
    g_prev = wt.trainable_bytes if wl.grad_accumulation > 1 else 0
    best = train_points(local, cx, W=wt.total_bytes + wt.buffers, M=om.states, G_total=wt.trainable_bytes,
                        G_prev=g_prev, step_temp=step_temp, gc=wl.grad_checkpointing, x0_rg=True,
                        tied=local.tie_word_embeddings)
    ids = wl.batch * wl.seq_len * 8 if input_ids else 0
    phases = {k: v.total + ids + (LOSS_BYTES if k == "optimizer step" else 0) for k, v in best.items()}
    peak = max(best.values(), key=lambda p: phases[p.phase])
    parts = {**peak.parts, "working set": peak.work, "input ids": ids}
    if peak.phase == "optimizer step":
        parts["loss"] = LOSS_BYTES
    return RankPeak(peak_bytes=phases[peak.phase], phase=peak.phase, where=peak.where, rank=rank,
                    parts=tuple((k, v) for k, v in parts.items() if v), phases=phases)
