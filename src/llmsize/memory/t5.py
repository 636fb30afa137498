"""T5 (T5ForConditionalGeneration) replayed on one `Sim`: the encoder over the s input tokens, the decoder
(self-attention, cross-attention over the encoder output, feed-forward) over its own tokens, the tied head
and the loss. Chosen by the `encoder_decoder` trait; no model type is tested here.

Workload: the encoder reads s = seq_len tokens. Train: the decoder reads s tokens too (labels = the input,
shifted right); forward: the decoder reads the same s tokens (decoder_input_ids = input_ids), all b x s
logits; generate: the encoder runs once over the s-token prompt, then the decoder makes new_tokens one-token
steps from the start token on an EncoderDecoderCache (self-attention keys/values grow by one token a step;
cross-attention keys/values, b x n_h x s x d_kv each, are computed at the first step and reused).

Symbols: T = b x s tokens, n = q x k positions of one score map, n_h heads of d_kv, d model, f FFN, V vocab,
w bytes of the weights' dtype, N_b relative-position buckets.

Source: hf-t5
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.memory.attention import softmax_dropout
from llmsize.memory.blocks import F32, Cx, act, act_kind, cast, dropout, linear
from llmsize.memory.sim import Sim, Tn
from llmsize.memory.t5_bias import bias, position_mask

class _Sim(Sim):
    """A Sim that also knows, at its forward peak, how many of the live bytes are held by autograd only
    (the saved activations), so the peak splits into saved activations and the working set."""

    __slots__ = ("act", "fw_act")

    def __init__(self, grad: bool) -> None:
        super().__init__(grad)
        self.act = 0
        self.fw_act = 0

    def new(self, nb: int, rg: bool = False) -> Tn:
        t = super().new(nb, rg)
        if self.live == self.peak:
            self.fw_act = self.act
        return t

    def drop(self, *ts: Tn | None) -> None:
        for t in ts:
            if t is not None and t.st.refs == 1 and t.st.saved:
                self.act += t.st.nb
        super().drop(*ts)


def norm(g: Sim, cx: Cx, x: Tn) -> Tn:
    """T5LayerNorm: var = x.float().pow(2).mean(-1); h = x * rsqrt(var + eps) (bf16 x fp32 -> fp32);
    h.to(w); weight * h. Saves the fp32 copy (pow), x and rsqrt (the product), h (the weight product).

    Source: hf-t5"""
    rows = x.nb // (cx.spec.hidden_size * cx.w)
    d = cx.spec.hidden_size
    x32 = cast(g, x, rows * d * F32)
    p = g.new(rows * d * F32, x32.rg)
    g.op((x32,), (p,), (x32,))
    g.drop(x32)
    m = g.new(rows * F32, p.rg)
    g.op((p,), (m,))
    g.drop(p)
    ve = g.new(rows * F32, m.rg)
    g.op((m,), (ve,))
    rs = g.new(rows * F32, ve.rg)
    g.op((ve,), (rs,), (rs,))
    g.drop(ve)
    h32 = g.new(rows * d * F32, x.rg)
    g.op((x, rs), (h32,), (x, rs))
    g.drop(rs)
    h = cast(g, h32, x.nb)
    g.drop(h32)
    out = g.new(x.nb, h.rg or cx.train_base)
    g.op((h,), (out,), (h if cx.train_base else None,), pgrad=d * cx.w if cx.train_base else 0)
    g.drop(h, m)  # `variance` is a local of forward() until it returns
    return out


def _contig(g: Sim, cx: Cx, x: Tn) -> Tn:
    """matmul's reshape of a (b, n_h, len, d_kv) view of a (b, len, n_h d_kv) tensor to 3-D: a copy, or
    a view when b = 1 (the batch and head dims then merge)."""
    if cx.b == 1:
        return g.view(x)
    y = g.new(x.nb, x.rg)
    g.op((x,), (y,))
    return y


def _eager(g: Sim, cx: Cx, q: Tn, k: Tn, v: Tn, pb: Tn, cmask: Tn | None, ql: int, kl: int) -> tuple[Tn, Tn]:
    """T5's eager_attention_forward: q k^T (contiguous copies of q and k for bmm, saved), * scaling (1.0, still a
    new tensor), + position bias, + the causal float mask (decoder), softmax in the compute dtype, dropout,
    @ v (a contiguous copy), transpose(1, 2).contiguous(). Returns (output, the attention weights, which the
    caller's `_` keeps alive).

    Source: hf-t5"""
    s = cx.spec
    b, nh, dk, c = cx.b, s.attention.num_heads, s.attention.head_dim, cx.c
    sc = b * nh * ql * kl * c
    qc, kc = _contig(g, cx, q), _contig(g, cx, k)
    w = g.new(sc, qc.rg or kc.rg)
    g.op((qc, kc), (w,), (qc if kc.rg else None, kc if qc.rg else None))
    g.drop(qc, kc)
    for extra in (None, pb) + ((cmask,) if cmask is not None else ()):  # * scaling, + bias, + mask
        w2 = g.new(sc, w.rg or (extra is not None and extra.rg))
        g.op((w,) if extra is None else (w, extra), (w2,))
        g.drop(w)
        w = w2
    sm = g.new(sc, True)
    g.op((w,), (sm,), (sm,))
    g.drop(w)
    p = dropout(g, cx, sm, s.attention_dropout)
    g.drop(sm)
    vc = _contig(g, cx, v)
    o = g.new(b * nh * ql * dk * c, True)
    g.op((p, vc), (o,), (p, vc))
    g.drop(vc)
    o2 = g.new(o.nb, o.rg)
    g.op((o,), (o2,))
    g.drop(o)
    return o2, p


def _core(g: Sim, cx: Cx, q: Tn, k: Tn, v: Tn, mask: Tn, ql: int, kl: int) -> Tn:
    """SDPA with the float mask. Fused (eval, or no dropout and a frozen bias): output (laid out b, q, n_h,
    d_kv) and the log-sum-exp (b n_h q fp32), both saved in training. Dropout in training: the math path, whose fp32
    copies of q, k, v (q and k scaled) are made contiguous for bmm, scores + mask, softmax, dropout noise
    and product (when p > 0), the bf16 weights, the output and its transposed copy (also without dropout
    when the mask needs a gradient: a trained position bias).

    Source: pytorch-sdpa"""
    s = cx.spec
    b, nh, dk, w = cx.b, s.attention.num_heads, s.attention.head_dim, cx.c
    p = s.attention_dropout if cx.training else 0.0
    if cx.amp and mask.nb != nh * ql * kl * w:  # autocast runs SDPA in the compute dtype: the fp32 mask is cast
        m2 = cast(g, mask, nh * ql * kl * w)
        out = _core(g, replace(cx, amp=False), q, k, v, m2, ql, kl)
        g.drop(m2)
        return out
    # ASSUMES: PyTorch's CPU SDPA dispatch, as the truth measures it: the fused kernel takes no dropout and
    # gives no gradient to the mask, so training with dropout or a trained position bias runs the math path
    if p <= 0 and not mask.rg:
        out = g.new(b * ql * nh * dk * w, q.rg or k.rg or v.rg or mask.rg)
        lse = g.new(b * nh * ql * F32)
        g.op((q, k, v, mask), (out,), (q, k, v, mask, out, lse))
        g.drop(lse)
        return out
    sc = b * nh * ql * kl * F32
    q32, k32, v32 = cast(g, q, q.nb // w * F32), cast(g, k, k.nb // w * F32), cast(g, v, v.nb // w * F32)
    qs = g.new(q32.nb, q32.rg)
    g.op((q32,), (qs,))
    ks = g.new(k32.nb, k32.rg)
    g.op((k32,), (ks,))
    qc, kc = _contig(g, cx, qs), _contig(g, cx, ks)  # bmm saves what matmul's reshape gives it
    att = g.new(sc, qc.rg or kc.rg)
    g.op((qc, kc), (att,), (qc if kc.rg else None, kc if qc.rg else None))
    g.drop(qc, kc)
    att2 = g.new(sc, True)
    g.op((att, mask), (att2,))
    g.drop(att)
    dr = softmax_dropout(g, att2, sc, p, att2)
    aw = cast(g, dr, sc // F32 * w)
    vc = _contig(g, cx, v32)
    o32 = g.new(b * ql * nh * dk * F32, True)
    g.op((dr, vc), (o32,), (dr, vc))
    g.drop(dr, vc)
    out = cast(g, o32, b * ql * nh * dk * w)
    g.drop(o32, q32, k32, v32, qs, ks, aw)
    o2 = g.new(out.nb, out.rg)  # transpose(1, 2).contiguous()
    g.op((out,), (o2,))
    g.drop(out)
    return o2


def attention(g: Sim, cx: Cx, h: Tn, kind: str, pbs: dict, src: tuple[Cx, Tn] | None = None,
              old: tuple[Tn, Tn] | None = None) -> tuple[Tn, Tn | None, Tn | None]:
    """T5Attention: q, k, v projections (no bias, d -> n_h d_kv), the shared position bias (made by the
    first layer of the stack: buckets for self-attention, zeros (1, n_h, q, k) for cross-attention), its
    mask, SDPA, o. kind: "enc", "dec" (causal self-attention, cache appended) or "cross" (keys and values
    of the encoder output; `old` = the cross cache already filled). Returns (output, cached k, cached v).

    Source: hf-t5"""
    s, t = cx.spec, cx.spec.traits
    d, inner, ql = s.hidden_size, s.attention.num_heads * s.attention.head_dim, cx.q
    q = linear(g, cx, h, d, inner, t.leaf("attn_q"))
    ck = cv = None
    if kind == "cross" and old is not None:  # the cross cache is reused after the first step
        k, v = g.view(old[0]), g.view(old[1])
        kl = old[0].nb // (cx.b * inner * (cx.kv_bytes or cx.w))
    else:
        scx, sx = src if src is not None else (cx, h)
        k = linear(g, scx, sx, d, inner, t.leaf("attn_k"))
        v = linear(g, scx, sx, d, inner, t.leaf("attn_v"))
        kl = scx.q
        if cx.cache:  # DynamicLayer.update: torch.cat([old, new]) (the empty cache too), the old one freed
            kb = cx.kv_bytes or cx.w
            per = cx.b * inner * kb
            ck = g.new((old[0].nb if old else 0) + per * kl)
            cv = g.new((old[1].nb if old else 0) + per * kl)
            if old:
                g.drop(*old)
            g.drop(k, v)
            k, v = g.view(ck), g.view(cv)
            kl = ck.nb // per
    pb = pbs.get(kind)
    if pb is None:
        if kind == "cross":
            pb = g.new(s.attention.num_heads * ql * kl * cx.w)
        else:
            pb = bias(g, cx, ql, kl, kind == "enc")
        pbs[kind] = pb
    aw = None
    if cx.attn == "eager":
        out, aw = _eager(g, cx, q, k, v, pb, pbs.get("causal") if kind == "dec" else None, ql, kl)
    else:
        mask = position_mask(g, cx, pb, ql, kl, kind == "dec" and ql > 1, kind == "cross")
        out = _core(g, cx, q, k, v, mask, ql, kl)
        g.drop(mask)
    o = linear(g, cx, out, inner, d, t.leaf("attn_output"))
    g.drop(out, q, k, v)
    if aw is not None:
        g.keep.append(aw)  # returned as attn_weights: the block's `_` keeps it (see stack)
    return o, ck, cv


def _residual(g: Sim, cx: Cx, x: Tn, y: Tn) -> Tn:
    """hidden_states + dropout(y): the sum is a new tensor; the dropout output dies with it."""
    yd = dropout(g, cx, y, cx.spec.hidden_dropout)
    g.drop(y)
    out = g.new(x.nb, x.rg or yd.rg)
    g.op((x, yd), (out,))
    g.drop(yd)
    return out


def feed_forward(g: Sim, cx: Cx, x: Tn) -> Tn:
    """T5LayerFF: x + drop(wo(drop(act(wi(n))))), gated: wo(drop(act(wi_0(n)) * wi_1(n))), n = norm(x)
    (alive until the dense block returns).

    Source: hf-t5"""
    s, t = cx.spec, cx.spec.traits
    d, f, c = s.hidden_size, s.mlp.intermediate_size, cx.c
    n = norm(g, cx, x)
    if s.mlp.kind == "gated":
        g0 = linear(g, cx, n, d, f, t.leaf("ffn_gate"))
        a = act(g, g0, act_kind(s.mlp.activation))
        g.drop(g0)
        lin = linear(g, cx, n, d, f, t.leaf("ffn_up"))
        m = g.new(cx.T * f * c, a.rg or lin.rg)
        g.op((a, lin), (m,), (a if lin.rg else None, lin if a.rg else None))
        g.drop(a, lin)
    else:
        h = linear(g, cx, n, d, f, t.leaf("ffn_up"))
        m = act(g, h, act_kind(s.mlp.activation))
        g.drop(h)
    md = dropout(g, cx, m, s.hidden_dropout)
    g.drop(m)
    if md.nb != cx.T * f * cx.w:  # hidden_states.to(wo.weight.dtype) (autocast: back to fp32 before wo)
        m2 = cast(g, md, cx.T * f * cx.w)
        g.drop(md)
        md = m2
    o = linear(g, cx, md, f, d, t.leaf("ffn_down"))
    g.drop(md, n)
    return _residual(g, cx, x, o)


def _sublayer(g: Sim, cx: Cx, x: Tn, kind: str, pbs: dict, src=None, old=None) -> tuple[Tn, Tn | None, Tn | None]:
    """T5LayerSelfAttention / T5LayerCrossAttention: x + drop(attn(norm(x)))."""
    n = norm(g, cx, x)
    a, ck, cv = attention(g, cx, n, kind, pbs, src, old)
    y = _residual(g, cx, x, a)
    g.drop(n)
    return y, ck, cv


def stack(g: Sim, cx: Cx, layers: int, enc: tuple[Cx, Tn] | None = None,
          caches: list | None = None) -> tuple[Tn, list]:
    """T5Stack: drop(embed(ids)), the blocks (decoder: self, cross, feed-forward), final norm, dropout.
    inputs_embeds and the shared position biases stay bound to the end of the stack. `caches`: per layer
    ((self k, self v) | None, (cross k, cross v) | None) before this step; returns the caches after it.

    Source: hf-t5"""
    s = cx.spec
    V, d, w = s.vocab_size, s.hidden_size, cx.w
    e = g.new(cx.T * d * w, cx.train_base)
    # the shared table's gradient: the head's comes first; each embedding adds a dense V x d gradient into it
    g.op((), (e,), ptemp=2 * V * d * w if cx.train_base else 0)
    pbs: dict = {}
    if enc is not None and cx.attn == "eager":  # create_causal_mask: where(q_pos >= k_pos) as b x 1 x q x k floats
        kl = cx.cache_len + cx.q
        le = g.new(cx.q * kl)
        pbs["causal"] = g.new(cx.b * cx.q * kl * w)
        g.drop(le)
    x = dropout(g, cx, e, s.embed_dropout)
    out_caches = []
    for i in range(layers):
        old_self, old_cross = caches[i] if caches else (None, None)
        xin = x  # the stack's variable holds the block's input until the block returns
        y, ck, cv = _sublayer(g, cx, x, "enc" if enc is None else "dec", pbs, old=old_self)
        x = y
        xk = xv = None
        if enc is not None:
            self_w = list(g.keep)  # the self-attention weights: `_` is rebound by the cross-attention's
            g.keep.clear()
            y, xk, xv = _sublayer(g, cx, x, "cross", pbs, enc, old_cross)
            g.drop(*self_w)
            if x is not xin:
                g.drop(x)
            x = y
        y = feed_forward(g, cx, x)
        g.drop(x if x is not xin else None, xin, *g.keep)
        g.keep.clear()
        x = y
        out_caches.append(((ck, cv) if ck is not None else None, (xk, xv) if xk is not None else old_cross))
    hN = norm(g, cx, x)
    g.drop(x)
    out = dropout(g, cx, hN, s.embed_dropout)
    g.drop(hN, e, *pbs.values())
    return out, out_caches


def head(g: Sim, cx: Cx, x: Tn, loss: bool) -> Tn:
    """sequence_output * d^-0.5 (tied head, T5 v1.0), lm_head (tied to the shared table: its gradient is
    the table's first), and CrossEntropyLoss in the logits' dtype (log_softmax T x V x w saved, then nll).
    Returns the loss, or the logits.

    Source: hf-t5"""
    s = cx.spec
    d, V = s.hidden_size, s.vocab_size
    x = g.view(x)  # the caller's decoder_outputs keeps the decoder output itself
    if s.traits.scale_decoder_output:
        x2 = g.new(x.nb, x.rg)
        g.op((x,), (x2,))
        g.drop(x)
        x = x2
    logits = linear(g, cx, x, d, V, "lm_head")
    if not loss:
        g.drop(x)
        return logits
    lg = cast(g, logits, cx.T * V * F32) if cx.amp else g.view(logits)  # autocast: log_softmax in fp32
    lsm = g.new(lg.nb, True)
    g.op((lg,), (lsm,), (lsm,))
    g.drop(lg)
    out = g.new(lsm.nb // (cx.T * V), True)
    g.op((lsm,), (out,))
    g.drop(lsm, logits, x)
    return out
