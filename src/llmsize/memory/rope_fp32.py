"""Rotary on even/odd pairs in fp32. Ernie 4.5's ("glm rope style with full dim and full precision"):
cos and sin interleaved by repeat_interleave (fp32, 1 x q x d_h each, made per call), q.float() * cos
+ rotate_half(q).float() * sin with rotate_half = stack((-x2, x1)).flatten (even/odd pairs); both
embeddings cast back on return.
Cohere's casts q and k to fp32 first (`rope_float_first`).

Source: hf-ernie4_5
"""
from __future__ import annotations

from llmsize.memory.blocks import F32, Cx, cast
from llmsize.memory.sim import Sim, Tn


def _one(g: Sim, x: Tn, n: int, xb: int, cs: tuple[Tn, Tn] | None = None) -> Tn:
    """x.float() * cos + rotate_half(x).float() * sin; the products save the per-call cos and sin
    (`cs`, fp32 1 x q x d_h each) when x needs a gradient."""
    cos, sin = cs or (None, None)
    xf = g.new(n * F32, x.rg)  # x.float()
    g.op((x,), (xf,))
    t1 = g.new(n * F32, x.rg)  # * cos
    g.op((xf,), (t1,), (cos,))
    g.drop(xf)
    neg = g.new(n // 2 * xb, x.rg)  # -x2
    g.op((x,), (neg,))
    rh = g.new(n * xb, x.rg)  # stack((-x2, x1)).flatten(-2)
    g.op((neg, x), (rh,))
    g.drop(neg)
    rf = g.new(n * F32, x.rg)  # .float()
    g.op((rh,), (rf,))
    g.drop(rh)
    t2 = g.new(n * F32, x.rg)  # * sin
    g.op((rf,), (t2,), (sin,))
    g.drop(rf)
    e = g.new(n * F32, x.rg)
    g.op((t1, t2), (e,))
    g.drop(t1, t2)
    return e


def rope_interleaved_fp32(g: Sim, cx: Cx, q: Tn, k: Tn) -> tuple[Tn, Tn]:
    """(q_embed, k_embed) in q's dtype; q and k are (b, n, q, d_h) views of the projections."""
    a, T = cx.spec.attention, cx.T
    nq, nk = T * a.num_heads * a.head_dim, T * a.num_kv_heads * a.head_dim
    xb = q.nb // nq
    cs = (g.new(cx.q * a.head_dim * F32), g.new(cx.q * a.head_dim * F32))  # repeat_interleave'd cos, sin
    qe = _one(g, q, nq, xb, cs)
    ke = _one(g, k, nk, xb, cs)
    g.drop(*cs)
    q2 = cast(g, qe, nq * xb)
    g.drop(qe)
    k2 = cast(g, ke, nk * xb)
    g.drop(ke)
    return q2, k2


def rope_float_first(g: Sim, cx: Cx, q: Tn, k: Tn) -> tuple[Tn, Tn]:
    """Cohere: q = q.float(); k = k.float() (both bound to the end), then q * cos + rotate_half(q) * sin
    in fp32 with rotate_half = stack((-x2, x1)).flatten on even/odd pairs; the model-level cos/sin are
    in the compute dtype (counted once by the caller); both embeddings cast back on return.

    Source: hf-cohere"""
    a, T = cx.spec.attention, cx.T
    nq, nk = T * a.num_heads * a.head_dim, T * a.num_kv_heads * a.head_dim
    xb = q.nb // nq
    qf, kf = cast(g, q, nq * F32), cast(g, k, nk * F32)
    out = []
    for xf, n in ((qf, nq), (kf, nk)):
        t1 = g.new(n * F32, xf.rg)  # * cos
        g.op((xf,), (t1,))
        neg = g.new(n // 2 * F32, xf.rg)  # -x2
        g.op((xf,), (neg,))
        rh = g.new(n * F32, xf.rg)  # stack((-x2, x1)).flatten(-2)
        g.op((neg, xf), (rh,))
        g.drop(neg)
        t2 = g.new(n * F32, xf.rg)  # * sin
        g.op((rh,), (t2,))
        g.drop(rh)
        e = g.new(n * F32, xf.rg)
        g.op((t1, t2), (e,))
        g.drop(t1, t2)
        out.append(e)
    q2 = cast(g, out[0], nq * xb)
    k2 = cast(g, out[1], nk * xb)
    g.drop(*out, qf, kf)
    return q2, k2


def _upcast_one(g: Sim, x: Tn, n: int) -> Tn:
    xf = g.new(n * F32, x.rg)  # x.float()
    g.op((x,), (xf,))
    t1 = g.new(n * F32, x.rg)  # * cos
    g.op((xf,), (t1,))
    g.drop(xf)
    xf2 = g.new(n * F32, x.rg)  # rotate_half(x.float()): a second fp32 copy
    g.op((x,), (xf2,))
    neg = g.new(n // 2 * F32, x.rg)  # -x2
    g.op((xf2,), (neg,))
    rh = g.new(n * F32, x.rg)  # cat((-x2, x1))
    g.op((neg, xf2), (rh,))
    g.drop(neg, xf2)
    t2 = g.new(n * F32, x.rg)  # * sin
    g.op((rh,), (t2,))
    g.drop(rh)
    e = g.new(n * F32, x.rg)
    g.op((t1, t2), (e,))
    g.drop(t1, t2)
    return e


def rope_upcast(g: Sim, cx: Cx, q: Tn, k: Tn) -> tuple[Tn, Tn]:
    """ModernBERT's apply_rotary_pos_emb: (q.float() * cos) + (rotate_half(q.float()) * sin), the same for
    k (cos, sin in the weights' dtype), both cast back to q's dtype on return.

    Source: hf-modernbert"""
    a, T = cx.spec.attention, cx.T
    nq, nk = T * a.num_heads * a.head_dim, T * a.num_kv_heads * a.head_dim
    xb = q.nb // nq
    qe = _upcast_one(g, q, nq)
    ke = _upcast_one(g, k, nk)
    q2 = cast(g, qe, nq * xb)
    g.drop(qe)
    k2 = cast(g, ke, nk * xb)
    g.drop(ke)
    return q2, k2
