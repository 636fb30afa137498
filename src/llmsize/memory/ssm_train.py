"""The Mamba-2 mixer (Mamba2Mixer, GraniteMoeHybridMambaLayer, FalconH1Mixer) replayed under autograd on
transformers' torch path (no fused kernels: `mamba2_chunk_scan` in fp32), tensor by tensor: what each op
allocates, which Python variable keeps it, what its autograd node saves for backward, and what its
backward formula allocates. The saved set was read from the graph with torch.autograd.graph.
saved_tensors_hooks and each node's `_saved_*` tensors on a small config (docs/memory.md).

Symbols: T = b·s tokens, s_p = s rounded up to the chunk Q, T_p = b·s_p, n_c = s_p / Q chunks, d_in = H·P,
G groups of N states, C = d_in + 2·G·N conv channels, c the compute dtype; the scan runs in fp32 (4 B).
Saved per layer (everything trains):
  in_proj input T·d·c; in_proj output T·(2·d_in + 2·G·N + H)·c (the conv saves a view of it); the conv
  output b·C·(s + K - 1)·c (SiLU's input); softplus and clamp inputs 2·T·H·c; x·4 and dt·4 (T·d_in·4,
  T·H·4); D's padded input T_p·d_in·4; the chunk scan: L, G and the copy of M (3·b·H·n_c·Q²·4), the
  contiguous operand copies of its four einsums (C, B twice, B_decay: 4·T_p·H·N·4; x twice: 2·T_p·d_in·4;
  the chunk states 2·b·(n_c + 1)·H·P·N·4), padded B (T_p·H·N·4), C·states (T_p·d_in·4), the decays;
  the gated norm: scan output T_p·d_in·4, gate·4, SiLU(gate)·4, the product, the normalised output
  (4·T·d_in·4), the out_proj input T·d_in·c.

Source: hf-mamba2
"""
from __future__ import annotations

from llmsize.memory.blocks import Cx, cast, linear
from llmsize.memory.sim import Sim, Tn
from llmsize.memory.symbolic import Sym, sym

F32 = 4


def _copy(g: Sim, t: Tn) -> Tn:
    """einsum's contiguous copy of a permuted operand (clone): a new storage whose gradient is passed
    through to t's (CloneBackward allocates nothing)."""
    y = g.new(t.nb, t.rg)
    y.alias = t.alias or t
    return y


def _new(g: Sim, nb: int, ins: tuple[Tn, ...], save: tuple[Tn | None, ...] = (), pgrad: int = 0,
         btemp: int = 0) -> Tn:
    """An op's fresh output of nb bytes from `ins`, its node saving `save`."""
    y = g.new(nb, any(t.rg for t in ins) or pgrad > 0)
    g.op(ins, (y,), save, pgrad=pgrad, btemp=btemp)
    return y


def _res(g: Sim, nb: int, x: Tn) -> Tn:
    """exp / rsqrt of x: a fresh output that its node saves (the backward uses the result)."""
    y = g.new(nb, x.rg)
    g.op((x,), (y,), (y,))
    return y


def _sv(t: Tn, other_rg: bool) -> Tn | None:
    """A product saves an operand only when the other operand needs its gradient."""
    return t if other_rg else None


