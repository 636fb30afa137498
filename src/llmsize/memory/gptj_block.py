"""GPT-J's block, replayed: attention and MLP in parallel on one LayerNorm, its own attention code.

  h = ln(x); q, k, v = three projections; per layer the fp32 sinusoid buffer is repeated per
  position-id row (P x max_pos x d_rot), gathered at the positions and cast (P x q x d_rot); q and k are
  rotated on their first d_rot dims (sin and cos repeat_interleave'd per call, even/odd pairs via
  stack), then cat with the rest (the rotated parts and the projections stay bound to the end);
  scores in fp32 (q.float(), k.float(), matmul copies of the permuted layouts), / sqrt(d_h), + mask,
  softmax, cast back, P v (a copy of the permuted v), merge heads (a copy), out_proj;
  out = attn + mlp(h) + x. The attention weights reach the model loop, which keeps them into the next
  block.

Source: hf-gptj
"""
from __future__ import annotations

from llmsize.memory.alibi_block import contiguous_cache, prev_weights
from llmsize.memory.blocks import F32, Cx, act, act_kind, cast, dropout, layernorm, linear
from llmsize.memory.sim import Sim, Tn


def _rotate(g: Sim, cx: Cx, x: Tn, rot: int, tab: int) -> tuple[Tn, Tn]:
    """(rotated part, cat([rotated, pass])) of one projection x (T x d)."""
    T, c, nh = cx.T, cx.c, cx.spec.attention.num_heads
    sin, cos = g.new(tab), g.new(tab)  # repeat_interleave(sin / cos, 2): per call
    n = T * nh * rot
    t1 = g.new(n * c, x.rg)
    g.op((x,), (t1,), (cos,))
    neg = g.new(n // 2 * c, x.rg)
    g.op((x,), (neg,))
    st = g.new(n * c, x.rg)  # stack((-x2, x1)).flatten(-2)
    g.op((neg, x), (st,))
    g.drop(neg)
    t2 = g.new(n * c, x.rg)
    g.op((st,), (t2,), (sin,))
    g.drop(st)
    r = g.new(n * c, x.rg)
    g.op((t1, t2), (r,))
    g.drop(t1, t2, sin, cos)
    full = g.new(x.nb, x.rg)  # torch.cat([x_rot, x_pass], dim=-1)
    g.op((r, x), (full,))
    return r, full


def gptj_layer(g: Sim, cx: Cx, x: Tn, mask: Tn | None,
               old: tuple[Tn, Tn] | None) -> tuple[Tn, Tn | None, Tn | None]:
    """One GPT-J block on x (T x d): (output, cached keys, cached values).

    Source: hf-gptj"""
    s, a = cx.spec, cx.spec.attention
    b, q, T, c, d = cx.b, cx.q, cx.T, cx.c, s.hidden_size
    nh, hd = a.num_heads, a.head_dim
    rot = max(2, int(hd * s.rotary_fraction)) // 2 * 2
    t = s.traits
    prev = prev_weights(g, cx)
    h = layernorm(g, cx, x, d, cx.train_base, True)
    qp = linear(g, cx, h, d, d, t.leaf("attn_q"))
    kp = linear(g, cx, h, d, d, t.leaf("attn_k"))
    vp = linear(g, cx, h, d, d, t.leaf("attn_v"))
    rows = 1  # position ids are 1 x q (generate too)
    ep = g.new(rows * s.max_position_embeddings * rot * F32)  # embed_positions.repeat(rows, 1, 1)
    rpi = g.new(rows * q * rot * 8)
    g32 = g.new(rows * q * rot * F32)  # gather
    sincos = cast(g, g32, rows * q * rot * c)
    g.drop(g32)
    tab = rows * q * (rot // 2) * 2 * c
    kr, kf = _rotate(g, cx, kp, rot, tab)
    qr, qf = _rotate(g, cx, qp, rot, tab)
    ck = cv = None
    kvlen = cx.kv
    if cx.cache:
        ck, cv, kvlen, kk, vv = contiguous_cache(g, cx, old)
        g.drop(kf, vp)  # `key` and `value` rebound to the cache's tensors (k_pass still pins k_proj's output)
        kf = vp = None
    else:
        kk, vv = kf, vp
    sc = b * nh * q * kvlen
    q32 = cast(g, qf, T * d * F32)
    k32 = cast(g, kk, b * kvlen * d * F32)
    flat = b == 1
    qc = q32 if flat else g.new(q32.nb, q32.rg)  # matmul's reshape of the permuted layout: a copy
    if qc is not q32:
        g.op((q32,), (qc,))
    kc = k32 if flat or cx.cache else g.new(k32.nb, k32.rg)
    if kc is not k32:
        g.op((k32,), (kc,))
    s0 = g.new(sc * F32, True)
    g.op((qc, kc), (s0,), (qc if kc.rg else None, kc if qc.rg else None))
    g.drop(qc if qc is not q32 else None, kc if kc is not k32 else None)
    s1 = g.new(sc * F32, True)  # / scale_attn
    g.op((s0,), (s1,))
    g.drop(s0)
    if mask is not None:
        s2 = g.new(sc * F32, True)
        g.op((s1,), (s2,))
        g.drop(s1)
        s1 = s2
    sm = g.new(sc * F32, True)
    g.op((s1,), (sm,), (sm,))
    g.drop(s1)
    p = cast(g, sm, sc * c)
    g.drop(sm)
    p2 = dropout(g, cx, p, s.attention_dropout)
    vc = vv if flat or cx.cache else g.new(b * kvlen * d * c, vv.rg)
    if vc is not vv:
        g.op((vv,), (vc,))
    ctx = g.new(b * nh * q * hd * c, True)
    g.op((p2, vc), (ctx,), (p2 if vc.rg else None, vc if p2.rg else None))
    g.drop(vc if vc is not vv else None, q32, k32)
    merged = g.new(ctx.nb, True)
    g.op((ctx,), (merged,))
    g.drop(ctx)
    o = linear(g, cx, merged, d, d, t.leaf("attn_output"))
    g.drop(merged)
    ao = dropout(g, cx, o, s.hidden_dropout)
    g.drop(o, p2 if p2 is not p else None, kr, kf, qr, qf, qp, kp, vp, ep, rpi, sincos,
           kk if cx.cache else None, vv if cx.cache else None)
    keep_p = g.view(p)
    f = s.mlp.intermediate_size
    u = linear(g, cx, h, d, f, t.leaf("ffn_up"), True)
    ua = act(g, u, act_kind(s.mlp.activation))
    g.drop(u)
    m = linear(g, cx, ua, f, d, t.leaf("ffn_down"), True)
    g.drop(ua)
    md = dropout(g, cx, m, s.hidden_dropout)
    y = g.new(x.nb, True)  # attn_outputs + feed_forward_hidden_states
    g.op((ao, md), (y,))
    out = g.new(x.nb, True)  # + residual
    g.op((y, x), (out,))
    g.drop(y, ao, md, m, h, x, prev, p, keep_p)
    return out, ck, cv
