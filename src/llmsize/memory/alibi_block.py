"""Decoder blocks with their own ALiBi attention code, replayed (BLOOM, MPT). BLOOM's attention adds
ALiBi through baddbmm on copies of the heads, and both residual adds happen inside the branches.

  h = ln1(x); qkv = W_qkv h (kept to the end of the attention); q, k, v = reshape(b n_h, s, d_h) of
  strided views: copies (the cache's contiguous tensors are views); S = alibi.baddbmm(q, k^T) (b n_h x q
  x kv, compute dtype, kept); S + mask (kept); P = softmax(., fp32).to(dtype); dropout; C = P v; merge
  heads (a copy); a = dense(C); y = x + dropout(a); h2 = ln2(y); m = W_2 gelu(W_1 h2) (BloomGelu: a
  custom autograd function saving its input, its tanh formula's temporaries made and freed inside);
  out = y + dropout(m). The attention weights P are returned up to the model loop, whose `outputs`
  keeps them until the next block returns.

Source: hf-bloom
"""
from __future__ import annotations

from llmsize.memory.blocks import F32, Cx, cast, dropout, layernorm, linear
from llmsize.memory.sim import Sim, Tn


def contiguous_cache(g: Sim, cx: Cx, old: tuple[Tn, Tn] | None) -> tuple[Tn, Tn, int, Tn, Tn]:
    """DynamicLayer.update on (b, n_h, s, d_h) keys and values: torch.cat into new contiguous tensors
    (old + new tokens), the old ones freed. Returns (keys, values, key length, a view of each).

    Source: hf-cache"""
    on = old[0].nb if old else 0
    nb = cx.T * cx.spec.hidden_size * cx.c
    ck, cv = g.new(on + nb), g.new(on + nb)
    if old:
        g.drop(*old)
    return ck, cv, ck.nb // (cx.b * cx.spec.hidden_size * cx.c), g.view(ck), g.view(cv)


def prev_weights(g: Sim, cx: Cx) -> Tn | None:
    """The previous block's attention weights, held by the model loop's `outputs` while this block runs
    (in training they are saved by their block anyway)."""
    return None if g.grad else g.external(cx.b * cx.spec.attention.num_heads * cx.q * cx.kv * cx.c)


def _thirds(g: Sim, cx: Cx, qkv: Tn) -> tuple[Tn, Tn, Tn]:
    """q, k, v as strided views of the fused projection (T x 3d)."""
    n = cx.T * cx.spec.hidden_size * cx.c
    q, k, v = g.view(qkv, n), g.view(qkv, n), g.view(qkv, n)
    g.op((qkv,), (q, k, v))
    return q, k, v


def _gelu(g: Sim, x: Tn) -> Tn:
    """BloomGelu: x * 0.5 * (1 + tanh(0.79788456 x (1 + 0.044715 x x))) under no_grad, saving x."""
    n = x.nb
    a = g.new(n)  # x * 0.5
    b = g.new(n)  # 0.79788456 * x
    c = g.new(n)  # 0.044715 * x
    d = g.new(n)  # * x
    g.drop(c)
    e = g.new(n)  # 1 + .
    g.drop(d)
    f = g.new(n)  # b * e
    g.drop(b, e)
    t = g.new(n)  # tanh
    g.drop(f)
    u = g.new(n)  # 1 + tanh
    g.drop(t)
    y = g.new(n, x.rg)
    g.drop(a, u)
    # backward (bloom_gelu_back): tanh_out and ff's temporaries, x-sized: 4 live beside the input gradient
    g.op((x,), (y,), (x,), btemp=4 * n)
    return y


def bloom_layer(g: Sim, cx: Cx, x: Tn, mask: Tn | None,
                old: tuple[Tn, Tn] | None) -> tuple[Tn, Tn | None, Tn | None]:
    """One BLOOM block on x (T x d): (output, cached keys, cached values).

    Source: hf-bloom"""
    s, a = cx.spec, cx.spec.attention
    b, q, T, c, d = cx.b, cx.q, cx.T, cx.c, s.hidden_size
    nh, hd = a.num_heads, a.head_dim
    t = s.traits
    prev = prev_weights(g, cx)
    h = layernorm(g, cx, x, d, cx.train_base, True)
    qkv = linear(g, cx, h, d, 3 * d, t.leaf("attn_qkv"), True)
    qv, kv_, vv = _thirds(g, cx, qkv)
    ck = cv = None
    kvlen = cx.kv
    if cx.cache:  # the reshapes of the cache's contiguous tensors are views
        ck, cv, kvlen, kr, vr = contiguous_cache(g, cx, old)
    else:
        kr, vr = g.new(T * d * c, qkv.rg), g.new(T * d * c, qkv.rg)
        g.op((kv_,), (kr,))
        g.op((vv,), (vr,))
    qr = g.new(T * d * c, qkv.rg)  # reshape of the transposed (b, n_h, s, d_h) view: a copy
    g.op((qv,), (qr,))
    g.drop(qv, kv_, vv)
    sc = b * nh * q * kvlen
    scores = g.new(sc * c, True)  # alibi.baddbmm(q, k^T, beta=1, alpha=1/sqrt(d_h))
    g.op((qr, kr), (scores,), (qr if kr.rg else None, kr if qr.rg else None))
    w = scores
    if mask is not None:
        w = g.new(sc * c, True)
        g.op((scores,), (w,))
    wi = g.new(sc * F32, True)  # softmax(dtype=float32) casts its input first
    g.op((w,), (wi,))
    w32 = g.new(sc * F32, True)
    g.op((wi,), (w32,), (w32,))
    g.drop(wi)
    p = cast(g, w32, sc * c)
    g.drop(w32)
    p2 = dropout(g, cx, p, s.attention_dropout)
    ctx = g.new(b * nh * q * hd * c, True)
    g.op((p2, vr), (ctx,), (p2 if vr.rg else None, vr if p2.rg else None))
    merged = g.new(ctx.nb, True)  # _merge_heads: permute + reshape copies
    g.op((ctx,), (merged,))
    g.drop(ctx)
    o = linear(g, cx, merged, d, d, t.leaf("attn_output"), True)
    g.drop(merged)
    od = dropout(g, cx, o, s.hidden_dropout)
    y = g.new(x.nb, True)  # dropout_add: residual + out
    g.op((x, od), (y,))
    g.drop(od, o, qr, kr, vr, scores, w if w is not scores else None, p2 if p2 is not p else None, qkv, h)
    keep_p = g.view(p)  # returned to the model loop, whose `outputs` holds it into the next block
    h2 = layernorm(g, cx, y, d, cx.train_base, True)
    f = s.mlp.intermediate_size
    u = linear(g, cx, h2, d, f, t.leaf("ffn_up"), True)
    ge = _gelu(g, u)
    g.drop(u)
    m = linear(g, cx, ge, f, d, t.leaf("ffn_down"), True)
    g.drop(ge)
    md = dropout(g, cx, m, s.hidden_dropout)
    out = g.new(x.nb, True)
    g.op((y, md), (out,))
    g.drop(md, m, h2, y, x, prev, p, keep_p)
    return out, ck, cv


