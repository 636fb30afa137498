"""Mixture-of-experts blocks replayed on a `Sim`: the routers (softmax then top-k; Phi-3.5-MoE's
sparsemixer; ERNIE 4.5's fp32 router with its correction bias) and transformers' grouped_mm experts,
with shared experts where the family has them. Llama 4's all-experts block is memory.llama4_block.

Source: hf-moe
"""
from __future__ import annotations

from llmsize.memory.blocks import F32, Cx, act, cast, gated_mlp, linear
from llmsize.memory.blocks import add_promoted as _add
from llmsize.memory.blocks import scaled
from llmsize.memory.sim import Sim, Tn


def _softmax_topk(g: Sim, cx: Cx, x: Tn) -> tuple[Tn, Tn, Tn | None]:
    """logits = x W_r^T; p = softmax(logits.float()); top-k of p, cast to the routing dtype.
    Returns (routing weights T x k, expert ids T x k int64, a tensor held to the block's end or None).

    Source: hf-mixtral"""
    s, e = cx.spec, cx.spec.moe
    assert e is not None
    T, d, c, k, E = cx.T, s.hidden_size, cx.c, e.top_k, e.num_experts
    if s.traits.router_fp32 and "gate" not in cx.lora:  # fp32 copies of the input and the weight, saved
        x32 = cast(g, x, T * d * F32)
        w32 = g.new(E * d * F32) if cx.w != F32 else None  # weight.float() is the weight when it is fp32
        logits = g.new(T * E * F32, x.rg or cx.train_base)
        g.op((x32,), (logits,), (x32 if cx.train_base else None, w32 if x.rg else None),
             pgrad=E * d * cx.w if cx.train_base else 0, ptemp=E * d * F32 if cx.train_base else 0)
        g.drop(x32, w32)
    else:
        logits = linear(g, cx, x, d, E, "gate")
    l32 = cast(g, logits, T * E * F32)
    probs = g.new(T * E * F32, logits.rg)
    g.op((l32,), (probs,), (probs,))
    g.drop(l32)  # the logits are returned: `_` in the block holds them to its end
    topv = g.new(T * k * F32, probs.rg)
    idx = g.new(T * k * 8)
    g.op((probs,), (topv,), (idx,))
    g.drop(probs)
    wb = F32 if s.traits.routing_fp32 else c  # Mixtral keeps fp32 routing weights
    if s.traits.router_scale_tensor:  # DeepSeek-V2: topk_weights * routed_scaling_factor (a new tensor)
        topv = scaled(g, topv)
    rw = cast(g, topv, T * k * wb)
    g.drop(topv)
    return rw, idx, logits


def topk_softmax(g: Sim, cx: Cx, x: Tn) -> tuple[Tn, Tn, Tn | None]:
    """gpt-oss / GraniteMoE: logits = x W_r^T (+ b) (GraniteMoE: .float()), top-k of the logits, softmax
    over those k (saves its output), cast to the input dtype. The logits are returned and held.

    Source: hf-gpt-oss"""
    s, e = cx.spec, cx.spec.moe
    assert e is not None
    T, d, c, k, E = cx.T, s.hidden_size, cx.c, e.top_k, e.num_experts
    logits = linear(g, cx, x, d, E, "gate", e.router_bias)
    if s.traits.router_kind == "topk_softmax_fp32":  # router_logits = F.linear(...).float()
        l32 = cast(g, logits, T * E * F32)
        g.drop(logits)
        logits = l32
    lb = logits.nb // (T * E)
    topv = g.new(T * k * lb, logits.rg)
    idx = g.new(T * k * 8)
    g.op((logits,), (topv,), (idx,))
    sm = g.new(T * k * lb, topv.rg)
    g.op((topv,), (sm,), (sm,))
    g.drop(topv)
    rw = cast(g, sm, T * k * c)
    g.drop(sm)
    return rw, idx, logits


