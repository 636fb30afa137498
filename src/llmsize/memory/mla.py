"""Multi-head latent attention (DeepSeek-V2/V3) replayed on a `Sim`, as transformers 5.23 runs it:
the KV cache holds the compressed latent (kv_a_layernorm output, r_kv per token) and the rotary key
(d_rope per token), and keys and values are expanded from the latent by kv_b_proj at every step.

Per token per layer the cache is (r_kv + d_rope) x bytes: 576 x 2 = 1,152 B for DeepSeek-V3, where the
expanded keys and values would be n_h (d_qk + d_v) x 2 = 81,920 B.

Source: hf-deepseek-v3
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.memory.blocks import F32, Cx, linear, rmsnorm
from llmsize.memory.sim import Sim, Tn


def _rope_interleave(g: Sim, x: Tn, n: int, eb: int) -> Tn:
    """cat([x1 cos - x2 sin, x2 cos + x1 sin]) over the even/odd halves x1 = x[..., 0::2], x2 = x[..., 1::2]
    (n elements; eb bytes per element of the products). Nothing is saved: cos and sin do not train."""
    half = n // 2 * eb
    parts = []
    for _ in range(2):
        a = g.new(half, x.rg)
        g.op((x,), (a,))
        b = g.new(half, x.rg)
        g.op((x,), (b,))
        s = g.new(half, x.rg)
        g.op((a, b), (s,))
        g.drop(a, b)
        parts.append(s)
    out = g.new(n * eb, x.rg)
    g.op(tuple(parts), (out,))
    g.drop(*parts)
    return out


def rope_complex(g: Sim, x: Tn, n: int, xb: int) -> Tn:
    """DeepSeek-V2's apply_rotary_emb on n elements of xb bytes: view_as_complex(x.float()) * freqs_cis,
    view_as_real, type_as(x). The fp32 copy (none when x is fp32), the complex product (n x 4 bytes),
    the cast back (none when fp32). Nothing is saved: the product saves only freqs_cis, the table.

    Source: hf-deepseek-v2"""
    # ASSUMES: the complex product saves only freqs_cis (the table the model keeps once); the fp32 copy dies
    xf = g.view(x) if xb == F32 else g.new(n * F32, x.rg)
    g.op((x,), (xf,))
    prod = g.new(n * F32, x.rg)
    g.op((xf,), (prod,))
    g.drop(xf)
    if xb == F32:
        return prod
    out = g.new(n * xb, x.rg)
    g.op((prod,), (out,))
    g.drop(prod)
    return out


def rope_half(g: Sim, x: Tn, n: int, eb: int, xb: int, cs: tuple[Tn, Tn] | None = None) -> Tn:
    """x cos + rotate_half(x) sin on n elements: products in eb bytes (the dtype of cos/sin), the
    rotated copy in the input's xb bytes; the products save cos and sin (`cs`, when they are per-call
    copies; the model-level tables are counted once by the caller)."""
    t1 = g.new(n * eb, x.rg)
    g.op((x,), (t1,), (cs[0] if cs else None,))
    rh = g.new(n * xb, x.rg)
    g.op((x,), (rh,))
    t2 = g.new(n * eb, x.rg)
    g.op((rh,), (t2,), (cs[1] if cs else None,))
    g.drop(rh)
    out = g.new(n * eb, x.rg)
    g.op((t1, t2), (out,))
    g.drop(t1, t2)
    return out


def mla_projections(g: Sim, cx: Cx, h: Tn, old: tuple[Tn, Tn] | None
                    ) -> tuple[Tn, Tn, Tn, Tn | None, Tn | None, int, list[Tn]]:
    """q (T x n_h d_qk, contiguous), expanded k (b x n_h x kv x d_qk) and v (a view into kv_b_proj's output),
    the cached latent and rotary key (generate), the key length, and the tensors the forward's Python
    locals keep alive until it returns (q_states via q_pass, compressed_kv, the normed latent, the
    rotary outputs).

    q = q_b(norm(q_a(h))) (or q_proj(h)); [c_kv; k_rot] = kv_a(h); c_kv = norm(c_kv); rotary on q_rot, k_rot;
    cache <- (c_kv, k_rot); [k_nope; v] = kv_b(c_kv); k = [k_nope; k_rot] (new_empty + copy_).

    Source: hf-deepseek-v3"""
    s, a = cx.spec, cx.spec.attention
    T, c, b = cx.T, cx.c, cx.b
    d, nh, hd, dv, dr = s.hidden_size, a.num_heads, a.head_dim, a.v_dim, a.qk_rope_head_dim
    r = a.kv_lora_rank
    assert r is not None
    nope = hd - dr
    if a.q_lora_rank:
        qa = linear(g, cx, h, d, a.q_lora_rank, "q_a_proj", a.qkv_bias)
        qn = rmsnorm(g, cx, qa, a.q_lora_rank, cx.train_base)
        g.drop(qa)
        q = linear(g, cx, qn, a.q_lora_rank, nh * hd, "q_b_proj")
        g.drop(qn)
    else:
        q = linear(g, cx, h, d, nh * hd, "q_proj")
    qb = q.nb // (T * nh * hd)
    q_pass, q_rot = g.view(q, T * nh * nope * qb), g.view(q, T * nh * dr * qb)
    g.op((q,), (q_pass, q_rot))
    ckv = linear(g, cx, h, d, r + dr, "kv_a_proj_with_mqa", a.qkv_bias)
    kb_ = ckv.nb // (T * (r + dr))
    kv_nope, k_rot = g.view(ckv, T * r * kb_), g.view(ckv, T * dr * kb_)
    g.op((ckv,), (kv_nope, k_rot))
    latent = rmsnorm(g, cx, kv_nope, r, cx.train_base)
    g.drop(kv_nope)
    eb = max(F32 if cx.amp else cx.w, qb)
    if s.traits.rope_complex:  # fp32 products, cast back to the projections' dtype
        q_rot2, k_rot2 = rope_complex(g, q_rot, T * nh * dr, qb), rope_complex(g, k_rot, T * dr, kb_)
    else:
        rope = _rope_interleave if a.rope_interleave else (lambda g_, x, n, e: rope_half(g_, x, n, e, qb))
        q_rot2 = rope(g, q_rot, T * nh * dr, eb)
        k_rot2 = rope(g, k_rot, T * dr, max(F32 if cx.amp else cx.w, kb_))
    g.drop(q_rot, k_rot)
    k_rot = k_rot2
    ck = cv = None
    kvlen = cx.kv
    if cx.cache:  # past_key_values.update(kv_nope, k_rot): torch.cat on the latent and the rotary key
        kbytes = cx.kv_bytes or c
        ck = g.new((old[0].nb if old else 0) + b * cx.q * r * kbytes)
        cv = g.new((old[1].nb if old else 0) + b * cx.q * dr * kbytes)
        if old:
            g.drop(*old)
        g.drop(latent, k_rot)
        latent, k_rot = g.view(ck), g.view(cv)
        kvlen = ck.nb // (b * r * kbytes)
    qs = g.new(T * nh * hd * max(qb, eb), True)  # cat((q_pass, q_rot))
    g.op((q_pass, q_rot2), (qs,))
    g.drop(q_pass)
    # expand_kv: kv_b_proj over every cached token, split into k_nope and v (views)
    lb = latent.nb // (b * kvlen * r)
    sub = replace(cx, b=1, q=b * kvlen)  # sized over b x kv rows
    kvb = linear(g, sub, latent, r, nh * (nope + dv), "kv_b_proj")
    ob = kvb.nb // (b * kvlen * nh * (nope + dv))
    k_nope, v = g.view(kvb, b * kvlen * nh * nope * ob), g.view(kvb, b * kvlen * nh * dv * ob)
    g.op((kvb,), (k_nope, v))
    g.drop(kvb)
    k = g.new(b * kvlen * nh * hd * lb, True)  # new_empty + copy_ of k_nope and the expanded k_rot
    g.op((k_nope, k_rot), (k,))
    g.drop(k_nope)
    return qs, k, v, ck, cv, kvlen, [q, ckv, latent, k_rot, q_rot2]
