"""The token mixers of state-space layers replayed on transformers' torch path (no fused kernels), as
bytes live over one mixer forward without gradients: Mamba-2 (Mamba2Mixer, GraniteMoeHybridMambaLayer:
in_proj, conv, the fp32 chunked scan or, decoding, the recurrent update) and LFM2's short conv.

Source: hf-mamba2
"""
from __future__ import annotations

from llmsize.memory.blocks import Cx, linear
from llmsize.memory.sim import Sim, Tn
from llmsize.recurrent import SSM_STATE_BYTES
from llmsize.spec import ModelSpec

F32 = 4


class _Live:
    """A running count of live bytes and its maximum."""

    __slots__ = ("live", "peak")

    def __init__(self) -> None:
        self.live = self.peak = 0

    def add(self, *nb: int) -> None:
        for n in nb:
            self.live += n
            self.peak = max(self.peak, self.live)

    def free(self, *nb: int) -> None:
        self.live -= sum(nb)


def conv_silu(g: _Live, b: int, C: int, K: int, s: int, c: int, cache: bool) -> None:
    """The causal depthwise conv over C channels: with a cache, the conv state it keeps (b·C·K·c) and, for
    a prompt shorter than the kernel, the left-padded copy; the padded conv1d output b·C·(n + K - 1)·c
    and its SiLU b·C·n·c, after which the padded output (and the padded copy) are freed.

    Source: hf-mamba2"""
    n = s
    if cache:
        g.add(b * C * K * c)  # update_conv_state: lazily allocated, kept by the cache
        if s < K:  # a prompt shorter than the kernel is left-padded to K first (F.pad: a copy)
            n = K
            g.add(b * C * K * c)
    g.add(b * C * (n + K - 1) * c, b * C * n * c)  # conv1d output (padded), then its SiLU
    g.free(b * C * (n + K - 1) * c, b * C * K * c if n != s else 0)