def ernie_router(g: Sim, cx: Cx, x: Tn) -> tuple[Tn, Tn, Tn | None]:
    """Ernie4_5_MoeTopKRouter with autocast off and an fp32 weight: logits = x.float() W^T (T x E fp32,
    returned and held to the block's end); p = softmax(logits); top-k of p + correction bias (its
    values kept in a local); gather p at the ids; p_k / clamp(sum p_k); cast to the input dtype.

    Saved (training): x.float() T d 4 (the weight trains), p T E 4, the gathered p_k T k 4 and its
    clamped sum T 4.

    Source: hf-ernie4_5_moe"""
    s, e = cx.spec, cx.spec.moe
    assert e is not None
    T, d, k, E = cx.T, s.hidden_size, e.top_k, e.num_experts
    w_rg = cx.train_base or "gate" in cx.lora
    x32 = cast(g, x, T * d * F32)
    logits = g.new(T * E * F32, x.rg or w_rg)
    g.op((x32,), (logits,), (x32 if w_rg else None,), pgrad=E * d * F32 if cx.train_base else 0)
    g.drop(x32)
    p = g.new(T * E * F32, logits.rg)
    g.op((logits,), (p,), (p,))
    pb = g.new(T * E * F32)  # moe_statics: p + e_score_correction_bias (top-k's input, no gradient)
    vals = g.new(T * k * F32)  # `_` of torch.topk: alive to the return
    idx = g.new(T * k * 8)
    g.drop(pb)
    pk = g.new(T * k * F32, p.rg)
    g.op((p,), (pk,), (idx,))
    g.drop(p)
    sm = g.new(T * F32, pk.rg)
    g.op((pk,), (sm,))
    cl = g.new(T * F32, sm.rg)
    g.op((sm,), (cl,), (sm,))
    g.drop(sm)
    nw = g.new(T * k * F32, pk.rg)
    g.op((pk, cl), (nw,), (pk, cl))
    g.drop(pk, cl)
    rw = cast(g, nw, T * k * (x.nb // (T * d)))
    g.drop(nw, vals)
    return rw, idx, logits


def sparsemixer(g: Sim, cx: Cx, x: Tn) -> tuple[Tn, Tn, Tn | None]:
    """Phi-3.5-MoE's sparsemixer on the model-dtype logits, twice (top-1, then top-1 of the rest):
    a no-grad threshold mask (bool T x E) and its factor, masked_fill, (training: Gumbel sampling
    from an exponential draw), softmax, gather; in training PhimoeMultiplier saves the softmax.
    Then the two T x 1 multipliers and ids are concatenated (k = 2).

    Saved (training), per pass: the mask T E 1, the softmax T E w; the scatter's ids T 8.

    Source: hf-phimoe"""
    s, e = cx.spec, cx.spec.moe
    assert e is not None
    T, d, E = cx.T, s.hidden_size, e.num_experts
    logits = linear(g, cx, x, d, E, "gate")
    w = logits.nb // (T * E)
    # ASSUMES: the no-grad threshold temporaries (abs, sub, div: T x E each) die inside their statements
    # and the Gumbel draw's three T x E tensors one after another (measured cases within 0.01%)
    mults, ids, local = [], [], []
    src = logits
    for second in (False, True):
        if second:  # masked_scores = scores.scatter(-1, selected, -inf)
            src = g.new(logits.nb, logits.rg)
            g.op((logits,), (src,), (ids[0],))
            local.append(src)
        thr, mi = g.new(T * w), g.new(T * 8)  # max over experts (no grad)
        fac = g.new(T * E * w)  # scores.abs().clamp(min=thr)
        mask = g.new(T * E)  # ((thr - scores) / factor) > 2 eps
        g.drop(thr)
        mg = g.new(T * E * w, src.rg)  # masked_fill(mask, -inf)
        g.op((src,), (mg,), (mask,))
        sel = mi
        if cx.training:  # (masked - empty_like().exponential_().log()).max(-1)[1]
            noise = g.new(T * E * w)
            lg = g.new(T * E * w)
            g.drop(noise)
            sub = g.new(T * E * w)
            g.drop(lg)
            sel = g.new(T * 8)
            g.drop(sub)
        sm = g.new(T * E * w, mg.rg)
        g.op((mg,), (sm,), (sm,))
        g.drop(mg)
        mo = g.new(T * w, sm.rg)  # gather at the selected id
        g.op((sm,), (mo,), (sel,))
        if cx.training:  # max of the softmax, the mask for one (T x 1), PhimoeMultiplier saves sm
            mx = g.new(T * w)
            m1 = g.new(T * w)
            mult = g.new(T * w, True)
            g.op((mo,), (mult,), (mo, sel, sm))
            local += [mx, m1, mo]
        else:
            mult = mo
        local += [fac, mask, sm, mi] + ([sel] if sel is not mi else [])
        mults.append(mult)
        ids.append(sel)
    rw = g.new(T * 2 * w, True)  # torch.concat of the two multipliers and ids
    g.op(tuple(mults), (rw,))
    idx = g.new(T * 2 * 8)
    g.drop(*mults, *local)
    return rw, idx, logits


def _clamped_swiglu(g: Sim, gu: Tn, n: int) -> Tn:
    """gpt-oss _apply_gate on [gate; up] interleaved (S x 2f): gate = clamp(gate); up = clamp(up);
    glu = gate * sigmoid(gate * alpha); out = (up + 1) * glu. n: bytes of one S x f tensor.

    Source: hf-gpt-oss"""
    gate, up = g.view(gu, n), g.view(gu, n)
    g.op((gu,), (gate, up))
    gc = g.new(n, True)
    g.op((gate,), (gc,), (gate,))  # clamp saves its input (the mask of kept values)
    uc = g.new(n, True)
    g.op((up,), (uc,), (up,))
    g.drop(gate, up)
    ga = g.new(n, True)
    g.op((gc,), (ga,))
    sg = g.new(n, True)
    g.op((ga,), (sg,), (sg,))
    g.drop(ga)
    glu = g.new(n, True)
    g.op((gc, sg), (glu,), (gc, sg))
    g.drop(sg)
    u1 = g.new(n, True)
    g.op((uc,), (u1,))
    out = g.new(n, True)
    g.op((u1, glu), (out,), (u1, glu))
    g.drop(u1, glu, uc, gc)
    return out


def _jitter(g: Sim, x: Tn) -> Tn:
    """hidden_states *= torch.empty_like(hidden_states).uniform_(1 - eps, 1 + eps): in place; the
    multiplication saves the noise (T x d) for backward.

    Source: hf-phimoe"""
    noise = g.new(x.nb)
    y = Tn(x.st, x.nb, x.rg)
    x.st.refs += 1
    g.op((x,), (y,), (noise,))
    g.drop(noise)
    return y


def moe_block(g: Sim, cx: Cx, x: Tn) -> Tn:
    """Router + transformers' grouped_mm experts (+ Qwen2-MoE shared expert with its sigmoid gate).

    S = T k routed rows: gathered inputs S x d, [gate; up] S x 2f_e, act and product S x f_e each,
    down output S x d, weighted S x d (fp32 for Mixtral, whose router weights stay fp32), re-ordered
    copy S x d, then the sum over k back to T x d.

    Source: hf-moe"""
    s, e = cx.spec, cx.spec.moe
    assert e is not None
    T, d, c, k, E, f = cx.T, s.hidden_size, cx.c, e.top_k, e.num_experts, e.expert_intermediate_size
    S = T * k
    sh = None
    last = s.traits.shared_expert_last
    if e.shared_intermediate_size and not last:  # Qwen2-MoE and ERNIE run the shared experts first
        sh = gated_mlp(g, cx, x, e.shared_intermediate_size, False, s.mlp.activation, e.shared_bias)
    jit = None
    if cx.training and e.input_jitter:  # Phi-3.5-MoE: x *= uniform noise, in the block and in the router
        j1 = _jitter(g, x)
        x = jit = _jitter(g, j1)
        g.drop(j1)
    wb = F32 if s.traits.routing_fp32 else c  # Mixtral keeps fp32 routing weights
    route = {"sparsemixer": sparsemixer, "ernie": ernie_router, "topk_softmax": topk_softmax,
             "topk_softmax_fp32": topk_softmax}.get(s.traits.router_kind, _softmax_topk)
    rw, idx, held = route(g, cx, x)
    perm = g.new(S * 8)  # sort(expert_ids) -> (values, perm)
    srt = g.new(S * 8)
    tok = g.new(S * 8)  # perm // k: a temporary unless the index saves it
    ce = cx.w if cx.amp else c  # grouped_mm is not autocast: the experts run in the weights' dtype
    sel = g.new(S * d * ce, x.rg)  # hidden_states[perm // k] (in the weights' dtype)
    g.op((x,), (sel,), (tok,))
    g.drop(tok)
    sw = g.new(S * wb, rw.rg)  # routing weights [perm] (top_k_weights itself stays bound in the caller)
    g.op((rw,), (sw,), (perm,))
    hist = g.new(S * F32 + 2 * E * F32)  # histc input expert_ids_g.float(), tokens_per_expert, offsets
    k2 = 2 if e.expert_kind == "gated" else 1
    pg = E * d * f * k2 * cx.w if cx.train_base else 0
    lo = "experts" in cx.lora  # peft ParamWrapper adapters: rank r E per parameter (2 r E for [gate; up])
    # (a layer whose input needs no gradient and whose experts are frozen records nothing: hybrids' layer 0)
    gu = g.new(S * 2 * f * ce if e.expert_kind == "gated" else S * f * ce, sel.rg or cx.train_base or lo)
    pg_lo = k2 * cx.lora_r * E * (d + k2 * f) * cx.lora_bytes if lo else 0
    g.op((sel,), (gu,), (sel if cx.train_base else None,), pgrad=pg + pg_lo)
    bsel = dbsel = None
    if e.expert_bias:  # bias[expert_ids]: one row per routed token, added in place (out.add_(bias))
        bsel = g.new(gu.nb, cx.train_base)
        g.op((), (bsel,), pgrad=E * k2 * f * cx.w if cx.train_base else 0)
    if e.gate_fn == "clamped_swiglu":
        m = _clamped_swiglu(g, gu, S * f * ce)
        g.drop(gu)
    elif e.expert_kind == "gated":
        gate, up = g.view(gu, S * f * ce), g.view(gu, S * f * ce)
        g.op((gu,), (gate, up))
        a = act(g, gate, "silu")
        m = g.new(S * f * ce, gu.rg)
        g.op((a, up), (m,), (a, up))
        g.drop(a, gate, up, gu)
    else:
        m = act(g, gu, "silu")
        g.drop(gu)
    dn = g.new(S * d * ce, m.rg or cx.train_base or lo)
    g.op((m,), (dn,), (m if cx.train_base else None,),
         pgrad=(E * f * d * cx.w if cx.train_base else 0) + (cx.lora_r * E * (f + d) * cx.lora_bytes if lo else 0))
    g.drop(m)
    if e.expert_bias:
        dbsel = g.new(dn.nb, cx.train_base)
        g.op((), (dbsel,), pgrad=E * d * cx.w if cx.train_base else 0)
    wo = g.new(S * d * max(ce, wb), dn.rg or sw.rg)
    # fp32 routing weights promote the product: its backward makes both input gradients S x d fp32 first
    g.op((dn, sw), (wo,), (dn, sw), btemp=2 * S * d * F32 if wo.nb > dn.nb else 0)
    inv = g.new(S * 8)
    wo2 = g.new(wo.nb, wo.rg)
    g.op((wo,), (wo2,), (inv,))
    g.drop(wo)
    fin = g.new(T * d * max(ce, wb), wo2.rg)
    g.op((wo2,), (fin,))
    g.drop(wo2)
    out = cast(g, fin, T * d * x.nb // (T * d))
    g.drop(fin, sel, sw, dn, perm, srt, inv, idx, bsel, dbsel, held, rw, hist, jit)
    if e.shared_intermediate_size and last:  # hidden_states + shared_experts(residuals)
        sh = gated_mlp(g, cx, x, e.shared_intermediate_size, False, s.mlp.activation, e.shared_bias)
        y = _add(g, out, sh)
        g.drop(out, sh)
        return y
    if sh is not None and not e.shared_expert_gate:  # ERNIE: final_hidden_states + shared_output
        y = _add(g, out, sh)
        g.drop(out, sh)
        return y
    if sh is not None:
        gl = linear(g, cx, x, d, 1, "shared_expert_gate")
        sg = g.new(T * c, gl.rg)
        g.op((gl,), (sg,), (sg,))
        g.drop(gl)
        sh2 = g.new(sh.nb, True)
        g.op((sg, sh), (sh2,), (sg, sh))
        g.drop(sg, sh)
        y = _add(g, out, sh2)
        g.drop(out, sh2)
        return y
    return out
