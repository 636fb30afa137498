"""Training: the live set at each point of forward, backward and the optimizer step.

Iteration two of the loop (optimizer states exist, gradients were set to None):
  forward, layer i:    W + M + A_{<i} + held + working set of layer i
  loss:                W + M + A_all + working set of the head (bf16 and fp32 logits, log-softmax)
  loss backward:       W + M + A_all + saved_head + fp32 gradients of the logits
  backward, layer i:   W + M + A_{<i} + G_head + G_{>i} + backward working set of layer i (its saved set)
  embedding backward:  W + M + G_all + dense embedding gradient (+ the sum when tied)
  optimizer step:      W + G + M + step temporaries
With checkpointing A_{<i} holds only layer inputs and layer i is recomputed inside its backward.

Source: korthikanti2022
"""
from __future__ import annotations

from dataclasses import dataclass, field

from llmsize.memory.blocks import Cx
from llmsize.memory.layers import position_tables
from llmsize.memory.masks import mask_bytes
from llmsize.memory.regions import Region, layer_regions, run_embed, run_head
from llmsize.spec import ModelSpec


@dataclass(slots=True)
class Point:
    """A moment of the run: live bytes by component key; `work` is the working set of `where`."""

    phase: str
    parts: dict[str, int]
    where: str
    work: int = 0
    total: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.total = sum(self.parts.values()) + self.work


def best_by_phase(points: list[Point]) -> dict[str, Point]:
    out: dict[str, Point] = {}
    for p in points:
        if p.phase not in out or p.total > out[p.phase].total:
            out[p.phase] = p
    return out


def x_bytes(cx: Cx) -> int:
    """One hidden-state tensor: T x d x w."""
    return cx.T * cx.spec.hidden_size * cx.w


def train_points(spec: ModelSpec, cx: Cx, *, W: int, M: int, G_total: int, G_prev: int, step_temp: int,
                 gc: bool, x0_rg: bool, tied: bool) -> dict[str, Point]:
    """The peak point of each training phase (see the module docstring for the live sets).

    W weights (+ adapters, buffers), M optimizer states, G_total all gradients, G_prev gradients
    already live from earlier micro-batches, step_temp the optimizer step's temporaries."""
    e_peak, x0, held, e_saved, x0_is_e = run_embed(cx, x0_rg)
    regs = layer_regions(cx, x0_rg, True)
    recs = layer_regions(cx, x0_rg, False) if gc else []
    hreg = run_head(cx, "train", True)
    fixed = {"weights": W, "optimizer": M, "gradients": G_prev}
    leak = 0
    if cx.lora and gc:
        # enable_input_require_grads makes the frozen embedding's output E a leaf that requires grad:
        # E.grad (T d w) is kept after backward, and in the measured runs the previous step's E and
        # E.grad are still alive (held by hook closures until Python's cyclic GC runs), as is this
        # step's E where it is not the first layer's input itself (GPT-2, OPT, Gemma).
        leak = 2 * x_bytes(cx) + (0 if x0_is_e and not spec.traits.embed_scale_in_body else x_bytes(cx))
        fixed["held"] = leak
    pts = [Point("forward", dict(fixed), "embedding", e_peak)]
    X = x_bytes(cx)
    # rotary cos/sin: saved by every layer's rotary products (unless each layer makes its own copies:
    # GLM-4, ERNIE 4.5); an ALiBi bias is added, which saves nothing: held by the body only
    own = spec.traits.rope_tables_per_call or spec.traits.rope_interleaved_fp32
    tables = 0 if own or spec.position == "alibi" else position_tables(cx)
    masks = mask_bytes(spec, cx)  # materialised attention masks: inputs of every checkpointed layer
    kept = gc or spec.traits.mask_saved  # (MPT's masked_fill saves the mask for its backward)
    acc = e_saved + tables + (masks if kept else 0)
    e_held = held - tables + (0 if kept else masks)
    head_hold = e_held + (X if x0_is_e and not (gc or regs[0].in_saved) else 0)  # the final norm runs in the body
    # each layer's input: X, or the previous layer's output where it differs (Mamba-2's fp32 residual)
    xin = [X] + [r.out for r in regs[:-1]]
    best = (-1, 0, 0, 0, 0)  # only the largest layer of each phase becomes a Point
    for i, r in enumerate(regs):
        hold = e_held + (X if i and x0_is_e and not (gc or regs[0].in_saved) else 0) + leak
        work = recs[i].fw_peak if gc else r.fw_peak
        t = W + M + G_prev + acc + hold + work
        if t > best[0]:
            best = (t, i, acc, hold, work)
        acc += xin[i] if gc else r.saved
    if best[0] >= 0:
        pts.append(Point("forward", {**fixed, "activations": best[2], "held": best[3]}, f"layer {best[1]} forward",
                         best[4]))
    pts.append(Point("forward", {**fixed, "activations": acc}, "final norm, LM head and loss",
                     max(hreg.pre_peak + head_hold, hreg.fw_peak)))
    A = acc
    pts.append(Point("backward", {**fixed, "activations": A}, "loss backward", hreg.bw_peak))
    # With accumulation every .grad already exists: AccumulateGrad adds each new gradient into it in
    # place and frees the new one, so the live gradients stay at G_prev (the new ones are transient,
    # inside each region's backward working set) instead of growing layer by layer.
    # ASSUMES: dense gradients accumulated in place (torch.autograd AccumulateGrad, no grad hooks).
    grow = 0 if G_prev else 1
    g = G_prev + grow * hreg.pgrad
    best = (-1, 0, 0, 0, 0)
    for i in range(len(regs) - 1, -1, -1):
        r = regs[i]
        A -= xin[i] if gc else r.saved
        if gc:  # recompute layer i (input held by the checkpoint, output gradient live), then backward
            work = max(r.fw_peak + r.out, r.bw_peak + (0 if r.in_saved else xin[i]))
        else:
            work = r.bw_peak
        t = W + M + leak + g + A + work
        if t > best[0]:
            best = (t, i, g, A, work)
        g += grow * r.pgrad
    if best[0] >= 0:
        pts.append(Point("backward", {**fixed, "gradients": best[2], "activations": best[3]},
                         f"layer {best[1]} backward", best[4]))
    if cx.train_base and spec.traits.embed_norm:  # BERT: LayerNorm, then position, type and word tables
        from llmsize.memory.encoder import embed_backward
        pts.append(Point("backward", {**fixed, "gradients": g}, "embedding backward", embed_backward(cx)))
    elif cx.train_base:  # dense embedding gradient; a tied weight sums it with the head's into a new tensor
        emb = spec.vocab_size * spec.word_embed_dim * cx.w
        # learned positions: their table's dense gradient is made first (the later node of the sum runs first)
        pos = (spec.max_position_embeddings + spec.position_offset) * spec.hidden_size * cx.w \
            if spec.position == "learned" else 0
        # the token table's dense gradient beside the incoming one (X); tied: summed with the head's into a new
        # tensor after the incoming gradient is released
        pts.append(Point("backward", {**fixed, "gradients": g}, "embedding backward",
                         pos + (max(X + emb, 2 * emb) if tied else X + emb)))
    pts.append(Point("optimizer step", {"weights": W, "optimizer": M, "gradients": G_total,
                                        "held": 4 * x_bytes(cx) if leak else 0}, "optimizer step", step_temp))
    return best_by_phase(pts)

