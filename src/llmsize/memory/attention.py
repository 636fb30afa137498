"""Self-attention replayed on a `Sim`: projections, rotary embedding, the KV cache append, and the
attention core in its three PyTorch paths.

- SDPA fused (`_scaled_dot_product_flash_attention_for_cpu` / flash on GPU): no S x S matrix; saves
  q, k, v, the output and the log-sum-exp (b x n_h x q fp32).
- SDPA math path (PyTorch's fallback when attention dropout is on in training on CPU): upcasts
  q, k, v to fp32 and materialises the fp32 scores, their softmax, the dropout noise and the
  dropped-out probabilities (3 x b x n_h x q x kv x 4 bytes saved).
- eager (transformers' `eager_attention_forward`): q k^T in the compute dtype, softmax in fp32,
  cast back; saves the fp32 softmax and its cast (b x n_h x q x kv x (4 + 2)), and k, v repeated
  to n_h heads (`repeat_kv`) when grouped.

Source: hf-llama
"""
from __future__ import annotations

from llmsize.memory.attention_eager import eager as _eager
from llmsize.memory.blocks import F32, Cx, cast, dropout, linear, rmsnorm
from llmsize.memory.llama4_block import llama4_qk
from llmsize.memory.mla import mla_projections, rope_half
from llmsize.memory.output_gate import apply_gate, split_gate
from llmsize.memory.qkv_split import split_qkv
from llmsize.memory.rope_fp32 import rope_float_first, rope_interleaved_fp32, rope_upcast
from llmsize.memory.sim import Sim, Tn

