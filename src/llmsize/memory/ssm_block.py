"""Mamba2Block replayed on a `Sim` (training, or a checkpoint's recompute): the pure Mamba-2 decoder layer.

  residual = x;  h = norm(x.to(w));  residual = residual.float() (residual_in_fp32);  out = residual + mixer(h)

With residual_in_fp32 every layer after the first receives (and returns) an fp32 hidden state T·d·4:
the norm input is then a new copy in the weights' dtype and the residual is x itself; layer 0 receives
the embedding output (T·d·w) and makes the fp32 residual copy. Nothing in the block but the norm and
the mixer saves a tensor (the sum saves nothing).

Source: hf-mamba2
"""
from __future__ import annotations

from llmsize.memory.blocks import F32, Cx, rmsnorm
from llmsize.memory.sim import Sim, Tn
from llmsize.memory.ssm_mixer import mixer


def mamba2_block(g: Sim, cx: Cx, x: Tn) -> tuple[Tn, None, None]:
    """(output, no K, no V) of one Mamba-2 block on input x (held as T·d·w by the region; the extra
    T·d·(4 - w) of an fp32 input is added here). The caller's handle on x is released at the end.

    Source: hf-mamba2"""
    s = cx.spec
    m = s.ssm
    assert m is not None
    T, d, w = cx.T, s.hidden_size, cx.w
    fp32_in = m.residual_fp32 and not cx.first and w < F32
    wide = g.new(T * d * (F32 - w)) if fp32_in else None  # the rest of an fp32 input
    if fp32_in:
        hin = g.new(T * d * w, x.rg)  # x.to(norm dtype): a copy
        g.op((x,), (hin,))
    else:
        hin = g.view(x)
    h = rmsnorm(g, cx, hin, d, cx.train_base)
    g.drop(hin)
    res = g.view(x)
    if m.residual_fp32 and not fp32_in and w < F32:  # residual.to(float32) of a w-byte input
        g.drop(res)
        res = g.new(T * d * F32, x.rg)
        g.op((x,), (res,))
    a = mixer(g, cx, h)[0]
    g.drop(h)
    out = g.new(T * d * (F32 if m.residual_fp32 else w), res.rg or a.rg)  # fp32 + w -> fp32
    g.op((res, a), (out,))
    g.drop(a, res, x, wide)
    return out, None, None