def mamba2_train(g: Sim, cx: Cx, h: Tn) -> Tn:
    """One Mamba-2 mixer forward on the normed input h (T x d) with autograd recording; returns its
    output (T x d, compute dtype). Everything else it made is released or held by autograd.

    ASSUMES: the per-head vectors (A = -exp(A_log), dt_bias, D: H elements) and the Q x Q masks are
    negligible and not replayed; a gradient reaching a padded tensor's unpadded view is counted at the
    view's size.

    Source: hf-mamba2"""
    s_, m = cx.spec, cx.spec.ssm
    assert m is not None
    b, s, c, w, p = cx.b, cx.q, cx.c, cx.w, cx.train_base
    d, d_in, H, N, G, K, Q = s_.hidden_size, m.inner, m.num_heads, m.state_size, m.n_groups, m.conv_kernel, m.chunk_size
    P, C, T = d_in // H, m.conv_channels, b * s
    sp = -(-int(s) // Q) * Q
    nc = sp // Q
    sp = sym(sp, "s_p") if isinstance(s, Sym) else sp  # the closed form names the padded length
    Tp = b * sp
    pw = H * w if p else 0  # a per-head parameter's gradient (dt_bias, A_log, D)
    x_in = h
    if m.mup:  # Falcon-H1: x · ssm_in_multiplier (a scalar: saves nothing), alive to the split
        x_in = _new(g, h.nb, (h,))
    proj = linear(g, cx, x_in, d, 2 * d_in + 2 * G * N + H, s_.traits.leaf("ssm_in"), m.in_bias)
    n_proj = 2 * d_in + 2 * G * N + H
    if m.mup:  # · mup_vector (a buffer in the weights' dtype: fp32 under autocast; the product saves nothing)
        p2 = _new(g, T * n_proj * (w if cx.amp else c), (proj,))
        g.drop(proj)
        proj = p2
    pe = proj.nb // (T * n_proj)  # bytes per element of the split: gate, xBC, dt
    gate, xbc, dt = g.view(proj, T * d_in * pe), g.view(proj, T * C * pe), g.view(proj, T * H * pe)
    g.op((proj,), (gate, xbc, dt))  # split: its backward assembles the whole gradient of proj
    # depthwise conv over the transposed view (ConvolutionBackward saves input and weight), sliced to s
    conv_in = xbc
    if cx.amp:  # .to(weight.dtype): an fp32 copy, which autocast casts back for conv1d (that copy is saved)
        x32 = cast(g, xbc, T * C * F32)
        conv_in = _new(g, T * C * c, (x32,))
        g.drop(x32)
    co = _new(g, b * C * (s + K - 1) * c, (conv_in,), (conv_in,),
              pgrad=(C * K + (C if m.conv_bias else 0)) * w if p else 0)
    if conv_in is not xbc:
        g.drop(conv_in)
    cs = g.view(co, T * C * c)
    g.op((co,), (cs,))
    g.drop(co)
    act = _new(g, T * C * c, (cs,), (cs,))  # SiLU saves its input
    g.drop(cs)
    if m.mup:
        g.drop(x_in)
    xs, Bs, Cs = g.view(act, T * d_in * c), g.view(act, T * G * N * c), g.view(act, T * G * N * c)
    g.op((act,), (xs, Bs, Cs))
    out = _scan(g, cx, xs, Bs, Cs, dt, T, Tp, nc, P, pw)
    if m.gated_norm:  # RMSNormGated: (y · silu(gate.float())), grouped RMS over d_in / G, · weight (fp32 out)
        g32 = cast(g, gate, T * d_in * F32)
        sg = _new(g, g32.nb, (g32,), (g32,))
        prod = _new(g, g32.nb, (out, sg), (_sv(out, sg.rg), _sv(sg, out.rg)))
        g.drop(g32, sg)
        sq = _new(g, prod.nb, (prod,), (prod,), btemp=2 * prod.nb)  # pow(2) saves its input; backward: self^1, ·2
        var = _new(g, T * G * F32, (sq,))  # mean over each group
        g.drop(sq)
        ve = _new(g, var.nb, (var,))
        rs = _res(g, var.nb, ve)
        g.drop(ve)
        hn = _new(g, prod.nb, (prod, rs), (prod, rs), btemp=prod.nb)  # rsqrt's broadcast gradient: full, summed
        # · weight: the weight's gradient is (grad · h) summed (a full fp32 temporary)
        y = _new(g, prod.nb, (hn,), (hn if p else None,), pgrad=d_in * w if p else 0, btemp=prod.nb if p else 0)
        g.drop(prod, var, rs, hn)
    else:  # Falcon-H1 without mamba_rms_norm: y · silu(gate) (gate in the compute dtype)
        sg = _new(g, T * d_in * c, (gate,), (gate,))
        y = _new(g, T * d_in * F32, (out, sg), (_sv(out, sg.rg), _sv(sg, out.rg)))
        g.drop(sg)
    g.drop(out)
    yc = cast(g, y, T * d_in * c)  # scan_output.to(dtype)
    g.drop(y)
    o = linear(g, cx, yc, d_in, d, s_.traits.leaf("ssm_out"), m.out_bias)
    g.drop(yc, gate, xbc, dt, proj, xs, Bs, Cs, act)
    return o


def _scan(g: Sim, cx: Cx, xs: Tn, Bs: Tn, Cs: Tn, dt: Tn, T: int, Tp: int, nc: int, P: int, pw: int) -> Tn:
    """mamba2_chunk_scan in fp32: returns its output (the padded T_p·d_in·4 storage, sliced to T)."""
    m = cx.spec.ssm
    assert m is not None
    b, c, p = cx.b, cx.c, cx.train_base
    d_in, H, N, G, Q = m.inner, m.num_heads, m.state_size, m.n_groups, m.chunk_size
    X, Xp, Bh, Bhp, A4, LL = T * d_in * F32, Tp * d_in * F32, T * H * N * F32, Tp * H * N * F32, Tp * H * F32, \
        Tp * H * Q * F32  # LL: one Q x Q block per chunk and head, b·H·n_c·Q²·4
    S = b * H * P * N * F32
    dt1 = _new(g, dt.nb, (dt,), pgrad=pw)  # dt + dt_bias
    dt2 = _new(g, dt1.nb, (dt1,), (dt1,))  # softplus saves its input
    g.drop(dt1)
    dt3 = _new(g, dt1.nb, (dt2,), (dt2,))  # clamp saves its input
    g.drop(dt2)
    x32 = cast(g, xs, X)  # x.float() (the same tensor when it is fp32 already)
    bc = []
    for v in (Bs, Cs):  # B.float() (T·G·N·4), repeat_interleave over heads (index_select: saves the index)
        f = cast(g, v, T * G * N * F32)
        bc.append(_new(g, Bh, (f,)))
        g.drop(f)
    Bh_, Ch_ = bc
    xp1 = _new(g, Xp, (x32,))  # pad(x)
    dres = _new(g, Xp, (xp1,), (xp1 if p else None,), pgrad=pw, btemp=Xp if p else 0)  # D_residual = D · pad(x)
    g.drop(xp1)
    dtf = cast(g, dt3, T * H * F32)  # dt.float()
    xdt = _new(g, X, (x32, dtf), (_sv(x32, dtf.rg), _sv(dtf, x32.rg)), btemp=X if dtf.rg else 0)
    g.drop(dtf, x32)
    dtf2 = cast(g, dt3, T * H * F32)
    adt = _new(g, T * H * F32, (dtf2,), (dtf2 if p else None,), pgrad=pw)  # A · dt.float()
    g.drop(dtf2)
    xp, ap, bp, cp = (_new(g, n, (t,)) for n, t in ((Xp, xdt), (A4, adt), (Bhp, Bh_), (Bhp, Ch_)))  # pads
    g.drop(xdt, adt, Bh_, Ch_)
    acs = _new(g, A4, (ap,), btemp=2 * A4)  # A_cumsum (backward: flip, cumsum, flip)
    l1 = _new(g, LL, (ap,), btemp=LL)  # segment_sum: expand + masked_fill (its gradient masked, then summed)
    l2 = _new(g, LL, (l1,), btemp=2 * LL)  # cumsum
    l3 = _new(g, LL, (l2,))  # masked_fill(-inf)
    g.drop(l2, l1)
    L = _res(g, LL, l3)  # exp
    g.drop(l3)
    # einsum reshapes each operand to (batch, rows, cols) for bmm: a copy only where the batch dims (b, c, h)
    # cannot merge as a view; in a (b, c, l, h, ·) layout they can when b·n_c = 1, H = 1 or Q = 1
    m1 = b * nc == 1 or H == 1 or Q == 1
    a = cx.amp  # autocast runs every bmm in the compute dtype: fp32 operands cast, output c bytes
    Gs = _bmm(g, cp, bp, LL, not m1, not m1, a)  # G = einsum(C, B)
    M = _new(g, LL, (Gs, L), (_sv(Gs, L.rg), _sv(L, Gs.rg)))  # M = G · L
    yd = _bmm(g, M, xp, Xp, False, not m1, a)  # Y_diag = einsum(M, x): M already has bmm's layout (G's)
    t = _new(g, A4, (acs,))  # A_cumsum[..., -1:] - A_cumsum
    ds = _res(g, A4, t)  # exp
    g.drop(t)
    bd = _new(g, Bhp, (bp, ds), (_sv(bp, ds.rg), _sv(ds, bp.rg)), btemp=Bhp if ds.rg else 0)  # B_decay
    st = _bmm(g, bd, xp, nc * S, not m1, not m1, a)  # states = einsum(B_decay, x)
    zero = g.new(S)  # previous_states = zeros_like(states[:, :1])
    cat = _new(g, S + nc * S, (st,))  # torch.cat([previous_states, states])
    g.drop(st)
    dc = _res(g, b * H * (nc + 1) ** 2 * F32, acs)  # decay_chunk = exp(segment_sum(pad(A_cumsum[..., -1])))
    ns = _bmm(g, dc, cat, S + nc * S, False, b > 1, a)  # new_states = einsum(decay_chunk, states): (b·h) batches
    g.drop(cat)
    sts = g.view(ns, ns.nb * nc // (nc + 1))  # new_states[:, :-1]
    g.op((ns,), (sts,))
    sdo = _res(g, A4, acs)  # state_decay_out = exp(A_cumsum)
    # C_times_states = einsum(C, states): the states are laid out (b, h, c, p, n); (b, c, h) merge when n_c = 1
    cts = _bmm(g, cp, sts, Xp, not m1, not (H == 1 or nc == 1), a, b32=not a)
    yo = _new(g, Xp, (cts, sdo), (_sv(cts, sdo.rg), _sv(sdo, cts.rg)), btemp=Xp if sdo.rg else 0)  # Y_off
    ysum = _new(g, Xp, (yd, yo))  # Y_diag + Y_off, laid out (b, c, h, l, p); .contiguous() copies it
    yc = _copy(g, ysum) if H > 1 and Q > 1 else g.view(ysum)
    g.drop(ysum)
    out = _new(g, Xp, (yc, dres))  # + D_residual
    g.drop(yc, dt3, xp, ap, bp, cp, acs, L, Gs, M, yd, ds, bd, zero, dc, ns, sts, sdo, cts, yo, dres)
    if Tp == T:
        return out
    o = g.view(out, X)  # output[:, :seq_len] (SliceBackward: a zero-filled padded gradient)
    g.op((out,), (o,))
    g.drop(out)
    return o


def _bmm(g: Sim, a: Tn, b_: Tn, nb: int, copy_a: bool, copy_b: bool, amp: bool, b32: bool = True) -> Tn:
    """einsum as bmm (nb: the output's fp32 bytes): each operand copied contiguous where its reshape cannot
    be a view, then under autocast cast to bf16 when it is fp32 (b32: b_ is); BmmBackward saves what it
    multiplies (the copy, the cast, or the operand itself). Returns the output."""
    ca = _operand(g, a, copy_a, amp)
    cb = _operand(g, b_, copy_b, amp and b32)
    y = _new(g, nb // 2 if amp else nb, (ca, cb), (_sv(ca, cb.rg), _sv(cb, ca.rg)))
    g.drop(ca, cb)
    return y


def _operand(g: Sim, t: Tn, copy: bool, cast16: bool) -> Tn:
    u = _copy(g, t) if copy else g.view(t)
    if not cast16:
        return u
    h = _new(g, u.nb // 2, (u,))  # autocast's bf16 copy
    g.drop(u)
    return h