def mixer_peak(spec: ModelSpec, b: int, s: int, c: int, cache: bool) -> tuple[int, int]:
    """(most bytes live during one Mamba-2 mixer forward over b x s tokens, bytes it leaves in the cache),
    relative to the mixer's start. ASSUMES: the gated norm and out_proj after the scan stay below the
    scan's peak (they hold a few T·d_in tensors where the scan holds many T_p·d_in ones).

    Source: hf-mamba2"""
    m = spec.ssm
    assert m is not None
    d_in, H, N, G, K, Q = m.inner, m.num_heads, m.state_size, m.n_groups, m.conv_kernel, m.chunk_size
    P = d_in // H
    C = m.conv_channels
    T = b * s
    sp = -(-s // Q) * Q  # padded to whole chunks
    Tp, nc = b * sp, sp // Q
    X, Xp = T * d_in * F32, Tp * d_in * F32  # the scan's x, unpadded / padded
    Bh, Bhp, Bg = T * H * N * F32, Tp * H * N * F32, T * G * N * F32  # B or C per head / per group
    LL = b * H * nc * Q * Q * F32  # one chunk-local Q x Q tensor per head
    S, Sc = b * H * P * N * F32, b * nc * H * P * N * F32  # one state / the states of every chunk
    A4, th4 = Tp * H * F32, T * H * F32
    conv_state = b * C * K * c
    g = _Live()
    proj, xin = T * (2 * d_in + 2 * G * N + H) * c, T * spec.hidden_size * c
    if m.mup:  # Falcon-H1: x · ssm_in_multiplier (alive to the split after the conv), in_proj · mup_vector
        g.add(xin, proj)
    g.add(proj, H * F32)  # in_proj output (gate, xBC, dt are views); A
    if m.mup:
        g.free(proj)
    conv_silu(g, b, C, K, s, c, cache)
    if m.mup:
        g.free(xin)
    g.add(T * H * c, T * H * c)  # dt + dt_bias, softplus (then the clamp replaces it)
    g.free(T * H * c)
    g.add(X, Bg, Bh)  # x.float(); B.float(), repeated over heads
    g.free(Bg)
    g.add(Bg, Bh)  # C likewise
    g.free(Bg)
    g.add(Xp, Xp)  # D_residual: D · pad(x)
    g.free(Xp)
    g.add(th4, X)  # x · dt.float()
    g.free(X, th4)  # the fp32 copy of x and dt.float()
    g.add(th4, th4)  # A · dt.float()
    g.free(th4)
    g.add(Xp, A4, Bhp, Bhp)  # reshape_into_chunks pads x, A, B, C
    g.free(X, Bh, Bh, th4)
    g.add(A4)  # A_cumsum
    g.add(LL, LL, LL)  # segment_sum: expanded-and-masked input, cumsum, masked cumsum
    g.free(LL, LL)
    g.add(LL)  # L = exp(...)
    g.free(LL)
    g.add(Bhp, Bhp, LL)  # G = einsum(C, B): both operands copied contiguous, bmm output
    g.free(Bhp, Bhp)
    g.add(LL)  # M = G · L
    g.add(Xp, Xp)  # Y_diag = einsum(M, x): x copied, bmm output
    g.free(Xp)
    g.add(A4, A4)  # decay_states (sub, exp)
    g.free(A4)
    g.add(Bhp)  # B_decay
    g.add(Xp, Bhp, Sc)  # states = einsum(B_decay, x): copies, bmm
    g.free(Xp, Bhp)
    g.add(S)  # previous_states = zeros_like
    g.add(S + Sc)  # torch.cat
    g.free(Sc)
    g.add(b * H * (nc + 1) ** 2 * F32)  # decay_chunk
    g.add(S + Sc, S + Sc)  # new_states = einsum(decay_chunk, states): copy, bmm
    g.free(S + Sc, S + Sc)  # the copy; the cat (states now views new_states)
    g.add(A4)  # state_decay_out
    g.add(Bhp, Sc, Xp)  # C_times_states = einsum(C, states): copies, bmm
    g.free(Bhp, Sc)
    g.add(Xp, Xp, Xp)  # Y_off, Y_diag + Y_off, .contiguous()
    g.free(Xp)
    g.add(Xp)  # + D_residual
    kept = conv_state + (b * d_in * N * SSM_STATE_BYTES if cache else 0)
    return g.peak, kept


def mamba1_peak(spec: ModelSpec, b: int, s: int, c: int, cache: bool) -> int:
    """Most bytes live during one Jamba (Mamba-1) mixer forward over b x s tokens, relative to its start:
    in_proj, conv, x_proj and the dt/B/C norms, dt_proj, then the sequential scan of the torch path:
    discrete A, discrete B and ΔB·x (b·d_in·s·N·4 each) live through a loop of s steps that each make a
    new fp32 state (b·d_in·N·4) and append a b·d_in output; then stack, D skip and the SiLU gate in fp32.

    Source: hf-jamba"""
    m = spec.ssm
    assert m is not None
    I, N, R, K = m.inner, m.state_size, m.dt_rank, m.conv_kernel
    T = b * s
    big, S4, S2, y = b * I * s * N * F32, b * I * N * F32, b * I * N * c, b * I * c
    g = _Live()
    g.add(T * 2 * I * c, I * N * F32)  # in_proj output; A = -exp(A_log.float())
    conv_silu(g, b, I, K, s, c, cache)
    g.add(T * I * c, T * (R + 2 * N) * c)  # the transposed conv output made contiguous for x_proj; x_proj
    g.free(T * I * c)
    g.add(T * I * c, T * I * c)  # dt_proj (weight @ dt), + bias
    g.free(T * I * c)
    g.add(T * I * c)  # softplus
    g.free(T * I * c)
    g.add(big, big)  # dt·A, exp -> discrete A
    g.free(big)
    g.add(big)  # discrete B = dt · B.float()
    g.add(T * I * F32, big)  # ΔB·x with x.float()
    g.free(T * I * F32)
    g.add(S2)  # the zero initial state (input dtype)
    prev = S2
    for k in range(min(s, 2)):  # steps after the first repeat the second one, plus one b·d_in output each
        g.add(S4, S4)  # dA·state, + ΔB·x
        g.free(prev, S4)
        prev = S4
        g.add(S2, y + (s - 2) * y * k)  # state.to(input dtype), its matmul with C (outputs so far)
        g.free(S2)
    g.add(T * I * c)  # torch.stack of the s outputs
    g.add(T * I * F32, T * I * F32)  # x·D (fp32), scan + it
    g.free(T * I * F32)
    g.add(T * I * c, T * I * F32)  # silu(z), the gated output (fp32)
    return g.peak


def decode_peak(spec: ModelSpec, b: int, c: int) -> int:
    """Most bytes live in one Mamba-2 decode step's mixer (q = 1, the recurrent update in place).

    dA = exp(dt·A) fp32, dB = dt·B and dBx in the compute dtype, state·dA and the new state fp32: 3 fp32 and
    2 compute-dtype b·H·P·N tensors at once. ASSUMES: the projections and the conv update (a few b·C
    vectors) are counted, the small per-head vectors are not.

    Source: hf-mamba2"""
    m = spec.ssm
    assert m is not None
    C, K = m.conv_channels, m.conv_kernel
    elems = b * m.inner * m.state_size
    proj = b * (2 * m.inner + 2 * m.n_groups * m.state_size + m.num_heads) * c
    conv = b * C * (K + 1) * c + b * C * c  # torch.cat(conv_state, x), the activated output
    return proj + conv + elems * (3 * F32 + 2 * c)


def _shortconv(g: Sim, cx: Cx, h: Tn) -> tuple[Tn, Tn | None]:
    """LFM2's Lfm2ShortConv.slow_forward: BCx = in_proj(h) (T·3d), Bx = B·x, the causal conv (b·d·(s + K - 1),
    sliced), y = C·conv, y contiguous, out_proj. With a cache the prompt's last K inputs stay (b·d·K·c).
    In training each product saves its two inputs (views of BCx, the conv output) and the conv its input.

    Source: hf-lfm2"""
    s_, m = cx.spec, cx.spec.ssm
    assert m is not None
    b, s, d, c, K = cx.b, cx.q, s_.hidden_size, cx.c, m.conv_kernel
    T = b * s
    bcx = linear(g, cx, h, d, 3 * d, s_.traits.leaf("ssm_in"), m.in_bias)
    B, C, x = (g.view(bcx, T * d * c) for _ in range(3))
    g.op((bcx,), (B, C, x))
    bx = g.new(T * d * c, bcx.rg)
    g.op((B, x), (bx,), (B, x))
    state = None
    if cx.cache and cx.cache_len:  # decode: cat(state, Bx), conv over K + 1, in-place state update
        cat = g.new(b * d * (K + s) * c)
        conv = g.new(b * d * (s + 1) * c)
        g.drop(cat, bx)
    else:
        n = s
        if cx.cache:
            state = g.new(b * d * K * c)
            if s < K:  # left-padded to the kernel first
                n = K
                pad = g.new(b * d * K * c)
                g.drop(bx)
                bx = pad
        conv = g.new(b * d * (n + K - 1) * c, bx.rg or cx.train_base)
        g.op((bx,), (conv,), (bx,),  # ConvolutionBackward saves its input whenever anything needs a grad
             pgrad=(d * K + (d if m.conv_bias else 0)) * cx.w if cx.train_base else 0)
        g.drop(bx)
    cs = g.view(conv, T * d * c)  # [..., :s]
    g.op((conv,), (cs,))
    y = g.new(T * d * c, C.rg or cs.rg)
    g.op((C, cs), (y,), (C, cs))
    yc = g.new(T * d * c, y.rg)
    g.op((y,), (yc,))
    g.drop(y)
    out = linear(g, cx, yc, d, d, s_.traits.leaf("ssm_out"), m.out_bias)
    g.drop(yc, cs, conv, B, C, x, bcx)
    return out, state


def mixer(g: Sim, cx: Cx, h: Tn) -> tuple[Tn, Tn | None, Tn | None]:
    """One state-space mixer on the normed input h: (output T x d, conv state, SSM state) where the two
    states are what a prefill leaves in the cache (None otherwise; a decode step updates them in place).

    Source: hf-mamba2"""
    m = cx.spec.ssm
    assert m is not None
    if m.kind == "shortconv":
        out, st = _shortconv(g, cx, h)
        return out, st, None
    if g.grad:  # training: the scan under autograd, op by op
        from llmsize.memory.gated_delta_train import gated_delta_train
        from llmsize.memory.ssm_mamba1 import mamba1_train
        from llmsize.memory.ssm_train import mamba2_train

        fn = {"mamba": mamba1_train, "gated_delta": gated_delta_train}.get(m.kind, mamba2_train)
        return fn(g, cx, h), None, None
    b, s, c = cx.b, cx.q, cx.c
    T = b * s
    if m.kind == "gated_delta":  # Qwen3-Next (memory.gated_delta)
        from llmsize.memory import gated_delta as gd

        step, prefill = gd.decode_peak, gd.prefill_peak
    else:
        step = decode_peak
        prefill = mamba1_peak if m.kind == "mamba" else lambda *a: mixer_peak(*a)[0]
    if cx.cache and cx.cache_len:
        tmp = g.new(step(cx.spec, b, c))
        g.drop(tmp)
        return g.new(T * cx.spec.hidden_size * c), None, None
    peak = prefill(cx.spec, b, s, c, cx.cache)
    conv = g.new(b * m.conv_channels * m.conv_kernel * c) if cx.cache else None
    tmp = g.new(peak - (conv.nb if conv is not None else 0))  # the scan's peak, then all of it is freed
    g.drop(tmp)
    ssm = g.new(b * m.inner * m.state_size * SSM_STATE_BYTES) if cx.cache else None
    return g.new(T * cx.spec.hidden_size * c), conv, ssm
