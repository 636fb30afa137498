"""Jamba's Mamba-1 mixer (JambaMambaMixer) replayed under autograd on transformers' torch path: the
sequential selective scan, one recurrent step per token, tensor by tensor.

Symbols: T = b·s tokens, I = d_in, N states, R the dt rank, c the compute dtype; fp32 = 4 B.
Saved per layer (everything trains):
  in_proj input T·d·c and output T·2·I·c (conv input, gate); conv output b·I·(s + K - 1)·c (SiLU's input);
  x_proj's contiguous input T·I·c; the dt/B/C RMSNorms (fp32 inputs T·(R + 2N)·4, outputs); dt_proj
  input; softplus input T·I·c, dt T·I·c; discrete A = exp(A·dt) and discrete B = dt·B (b·I·s·N·4 each),
  B.float() T·N·4, x.float() T·I·4; per step the previous fp32 state b·I·N·4 (the product dA·h saves it)
  and its copy in the input dtype b·I·N·c (the matmul with C saves it): s·b·I·N·(4 + c) in all; the D
  skip's input, the SiLU-gated product's operands (T·I·4, silu(z) T·I·c), out_proj's input T·I·c.
Backward: each step's slices of discrete A and ΔB·x get their gradient through SelectBackward, a
zero-filled tensor of the whole b·I·s·N·4, added to the gradient accumulated so far into a new tensor
(three such tensors live at once).

Source: hf-jamba
"""
from __future__ import annotations

from llmsize.memory.blocks import Cx, cast, linear, rmsnorm
from llmsize.memory.sim import Sim, Tn
from llmsize.memory.ssm_train import F32, _copy, _new, _res, _sv


def mamba1_train(g: Sim, cx: Cx, h: Tn) -> Tn:
    """One Mamba-1 mixer forward on the normed input h (T x d) with autograd recording; returns its
    output (T x d, compute dtype).

    ASSUMES: A = -exp(A_log.float()), D.float() and dt_proj.bias.float() (I·N and I elements) are not
    replayed; the mixer runs the sequential loop (no mambapy, not compiled).

    Source: hf-jamba"""
    s_, m = cx.spec, cx.spec.ssm
    assert m is not None
    b, s, c, w, p = cx.b, cx.q, cx.c, cx.w, cx.train_base
    d, I, N, R, K = s_.hidden_size, m.inner, m.state_size, m.dt_rank, m.conv_kernel
    T = b * s
    big = T * I * N * F32
    leaf = s_.traits.leaf
    proj = linear(g, cx, h, d, 2 * I, leaf("ssm_in"), m.in_bias)
    xbc, gate = g.view(proj, T * I * c), g.view(proj, T * I * c)
    g.op((proj,), (xbc, gate))  # chunk(2)
    co = _new(g, b * I * (s + K - 1) * c, (xbc,), (xbc,), pgrad=(I * K + (I if m.conv_bias else 0)) * w if p else 0)
    cs = g.view(co, T * I * c)
    g.op((co,), (cs,))
    g.drop(co)
    act = _new(g, T * I * c, (cs,), (cs,))  # SiLU saves its input
    g.drop(cs)
    xc = _copy(g, act)  # x_proj's input (the transposed conv output) made contiguous
    xp = linear(g, cx, xc, I, R + 2 * N, leaf("ssm_x"))
    g.drop(xc)
    parts = [g.view(xp, T * n * c) for n in (R, N, N)]
    g.op((xp,), tuple(parts))  # split into time_step, B, C
    ts, B, C = (rmsnorm(g, cx, t, n, p) for t, n in zip(parts, (R, N, N)))  # dt/B/C layernorms
    dtp = linear(g, cx, ts, R, I, leaf("ssm_dt"))  # dt_proj.weight @ time_step^T (no bias here)
    # mamba_selective_scan
    dt1 = _new(g, T * I * c, (dtp,), pgrad=I * w if p else 0)  # + dt_proj.bias
    dt = _new(g, dt1.nb, (dt1,), (dt1,))  # softplus saves its input
    g.drop(dt1)
    ad = _new(g, big, (dt,), (dt if p else None,), pgrad=I * N * w if p else 0)  # A · dt (A from A_log)
    dA = _res(g, big, ad)  # exp
    g.drop(ad)
    bf = cast(g, B, T * N * F32)  # B.float()
    dB = _new(g, big, (dt, bf), (_sv(dt, bf.rg), _sv(bf, dt.rg)), btemp=big)  # dt · B (B's gradient summed)
    xf = cast(g, act, T * I * F32)  # x.float()
    dBu = _new(g, big, (dB, xf), (_sv(dB, xf.rg), _sv(xf, dB.rg)), btemp=big)  # ΔB·x (x's gradient summed)
    one, one_c, y1 = b * I * N * F32, b * I * N * c, b * I * c
    state = g.new(one_c)  # zeros, the input dtype
    ys = []
    for _ in range(s):
        a_i, u_i, c_i = g.view(dA, one), g.view(dBu, one), g.view(C, b * N * c)
        # SelectBackward: a zero-filled gradient of the whole tensor, added out of place to the sum so far
        g.op((dA,), (a_i,), btemp=big)
        g.op((dBu,), (u_i,), btemp=big)
        g.op((C,), (c_i,), btemp=C.nb)
        pr = _new(g, one, (a_i, state), (_sv(a_i, state.rg), _sv(state, a_i.rg)))
        new = _new(g, one, (pr, u_i))
        g.drop(pr, state, a_i, u_i)
        state = new
        sc = _new(g, one_c, (state,))  # ssm_state.to(input dtype)
        y = _new(g, y1, (sc, c_i), (_sv(sc, c_i.rg), _sv(c_i, sc.rg)))  # @ C[:, i]: saves both
        g.drop(sc, c_i)
        ys.append(y)
    st = g.new(T * I * c, any(y.rg for y in ys))  # torch.stack
    g.op(tuple(ys), (st,))
    g.drop(*ys)
    xd = _new(g, T * I * F32, (act,), (act if p else None,), pgrad=I * w if p else 0)  # x · D (fp32)
    so = _new(g, T * I * F32, (st, xd))
    g.drop(st, xd)
    sz = _new(g, T * I * c, (gate,), (gate,))  # silu(z)
    y = _new(g, T * I * F32, (so, sz), (_sv(so, sz.rg), _sv(sz, so.rg)))
    g.drop(so, sz, dt, dA, bf, dB, xf, dBu, state)
    yc = _new(g, T * I * c, (y,))  # .transpose(1, 2).to(dtype)
    g.drop(y)
    o = linear(g, cx, yc, I, d, leaf("ssm_out"), m.out_bias)
    g.drop(yc, proj, xbc, gate, act, xp, *parts, ts, B, C, dtp)
    return o
