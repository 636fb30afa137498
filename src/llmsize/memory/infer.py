"""Inference: the live set at each point of a no-grad forward, a prefill and the last decode step.

  forward, layer i:   W + held + working set of layer i
  head:               W + last hidden state + logits (b x s x V, the dtype of the weights)
  prefill, layer i:   W + held + K,V of layers < i + working set of layer i (its own K,V appended)
  decode, layer i:    W + previous logits + K,V of every layer + torch.cat copy of one layer's K or V
The KV cache of layer l holds b x len x n_kv x (d_h + d_v) elements; len = prompt + generated - 1 at
the last step, window - 1 + new tokens for a sliding layer.

Source: hf-cache
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.memory.blocks import Cx
from llmsize.memory.regions import kinds, layer_regions, run_embed, run_head
from llmsize.memory.masks import mask_bytes
from llmsize.memory.train import Point, best_by_phase, x_bytes
from llmsize.recurrent import recurrent_state
from llmsize.spec import ModelSpec


def forward_points(spec: ModelSpec, cx: Cx, W: int, phase: str = "forward", extra: int = 0,
                   mode: str = "forward", state: int = 0) -> tuple[list[Point], int]:
    """Points of one no-grad forward over T = b x q tokens. `extra`: bytes live throughout (previous
    logits, the old KV cache); `state`: the recurrent state already cached (state-space layers, updated
    in place). Returns (points, KV bytes appended by the whole forward)."""
    e_peak, x0, held, _, x0_is_e = run_embed(cx)
    masks = mask_bytes(spec, cx)
    fixed = {"weights": W}
    pts = [Point(phase, {**fixed, "kv": extra, "state": state}, "embedding", e_peak)]
    kv_new = 0
    regs = layer_regions(cx, False, False)
    olds: dict[int, int] = {}
    best = (-1, 0, 0, 0, 0, 0)  # (total, layer, kv, held, work, state): only the largest layer becomes a Point
    X = x_bytes(cx)
    for i, (lcx, moe) in enumerate(kinds(spec, cx)):
        r = regs[i]
        hold = held + (X if i and x0_is_e else 0) + masks
        old = olds.get(id(lcx))
        if old is None:
            old = olds[id(lcx)] = _old_kv(spec, lcx) if cx.cache else 0
        kv = extra - old + kv_new
        t = W + kv + state + hold + r.fw_peak
        if t > best[0]:
            best = (t, i, kv, hold, r.fw_peak, state)
        kv_new += r.kept - old
        state += r.kept_state  # a prefill leaves a state-space layer's conv and SSM state in the cache
    if best[0] >= 0:
        pts.append(Point(phase, {**fixed, "kv": best[2], "held": best[3], "state": best[5]}, f"layer {best[1]}",
                         best[4]))
    h = run_head(cx, mode, False)
    hold = held + (x_bytes(cx) if x0_is_e else 0) + masks
    pts.append(Point(phase, {**fixed, "kv": extra + kv_new, "state": state}, "final norm and LM head",
                     max(h.pre_peak + hold, h.fw_peak)))
    return pts, kv_new


def _old_kv(spec: ModelSpec, cx: Cx) -> int:
    """K and V of one layer before this step's append."""
    if cx.mixer == "ssm":  # no K, V (its recurrent state is updated in place, never re-allocated)
        return 0
    a = spec.attention
    n = cx.cache_len
    if cx.sliding and spec.sliding_window:  # storage of the last cat: w - 1 kept + 1 new
        n = min(n, spec.sliding_window)
    return cx.b * n * spec.cache_kv_heads * (a.head_dim + a.v_dim) * (cx.kv_bytes or cx.c)


def generate_points(spec: ModelSpec, cx: Cx, W: int, new_tokens: int) -> dict[str, Point]:
    """Prefill of the prompt (logits of the last token only), then the last decode step."""
    pre, kv = forward_points(spec, cx, W, "prefill", 0, "generate")
    pts = list(pre)
    if new_tokens > 1:
        s = cx.q
        dcx = replace(cx, q=1, kv=s + new_tokens - 1, cache_len=s + new_tokens - 2)
        per = {id(lcx): _old_kv(spec, lcx) for lcx, _ in kinds(spec, dcx)}
        old = sum(per[id(lcx)] for lcx, _ in kinds(spec, dcx))
        prev_logits = cx.b * spec.vocab_size * cx.c
        dec, _ = forward_points(spec, dcx, W, "decode", old, "generate", recurrent_state(spec, cx.b, cx.c).total)
        for p in dec:
            p.parts["held"] = p.parts.get("held", 0) + prev_logits
            p.total += prev_logits
        pts.extend(dec)
    return best_by_phase(pts)
