"""T5's relative-position bias replayed on a `Sim`: the buckets and their embedding (made by the first
layer of each stack and shared), and the float mask SDPA gets from it per layer.

Symbols: n = q x k positions of one score map, n_h heads, w bytes of the weights' dtype.

Source: hf-t5
"""
from __future__ import annotations

from llmsize.memory.blocks import F32, Cx
from llmsize.memory.sim import Sim, Tn

I64 = 8


def bias(g: Sim, cx: Cx, ql: int, kl: int, bidirectional: bool) -> Tn:
    """compute_bias: relative positions (q x k int64), their buckets (int64 and fp32 temporaries of the
    log-spaced half), then the bucket embedding: values (q x k x n_h, w), returned as the permuted
    (1, n_h, q, k) view. Training the table saves the bucket indices.

    B_bias = n·n_h·w, with up to ~7·n·8 bytes of int64/fp32 temporaries while the buckets are made

    Source: hf-t5"""
    s = cx.spec
    n = ql * kl
    ctx = g.new(ql * I64)
    ctx2 = g.new(ql * I64)
    g.drop(ctx)
    mem = g.new(kl * I64)
    rp = g.new(n * I64)
    rb = None
    if bidirectional:
        gt = g.new(n)
        lo = g.new(n * I64)
        g.drop(gt)
        m = g.new(n * I64)
        g.drop(lo)
        rb = g.new(n * I64)
        g.drop(m)
        rp2 = g.new(n * I64)
    else:
        z = g.new(n * I64)
        mn = g.new(n * I64)
        g.drop(z)
        rp2 = g.new(n * I64)
        g.drop(mn)
    small = g.new(n)
    f = g.new(n * F32)
    for _ in range(3):  # / max_exact, log, / log(max_distance / max_exact), * (buckets - max_exact)
        f2 = g.new(n * F32)
        g.drop(f)
        f = f2
    lo = g.new(n * I64)
    g.drop(f)
    large = g.new(n * I64)
    g.drop(lo)
    full = g.new(n * I64)
    mn2 = g.new(n * I64)
    g.drop(large, full)
    wh = g.new(n * I64)
    if rb is None:  # relative_buckets = 0 + where(...): a new tensor
        rb = g.new(n * I64)
    g.drop(wh, small, rp2, mn2)  # rb += where(...) in place (bidirectional)
    vals = g.new(n * s.attention.num_heads * cx.w, cx.train_base)
    g.op((), (vals,), (rb,), pgrad=s.relative_buckets * s.attention.num_heads * cx.w if cx.train_base else 0)
    g.drop(rb, rp, ctx2, mem)
    return vals


def position_mask(g: Sim, cx: Cx, pb: Tn, ql: int, kl: int, causal: bool, contiguous: bool) -> Tn:
    """create_position_bias_mask: the position bias as SDPA's float mask, (1, n_h, q, k) w. Causal
    (decoder, q > 1): where(q_pos >= k_pos, bias, min) then .contiguous() (a copy: where keeps the permuted
    layout), the bool mask saved by where; otherwise .contiguous() copies the permuted bias.

    Source: hf-t5"""
    nb = cx.spec.attention.num_heads * ql * kl * cx.w
    if causal:
        cm = g.new(ql * kl)
        wh = g.new(nb, pb.rg)
        g.op((pb,), (wh,), (cm,))
        g.drop(cm)
        out = g.new(nb, wh.rg)
        g.op((wh,), (out,))
        g.drop(wh)
        return out
    if contiguous or ql == 1 and kl == 1:
        return g.view(pb)
    out = g.new(nb, pb.rg)
    g.op((pb,), (out,))
    return out
