"""Llama 4's own attention steps and MoE block, replayed on a `Sim` (transformers' modeling_llama4).

Attention, rotary layers: q.float() and k.float() viewed as complex pairs, multiplied by the complex
freqs_cis (new fp32-sized tensors), cast back to q's dtype; then (use_qk_norm) an L2 norm in fp32 over
each head. NoPE layers (attn_temperature_tuning): q times a per-position fp32 scale (an fp32 product,
cast back).

MoE: router logits T x E, top-k, a -inf T x E filled with the kept logits, sigmoid in fp32 cast back;
the input repeated for every expert (E T x d) and scaled by its column of scores; torch.bmm through
[gate; up] (E T x 2f), silu(gate) * up, bmm through down (E T x d): every expert runs on every token.
The shared expert (a SwiGLU of width f) runs after, and the sum over experts is added to it in place.

Source: hf-llama4
"""
from __future__ import annotations

from llmsize.memory.blocks import F32, Cx, act, cast, gated_mlp, linear
from llmsize.memory.sim import Sim, Tn


def _l2norm(g: Sim, x: Tn, n: int, rows: int) -> Tn:
    """Llama4TextL2Norm: (x32 * rsqrt(mean(x32^2) + eps)).type_as(x) over each head (no weight).

    Saves x32 (pow and mul) and the rsqrt (one per row): n + rows fp32 elements.

    Source: hf-llama4"""
    xb = x.nb // n
    x32 = cast(g, x, n * F32)
    p = g.new(n * F32, x32.rg)
    g.op((x32,), (p,), (x32,))
    m = g.new(rows * F32, x32.rg)
    g.op((p,), (m,))
    g.drop(p)
    me = g.new(rows * F32, x32.rg)
    g.op((m,), (me,))
    g.drop(m)
    r = g.new(rows * F32, x32.rg)
    g.op((me,), (r,), (r,))
    g.drop(me)
    y32 = g.new(n * F32, x32.rg)
    g.op((x32, r), (y32,), (x32, r))
    g.drop(x32, r)
    y = cast(g, y32, n * xb)
    g.drop(y32)
    return y


def llama4_qk(g: Sim, cx: Cx, q: Tn, k: Tn) -> tuple[Tn, Tn]:
    """Rotary layers: complex rotary on fp32 copies, then the L2 q/k norm; NoPE layers: the temperature.

    B_rope = (n_q + n_kv) (4 + 4 + w) per token-head-dim element, live at once inside apply_rotary_emb

    Source: hf-llama4"""
    s, t = cx.spec, cx.spec.traits
    a = s.attention
    nq, nk = cx.T * a.num_heads * a.head_dim, cx.T * a.num_kv_heads * a.head_dim
    if cx.rope:
        xb = q.nb // nq
        q32, k32 = cast(g, q, nq * F32), cast(g, k, nk * F32)  # view_as_complex(x.float().reshape(..., -1, 2))
        qp, kp = g.new(nq * F32, q.rg), g.new(nk * F32, k.rg)  # xq_ * freqs_cis (saves only freqs_cis)
        g.op((q32,), (qp,))
        g.op((k32,), (kp,))
        qo, ko = cast(g, qp, nq * xb), cast(g, kp, nk * xb)  # view_as_real(...).flatten(3).type_as(x)
        g.drop(q32, k32, qp, kp, q, k)
        q, k = qo, ko
        if t.qk_l2_norm:
            q2 = _l2norm(g, q, nq, cx.T * a.num_heads)
            k2 = _l2norm(g, k, nk, cx.T * a.num_kv_heads)
            g.drop(q, k)
            q, k = q2, k2
        return q, k
    if t.attn_temperature:  # log1p(floor((pos + 1) / floor_scale)) * attn_scale + 1: a few q-long fp32 rows
        sc = g.new(cx.q * F32)
        q32 = g.new(nq * F32, q.rg)  # (q * attn_scales): promoted to fp32, then .to(q.dtype)
        g.op((q,), (q32,), (sc,))
        q2 = cast(g, q32, q.nb)
        g.drop(q32, sc, q)
        q = q2
    return q, k


def llama4_moe(g: Sim, cx: Cx, x: Tn) -> Tn:
    """Llama4TextMoe on x (T x d): every expert on every token, then the shared expert.

    Saved (training): sigmoid scores T E 4, repeated input E T d, its scaled copy E T d, [gate; up]
    E T 2f, silu E T f, product E T f: E T (2d + 4f) elements in the compute dtype.

    Source: hf-llama4"""
    s, e = cx.spec, cx.spec.moe
    assert e is not None
    T, d, c, E, k, f = cx.T, s.hidden_size, cx.c, e.num_experts, e.top_k, e.expert_intermediate_size
    lo = "experts" in cx.lora
    logits = linear(g, cx, x, d, E, "gate")  # router_logits: returned, alive to the end of the block
    topv = g.new(T * k * logits.nb // (T * E), logits.rg)
    idx = g.new(T * k * 8)
    g.op((logits,), (topv,), (idx,))
    full = g.new(T * E * logits.nb // (T * E))  # full_like(logits, -inf).scatter_(1, idx, topv)
    sc = Tn(full.st, full.nb, topv.rg and g.grad)
    full.st.refs += 1
    g.op((full, topv), (sc,), (idx,))
    g.drop(topv, full)
    s32 = cast(g, sc, T * E * F32)
    sg = g.new(T * E * F32, s32.rg)
    g.op((s32,), (sg,), (sg,))
    g.drop(s32, sc)
    scores = cast(g, sg, T * E * c)
    g.drop(sg, idx)
    rep = g.new(E * T * d * c, x.rg)  # hidden_states.repeat(E, 1)
    g.op((x,), (rep,))
    col = g.new(E * T * c, scores.rg)  # scores.transpose(0, 1).reshape(-1, 1): a copy
    g.op((scores,), (col,))
    rin = g.new(E * T * d * c, rep.rg or col.rg)
    g.op((rep, col), (rin,), (rep if col.rg else None, col if rep.rg else None))
    g.drop(rep, col)
    w_rg = cx.train_base or lo
    gu = g.new(E * T * 2 * f * c, rin.rg or w_rg)
    g.op((rin,), (gu,), (rin if w_rg else None,), pgrad=E * d * 2 * f * cx.w if cx.train_base else 0)
    gate, up = g.view(gu, E * T * f * c), g.view(gu, E * T * f * c)
    g.op((gu,), (gate, up))
    a = act(g, gate, "silu")
    m = g.new(E * T * f * c, a.rg or up.rg)
    g.op((up, a), (m,), (up if a.rg else None, a if up.rg else None))
    g.drop(a)
    dn = g.new(E * T * d * c, m.rg or w_rg)
    g.op((m,), (dn,), (m if w_rg else None,), pgrad=E * f * d * cx.w if cx.train_base else 0)
    g.drop(m, gate, up, gu)  # gate_up dies when Llama4TextExperts.forward returns
    out = gated_mlp(g, cx, x, e.shared_intermediate_size, False, s.mlp.activation)
    sm = g.new(T * d * c, dn.rg)  # routed_out.reshape(E, T, d).sum(dim=0)
    g.op((dn,), (sm,))
    g.drop(dn)
    y = Tn(out.st, out.nb, (out.rg or sm.rg) and g.grad)  # out.add_(...): in place
    out.st.refs += 1
    g.op((out, sm), (y,))
    g.drop(out, sm, rin, scores, logits)
    return y
