"""transformers' `eager_attention_forward` replayed on a `Sim` (the third attention path of
`memory.attention`): q k^T in the compute dtype, the mask added, softmax in fp32 and cast back,
dropout, the product with v (k, v repeated to n_h heads by `repeat_kv` when grouped), and gpt-oss's
attention sinks.

Source: hf-llama
"""
from __future__ import annotations

from llmsize.memory.blocks import F32, Cx, cast, dropout
from llmsize.memory.sim import Sim, Tn


def eager(g: Sim, cx: Cx, q: Tn, k: Tn, v: Tn, mask: Tn | None, kvlen: int) -> Tn:
    """transformers eager_attention_forward (+ Gemma 2 logit soft-capping).

    Source: hf-llama"""
    s, a = cx.spec, cx.spec.attention
    b, ql, c = cx.b, cx.q, cx.c
    nh, nkv, hd, dv = a.num_heads, a.num_kv_heads, a.head_dim, a.v_dim
    sc = b * nh * ql * kvlen
    # q and (without groups) k, v: matmul copies a transposed view to (b, n_h, len, d) as a temporary
    # unless it is contiguous already (cache, rotary cat); grouped k, v: repeat_kv clones, kept as
    # locals of eager_attention_forward until it returns.
    # With batch 1 the (b, n) dims of a transposed view merge, so the reshape is a view (no copy; the
    # saved tensor then pins the whole projection output it views).
    cat_rope = s.traits.rope_cat
    grouped = nkv != nh
    flat = b == 1
    qc = g.view(q) if cat_rope or flat else g.new(b * ql * nh * hd * c, q.rg)
    if qc.st is not q.st:
        g.op((q,), (qc,))
    kc = g.view(k) if not grouped and (cx.cache or cat_rope or flat) else g.new(b * kvlen * nh * hd * c, k.rg)
    if kc.st is not k.st:
        g.op((k,), (kc,))
    vc = None
    if grouped:
        vc = g.new(b * kvlen * nh * dv * c, v.rg)
        g.op((v,), (vc,))
    w = g.new(sc * c, True)
    g.op((qc, kc), (w,), (qc, kc))
    g.drop(qc)
    if not grouped:
        g.drop(kc)  # a matmul temporary (or a view)
        kc = None
    if vc is None:  # made by the second matmul
        vc = g.view(v) if cx.cache or flat else _LazyCopy(v, b * kvlen * nh * dv * c)
    w2 = g.new(sc * c, True)  # * scaling
    g.op((w,), (w2,))
    g.drop(w)
    w = w2
    if not s.traits.eager_softmax_fp32:  # GPT-2's own eager: softmax in the input dtype, attention dropout
        if mask is not None:
            w2 = g.new(sc * c, True)
            g.op((w,), (w2,))
            g.drop(w)
            w = w2
        sm = g.new(sc * c, True)
        g.op((w,), (sm,), (sm,))
        g.drop(w)
        p = dropout(g, cx, sm, s.attention_dropout)
        g.drop(sm)
        return _pv(g, cx, p, vc, kc)
    if s.attn_softcap is not None:  # w / cap -> tanh -> * cap
        t1 = g.new(sc * c, True)
        g.op((w,), (t1,))
        g.drop(w)
        t2 = g.new(sc * c, True)
        g.op((t1,), (t2,), (t2,))
        g.drop(t1)
        w = g.new(sc * c, True)
        g.op((t2,), (w,))
        g.drop(t2)
    if mask is not None:
        w2 = g.new(sc * c, True)
        g.op((w,), (w2,))
        g.drop(w)
        w = w2
    if a.sinks:
        return _sinks(g, cx, w, vc, kc, sc)
    w32 = g.new(sc * F32, True)  # softmax(dtype=float32) upcasts first
    g.op((w,), (w32,))
    sm = g.new(sc * F32, True)
    g.op((w32,), (sm,), (sm,))
    g.drop(w32, w)
    p = cast(g, sm, sc * c)
    g.drop(sm)
    if s.attention_dropout:
        p2 = dropout(g, cx, p, s.attention_dropout)
        g.drop(p)
        p = p2
    return _pv(g, cx, p, vc, kc)


class _LazyCopy:
    """A strided v that the probabilities @ v matmul copies (temporarily) when it runs."""

    def __init__(self, v: Tn, nb: int) -> None:
        self.v, self.nb = v, nb


def _sinks(g: Sim, cx: Cx, w: Tn, vc: Tn | _LazyCopy, kc: Tn | None, sc: int) -> Tn:
    """gpt-oss eager: logits = cat([w, sinks]) - max; probs = softmax in the compute dtype; scores =
    probs[..., :-1] (a strided view, copied by the matmul with v); attn_weights (w) lives until it is
    rebound to scores, combined_logits until the function returns.

    Source: hf-gpt-oss"""
    b, ql, c, nh = cx.b, cx.q, cx.c, cx.spec.attention.num_heads
    n1 = sc + b * nh * ql  # b n_h q (kv + 1)
    cmb = g.new(n1 * c, True)
    g.op((w,), (cmb,))
    mx = g.new(b * nh * ql * c)
    idx = g.new(b * nh * ql * 8)
    g.op((cmb,), (mx,), (idx,))
    g.drop(idx)
    cl = g.new(n1 * c, True)
    g.op((cmb, mx), (cl,))
    g.drop(cmb, mx)
    probs = g.new(n1 * c, True)
    g.op((cl,), (probs,), (probs,))
    scores = g.view(probs, sc * c)
    g.op((probs,), (scores,))
    g.drop(probs, w)
    out = _pv(g, cx, scores, vc, kc, transient=sc * c)  # matmul copies the strided scores (not saved)
    g.drop(cl)
    return out


def _pv(g: Sim, cx: Cx, p: Tn, vc: Tn | _LazyCopy, kc: Tn | None, transient: int = 0) -> Tn:
    """probabilities @ v, then transpose(1, 2).contiguous() (a copy); the repeated k and v die with
    the function's locals. `transient`: bytes of a contiguous copy of p the matmul makes and frees."""
    a = cx.spec.attention
    tmp = None
    if isinstance(vc, _LazyCopy):
        tmp = g.new(vc.nb, vc.v.rg)
        g.op((vc.v,), (tmp,))
        vc = tmp
    pc = g.new(transient) if transient else None
    o = g.new(cx.b * cx.q * a.num_heads * a.v_dim * cx.c, True)
    g.op((p, vc), (o,), (p, vc))
    g.drop(pc)
    g.keep.append(p)  # returned as attn_weights: the decoder layer's `_` keeps it to its end
    if tmp is not None:
        g.drop(tmp)
    o2 = g.new(o.nb, True)  # transpose(1, 2).contiguous()
    g.op((o,), (o2,))
    g.drop(o)
    if tmp is None:
        g.drop(vc)
    g.drop(kc)
    return o2