def mpt_layer(g: Sim, cx: Cx, x: Tn, mask: Tn | None,
              old: tuple[Tn, Tn] | None) -> tuple[Tn, Tn | None, Tn | None]:
    """One MPT block on x (T x d): LayerNorm (weight only), Wqkv chunked into strided views, matmul
    copies of q and k^T (the cache's tensors are contiguous), scores * scale, + the fp32 ALiBi bias (the
    sum is fp32), masked_fill (kept to the end of the attention), softmax in fp32, cast back, P v
    (copy of v), merge heads (a copy), out_proj; y = x + dropout(a); ffn: up, exact GELU, down,
    dropout, + y. The attention weights reach the model loop, as in BLOOM.

    Source: hf-mpt"""
    s, a = cx.spec, cx.spec.attention
    b, q, T, c, d = cx.b, cx.q, cx.T, cx.c, s.hidden_size
    nh, hd = a.num_heads, a.head_dim
    t = s.traits
    prev = prev_weights(g, cx)
    h = layernorm(g, cx, x, d, cx.train_base, False)
    qkv = linear(g, cx, h, d, 3 * d, t.leaf("attn_qkv"))
    qv, kv_, vv = _thirds(g, cx, qkv)
    ck = cv = None
    kvlen = cx.kv
    if cx.cache:
        ck, cv, kvlen, kk, vk = contiguous_cache(g, cx, old)
    else:
        kk = g.new(T * d * c, qkv.rg)  # matmul's reshape of the strided k^T: a copy (saved by bmm)
        g.op((kv_,), (kk,))
        vk = None
    qc = g.new(T * d * c, qkv.rg)
    g.op((qv,), (qc,))
    sc = b * nh * q * kvlen
    s0 = g.new(sc * c, True)
    g.op((qc, kk), (s0,), (qc if kk.rg else None, kk if qc.rg else None))
    g.drop(qc, kk)
    s1 = g.new(sc * c, True)  # * softmax_scale
    g.op((s0,), (s1,))
    g.drop(s0)
    s2 = g.new(sc * F32, True)  # + position_bias (fp32): promoted
    g.op((s1,), (s2,))
    g.drop(s1)
    s3 = g.new(sc * F32, True)  # masked_fill: kept by `attention_scores` to the end of the attention
    g.op((s2,), (s3,))
    g.drop(s2)
    sm = g.new(sc * F32, True)
    g.op((s3,), (sm,), (sm,))
    p = cast(g, sm, sc * c)
    g.drop(sm)
    p2 = dropout(g, cx, p, s.attention_dropout)
    if vk is None:  # matmul copies the strided v (temporarily in inference, saved by bmm in training)
        vk = g.new(T * d * c, qkv.rg)
        g.op((vv,), (vk,))
    ctx = g.new(b * nh * q * hd * c, True)
    g.op((p2, vk), (ctx,), (p2 if vk.rg else None, vk if p2.rg else None))
    g.drop(vk)
    merged = g.new(ctx.nb, True)  # permute(0, 2, 1, 3).contiguous()
    g.op((ctx,), (merged,))
    g.drop(ctx)
    o = linear(g, cx, merged, d, d, t.leaf("attn_output"))
    g.drop(merged, s3, qv, kv_, vv, qkv, h, p2 if p2 is not p else None)
    keep_p = g.view(p)
    od = dropout(g, cx, o, s.hidden_dropout)
    y = g.new(x.nb, True)
    g.op((x, od), (y,))
    g.drop(od, o)
    h2 = layernorm(g, cx, y, d, cx.train_base, False)
    u = linear(g, cx, h2, d, s.mlp.intermediate_size, t.leaf("ffn_up"))
    ge = g.new(u.nb, True)
    g.op((u,), (ge,), (u,))  # exact GELU saves its input
    g.drop(u)
    m = linear(g, cx, ge, s.mlp.intermediate_size, d, t.leaf("ffn_down"))
    g.drop(ge)
    md = dropout(g, cx, m, s.hidden_dropout)
    out = g.new(x.nb, True)
    g.op((md, y), (out,))
    g.drop(md, m, h2, y, x, prev, p, keep_p)
    return out, ck, cv