def rope(g: Sim, cx: Cx, x: Tn, heads: int, rot_bytes: int, cs: tuple[Tn, Tn] | None = None) -> Tn:
    """x*cos + rotate_half(x)*sin on the first `rot` dims; the products take the dtype of cos/sin
    (`rot_bytes`: fp32 under autocast, since positions follow the fp32 hidden states).

    Source: hf-llama"""
    a, T = cx.spec.attention, cx.T
    rot = max(2, int(a.head_dim * cx.spec.rotary_fraction)) // 2 * 2
    rot = a.head_dim if rot == a.head_dim else rot  # the same number, kept as d_h in closed forms
    n = T * heads * rot
    eb = max(rot_bytes, x.nb // (T * heads * a.head_dim))
    qe = rope_half(g, x, n, eb, x.nb // (T * heads * a.head_dim), cs)
    if cx.spec.traits.rope_cat:  # rotary ends in torch.cat: q, k come out contiguous (b, n, s, d)
        full = g.new(T * heads * a.head_dim * eb, x.rg)
        g.op((qe, x), (full,))
        g.drop(qe)
        return full
    xb = x.nb // (T * heads * a.head_dim)
    if cx.spec.traits.rope_fp32 and eb != xb:  # OLMo: q_embed.to(q_type)
        back = cast(g, qe, n * xb)
        g.drop(qe)
        return back
    return qe


def _cache_append(g: Sim, cx: Cx, old: Tn | None, per_token: int, old_sliding: Tn | None = None) -> Tn:
    """DynamicLayer.update: keys = torch.cat([keys, new]) -- a fresh tensor of the old length plus
    the new tokens while the old one is still alive; sliding layers keep window-1 tokens but the
    view pins the whole concatenation.

    Source: hf-cache"""
    if old_sliding is not None:  # cat([keys[..., -(w-1):], new]): at most w - 1 old tokens
        w = cx.spec.sliding_window or 1
        return g.new(cx.b * (min(cx.cache_len, w - 1) + cx.q) * per_token)
    old_nb = old.nb if old is not None else 0
    new = g.new(old_nb + cx.b * cx.q * per_token)
    if old is not None:
        g.drop(old)
    return new


def _qk_norm(g: Sim, cx: Cx, q: Tn, k: Tn) -> tuple[Tn, Tn]:
    """RMSNorm on q and k: per head (Qwen 3, Gemma 3) or over all heads (OLMo 2), with the family's
    RMSNorm variant."""
    a, t = cx.spec.attention, cx.spec.traits
    per_head = a.qk_norm == "head"
    f32 = t.norm_plus_one or t.norm_weight_fp32
    q2 = rmsnorm(g, cx, q, a.num_heads * a.head_dim, cx.train_base, gemma=f32, groups=a.num_heads if per_head else 1)
    k2 = rmsnorm(g, cx, k, a.num_kv_heads * a.head_dim, cx.train_base, gemma=f32,
                 groups=a.num_kv_heads if per_head else 1)
    g.drop(q, k)
    return q2, k2


def attention(g: Sim, cx: Cx, h: Tn, mask: Tn | None,
              old: tuple[Tn, Tn] | None = None) -> tuple[Tn, Tn | None, Tn | None]:
    """One attention block on input h (T x d). Returns (output T x d, cached k, cached v).

    Source: hf-llama"""
    s, a = cx.spec, cx.spec.attention
    T, c, b = cx.T, cx.c, cx.b
    d, nh, nkv, hd, dv = s.hidden_size, a.num_heads, a.num_kv_heads, a.head_dim, a.v_dim
    t = s.traits
    if a.mla:
        q, k, v, ck, cv, kvlen, local = mla_projections(g, cx, h, old)
        out = _core(g, cx, q, k, v, mask, kvlen)
        o = linear(g, cx, out, nh * dv, d, t.leaf("attn_output"), a.o_bias)
        g.drop(out, q, k, v, *local)
        return o, ck, cv
    # -- projections ----------------------------------------------------------------------
    qkv = None
    if a.fused_qkv:
        qkv = linear(g, cx, h, d, (nh + 2 * nkv) * hd, t.leaf("attn_qkv"), a.qkv_bias)
        q, k, v, nkv = split_qkv(g, cx, qkv)
        if t.qkv_split == "view":
            g.drop(qkv)
            qkv = None
    else:
        q = linear(g, cx, h, d, nh * hd * (2 if a.output_gate else 1), t.leaf("attn_q"), a.qkv_bias)
        if a.output_gate:  # Qwen3-Next: q_proj also emits the output gate (memory.output_gate)
            q, gate = split_gate(g, cx, q)
        if t.q_prescale:  # OPT: q_proj(h) * scaling
            q2 = g.new(q.nb, q.rg)
            g.op((q,), (q2,))
            g.drop(q)
            q = q2
        k = linear(g, cx, h, d, nkv * hd, t.leaf("attn_k"), a.qkv_bias)
        v = linear(g, cx, h, d, nkv * dv, t.leaf("attn_v"), a.qkv_bias)
    if a.qk_norm != "none" and not t.qk_norm_after_rope:
        q, k = _qk_norm(g, cx, q, k)
    if t.rope_complex:  # Llama 4: complex rotary, L2 q/k norms, NoPE temperature (memory.llama4_block)
        q, k = llama4_qk(g, cx, q, k)
    elif s.position == "rope" and cx.rope and (t.rope_interleaved_fp32 or t.rope_float_first or t.rope_upcast):
        fn = rope_float_first if t.rope_float_first else rope_upcast if t.rope_upcast else rope_interleaved_fp32
        q2, k2 = fn(g, cx, q, k)
        g.drop(q, k)
        q, k = q2, k2
    elif s.position == "rope" and cx.rope:
        rb = F32 if cx.amp or t.rope_fp32 else cx.w
        cs = None
        if t.rope_tables_per_call:  # GLM-4: cos[..., :rot/2].repeat_interleave(2) (and sin) in every layer
            rot = max(2, int(hd * s.rotary_fraction)) // 2 * 2
            cs = (g.new(cx.q * rot * rb), g.new(cx.q * rot * rb))
        q2 = rope(g, cx, q, nh, rb, cs)
        k2 = rope(g, cx, k, nkv, rb, cs)
        g.drop(q, k, *(cs or ()))
        q, k = q2, k2
    if a.qk_norm != "none" and t.qk_norm_after_rope:  # HunYuan
        q, k = _qk_norm(g, cx, q, k)
    # -- cache ----------------------------------------------------------------------------
    ck = cv = None
    kvlen = cx.kv
    if cx.cache:
        kb = cx.kv_bytes or c
        if cx.sliding and s.sliding_window:  # both cats before the attributes are rebound
            ck = _cache_append(g, cx, None, nkv * hd * kb, old[0] if old else None)
            cv = _cache_append(g, cx, None, nkv * dv * kb, old[1] if old else None)
            if old:
                g.drop(*old)
        else:
            ck = _cache_append(g, cx, old[0] if old else None, nkv * hd * kb)
            cv = _cache_append(g, cx, old[1] if old else None, nkv * dv * kb)
        g.drop(k, v)
        k, v = g.view(ck), g.view(cv)
        kvlen = ck.nb // (b * nkv * hd * kb)
    out = _core(g, cx, q, k, v, mask, kvlen, nkv)
    g.drop(q, k, v)
    if a.output_gate:
        out = apply_gate(g, cx, out, gate)
    o = linear(g, cx, out, nh * dv, d, t.leaf("attn_output"), a.o_bias)
    g.drop(out, qkv, gate if a.output_gate else None)
    return o, ck, cv


def _core(g: Sim, cx: Cx, q: Tn, k: Tn, v: Tn, mask: Tn | None, kvlen: int, nkv: int | None = None) -> Tn:
    """softmax(q k^T / sqrt(d_h) + mask) v, per the attention implementation in use; `nkv`: heads of
    k and v as they reach it.

    Source: pytorch-sdpa"""
    s, a = cx.spec, cx.spec.attention
    b, ql, c = cx.b, cx.q, cx.c
    nh, hd, dv = a.num_heads, a.head_dim, a.v_dim
    nkv = a.num_kv_heads if nkv is None else nkv
    qb = q.nb // (b * ql * nh * hd)  # bytes per element of q (fp32 after autocast rope)
    if cx.amp and qb != c:  # autocast casts q, k, v to the compute dtype for the attention op
        q2 = cast(g, q, b * ql * nh * hd * c)
        k2 = cast(g, k, b * kvlen * nkv * hd * c)
        v2 = cast(g, v, b * kvlen * nkv * dv * c)
        out = _core(g, cx, q2, k2, v2, mask, kvlen, nkv)
        g.drop(q2, k2, v2)
        return out
    attn_p = cx.training and s.attention_dropout > 0  # dropout on the probabilities: SDPA's math path
    grouped = nkv != nh
    if cx.attn == "eager":
        return _eager(g, cx, q, k, v, mask, kvlen)
    # ASSUMES: PyTorch's CPU SDPA dispatch (what the truth measures): fused kernels need one head size for
    # q, k and v, so MLA (d_qk != d_v) runs the math path, as does dropout on the probabilities.
    # a family calling SDPA itself on fewer k, v heads than query heads broadcasts them: the math path
    if attn_p or hd != dv or (s.traits.sdpa_direct and grouped):
        return _math(g, cx, q, k, v, kvlen, qb, s.attention_dropout if attn_p else 0.0, mask, nkv)
    # fused SDPA; repeat_kv when a mask is passed or head_dim > 256 (no enable_gqa then)
    kr, vr = k, v
    # (one KV head: expand + reshape of a size-1 dim is a view, no copy)
    if grouped and nkv > 1 and (mask is not None or hd > 256) and ql > 1 and not s.traits.sdpa_direct:
        kr = g.new(b * nh * kvlen * hd * qb, k.rg)
        g.op((k,), (kr,))
        vr = g.new(b * nh * kvlen * dv * qb, v.rg)
        g.op((v,), (vr,))
    fm = None
    if mask is not None:
        fm = g.new(b * ql * kvlen * qb)  # bool mask converted to the query dtype inside SDPA
    out = g.new(b * ql * nh * dv * qb, True)
    lse = g.new(b * nh * ql * F32)
    g.op((q, kr, vr), (out,), (q, kr, vr, out, lse, fm))
    g.drop(lse, fm)
    if kr is not k:
        g.drop(kr, vr)
    if s.traits.rope_cat:  # q laid out (b, n, s, d): transpose(1, 2).contiguous() copies
        o2 = g.new(out.nb, out.rg)
        g.op((out,), (o2,))
        g.drop(out)
        return o2
    return out


def _math(g: Sim, cx: Cx, q: Tn, k: Tn, v: Tn, kvlen: int, qb: int, p: float, mask: Tn | None = None,
          nkv: int | None = None) -> Tn:
    """aten::_scaled_dot_product_attention_math on CPU: q, k, v in fp32, scaled q and k^T, scores,
    mask add, _safe_softmax, dropout noise and product, matmul with v, cast back. A bool mask passed
    in is first converted to the query's dtype (b x 1 x q x kv). k, v with `nkv` < n_h heads (a family
    calling SDPA directly) broadcast in the matmuls: each makes a contiguous n_h-head copy, which
    bmm saves.

    Source: pytorch-sdpa"""
    a = cx.spec.attention
    b, ql, nh, hd, dv = cx.b, cx.q, a.num_heads, a.head_dim, a.v_dim
    kh = nh if nkv is None or not cx.spec.traits.sdpa_direct else nkv
    sc = b * nh * ql * kvlen * F32
    fm = g.new(b * ql * kvlen * qb) if mask is not None else None  # where(mask, 0, -inf) in q's dtype
    q32 = cast(g, q, b * ql * nh * hd * F32)
    k32 = cast(g, k, b * kvlen * kh * hd * F32)
    if v.nb == b * kvlen * kh * dv * F32 and b == 1:  # fp32, batch 1: matmul's reshape is a view
        v32 = g.view(v)
    elif v.nb == b * kvlen * kh * dv * F32:  # fp32: a strided view, copied by matmul's reshape
        v32 = g.new(v.nb, v.rg)
        g.op((v,), (v32,))
    else:
        v32 = cast(g, v, b * kvlen * kh * dv * F32)
    qs = g.new(q32.nb, q32.rg)
    g.op((q32,), (qs,))
    ks = g.new(k32.nb, k32.rg)
    g.op((k32,), (ks,))
    kx = _expand(g, ks, b * nh * kvlen * hd * F32)
    att = g.new(sc, q32.rg or k32.rg)
    g.op((qs, kx), (att,), (qs if kx.rg else None, kx if qs.rg else None))  # matmul saves what the other's grad needs
    g.drop(ks, kx if kx is not ks else None)
    cm = None
    if fm is not None or not cx.spec.traits.encoder:  # bidirectional encoders pass no mask and is_causal=False
        cm = g.new(ql * kvlen * F32) if fm is None else None  # the causal mask as a float (L x S)
        att2 = g.new(sc, True)  # the mask add: out of place on fake tensors (as the truth runs), both alive
        g.op((att,), (att2,))
        g.drop(att)
        att = att2
    dr = softmax_dropout(g, att, sc, p, att)  # the float causal mask lives to the kernel's end
    aw = cast(g, dr, sc // F32 * qb)  # the returned weights attn.to(origin dtype), made before the matmul
    # MLA's v is a strided view of kv_b_proj's output and its fp32 copy keeps that layout: matmul's
    # reshape to (b n_h) x kv x d_v copies it (a view only at batch 1)
    strided = a.mla and b > 1 and v32.nb != v.nb
    vx = _expand(g, v32, b * nh * kvlen * dv * F32, copy=strided)
    o32 = g.new(b * ql * nh * dv * F32, True)
    g.op((dr, vx), (o32,), (dr, vx))
    g.drop(dr, v32, vx if vx is not v32 else None)
    out = cast(g, o32, b * ql * nh * dv * qb)
    g.drop(o32, q32, k32, qs, fm, aw, cm)  # query_acc, key_acc, query, the masks, weights: the kernel's locals
    o2 = g.new(out.nb, out.rg)  # output (b, n, s, d) -> transpose(1, 2).contiguous()
    g.op((out,), (o2,))
    g.drop(out)
    return o2


def softmax_dropout(g: Sim, att: Tn, sc: int, p: float, *dead: Tn | None) -> Tn:
    """_safe_softmax of the fp32 scores (saves its output; `dead` are released once it is made), then the
    dropout noise and product when p > 0.

    Source: pytorch-sdpa"""
    sm = g.new(sc, True)
    g.op((att,), (sm,), (sm,))
    g.drop(*dead)
    if p <= 0:
        return sm
    noise = g.new(sc)
    dr = g.new(sc, True)
    g.op((sm,), (dr,), (noise,))
    g.drop(noise, sm)
    return dr


def _expand(g: Sim, x: Tn, nb: int, copy: bool = False) -> Tn:
    """matmul broadcasting x over query heads (or reshaping a strided x: `copy`): expand, then reshape
    to 3-D copies it (nb bytes)."""
    if x.nb == nb and not copy:
        return x
    y = g.new(nb, x.rg)
    g.op((x,), (y,))
    return y
