"""Encoder-decoder (T5) workloads: the live set at each point, from one replay of the whole model
(llmsize.memory.t5) per step.

  train:     W + M + G_prev + forward replay (encoder, decoder, head, loss; saved activations grow)
             W + M + backward replay (saved activations released, gradients of the parameters made)
             W + G + M + optimizer step temporaries
  forward:   W + replay of the no-grad forward (encoder over s, decoder over s, all b x s logits)
  generate:  prefill: W + encoder over the s-token prompt, then the first decoder step (cross K,V made)
             decode:  W + encoder output + cross K,V (fixed) + self K,V of new_tokens - 1 tokens
                      + previous logits + the step's working set (its K,V appended by torch.cat)
The KV cache of one decoder layer: self 2·b·n·n_h·d_kv·w after n steps; cross 2·b·s·n_h·d_kv·w.

Source: hf-t5
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.memory.blocks import Cx
from llmsize.memory.t5 import _Sim, head, stack
from llmsize.memory.train import Point, best_by_phase
from llmsize.spec import ModelSpec

I64 = 8


def _model(g: _Sim, cx: Cx, loss: bool):
    """Encoder over s tokens, decoder over s tokens (train: labels shifted right, a new b x s int64 id
    tensor), head. Returns the loss or the logits."""
    s = cx.spec
    enc, _ = stack(g, cx, s.num_layers)
    ids = None
    if loss:  # _shift_right: new_zeros, a clone of labels[..., :-1], the == -100 mask
        ids = g.new(cx.T * I64)
        tmp = g.new(cx.b * (cx.q - 1) * I64)
        eq = g.new(cx.T)
        g.drop(tmp, eq)
    dec, _ = stack(g, cx, s.decoder_layers, (cx, enc))
    g.drop(ids)
    out = head(g, cx, dec, loss)
    g.drop(enc, dec)  # encoder_outputs and decoder_outputs hold them until the forward returns
    return out


def train_points(spec: ModelSpec, cx: Cx, *, W: int, M: int, G_total: int, G_prev: int,
                 step_temp: int) -> dict[str, Point]:
    """Forward, backward and optimizer-step points of one training step (iteration two: optimizer states
    exist, gradients were set to None; with accumulation G_prev gradients exist throughout)."""
    g = _Sim(grad=True)
    loss = _model(g, cx, True)
    fw_peak, fw_act = g.peak, g.fw_act
    fixed = {"weights": W, "optimizer": M, "gradients": G_prev}
    pts = [Point("forward", {**fixed, "activations": fw_act}, "encoder-decoder forward", fw_peak - fw_act)]
    g.drop(loss)
    saved = g.live
    peak, _, _ = g.backward(loss, saved + loss.nb, saved)
    # ASSUMES: with accumulation the new gradients are summed into the existing ones in place (AccumulateGrad)
    grads = G_prev if G_prev else g.peak_pgrad
    pts.append(Point("backward", {**fixed, "gradients": grads, "activations": g.peak_act},
                     "encoder-decoder backward", peak - g.peak_pgrad - g.peak_act))
    pts.append(Point("optimizer step", {"weights": W, "optimizer": M, "gradients": G_total}, "optimizer step",
                     step_temp))
    return best_by_phase(pts)


def forward_points(spec: ModelSpec, cx: Cx, W: int) -> dict[str, Point]:
    """One no-grad forward: encoder and decoder over s tokens, all b x s logits."""
    g = _Sim(grad=False)
    _model(g, cx, False)
    return best_by_phase([Point("forward", {"weights": W}, "encoder-decoder forward", g.peak)])


def generate_points(spec: ModelSpec, cx: Cx, W: int, new_tokens: int) -> dict[str, Point]:
    """Prefill (the encoder, then the first decoder step) and the last decode step."""
    s = cx.spec
    L = s.decoder_layers
    g = _Sim(grad=False)
    cx = replace(cx, cache=False)  # the encoder keeps no cache
    enc, _ = stack(g, cx, s.num_layers)
    dcx = replace(cx, q=1, cache=True, cache_len=0)
    dec, caches = stack(g, dcx, L, (cx, enc))
    g.drop(dec)
    pts = [Point("prefill", {"weights": W}, "encoder and first decoder step", g.peak)]
    if new_tokens > 1:
        n = new_tokens - 1  # self K,V already cached before the last step
        kb = cx.kv_bytes or cx.w
        per = cx.b * s.attention.num_heads * s.attention.head_dim * kb
        g = _Sim(grad=False)
        e = g.external(enc.nb, held=True)
        logits_prev = cx.b * s.vocab_size * cx.w
        g.external(logits_prev, held=True)
        cross = [(g.external(per * cx.q, held=True), g.external(per * cx.q, held=True)) for _ in range(L)]
        olds = [(g.external(per * n), g.external(per * n)) for _ in range(L)]
        base = g.live
        dcx = replace(cx, q=1, cache=True, cache_len=n)
        dec, _ = stack(g, dcx, L, (cx, e), [(olds[i], cross[i]) for i in range(L)])
        kv = 2 * L * per * (cx.q + n)  # cross (fixed) + self before the step's append
        pts.append(Point("decode", {"weights": W, "kv": kv, "held": enc.nb + logits_prev}, "last decode step",
                         g.peak - base))
    return best_by_phase(pts)


def points(spec: ModelSpec, cx: Cx, wl, W: int, om, grads: int) -> dict[str, Point]:
    """The peak point of each phase of the workload `wl` (train, forward or generate); `grads`: bytes of
    all trainable parameters' gradients."""
    if wl.mode == "train":
        return train_points(spec, cx, W=W, M=om.states, G_total=grads, G_prev=grads if wl.grad_accumulation > 1 else 0,
                            step_temp=om.step_temp)
    if wl.mode == "forward":
        return forward_points(spec, cx, W)
    return generate_points(spec, cx, W, wl.new_tokens)
