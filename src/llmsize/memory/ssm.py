"""Inference replay of a pure Mamba-2 model (transformers' torch path: Mamba2Mixer.forward with
mamba2_chunk_scan, no fused kernels), for a no-grad forward and for generate (prefill + decode).

Per layer (residual kept in fp32 when residual_in_fp32):
  block:  x (T·d·4) + norm output (T·d·w), then the mixer:
  mixer:  in_proj T·(2·d_in + 2·G·N + H)·c, depthwise conv b·C·(s + K - 1)·c, its SiLU b·C·s·c, then the
          chunked scan in fp32 over s padded to a multiple of Q: L = exp(segsum(A)), G = C·B^T, M = G∘L
          (each b·H·(s_p/Q)·Q²·4), Y_diag, chunk states b·(s_p/Q)·H·P·N·4, their recurrence, Y_off, and
          einsum's contiguous operand copies, replayed allocation by allocation (`_scan`);
  cache:  generate keeps per layer a conv state b·C·K·c and an SSM state b·H·P·N·4 (llmsize.recurrent).
Head: the final norm (fp32 when the residual is), a copy in the weights' dtype, logits in it and their
.float() copy (T·V·(w + 4); generate: b rows).

Measured with `scripts/memlab.py`-style traces of transformers 5.23 on fake tensors; forward and
generate only (training runs the scan's backward, which is not replayed: refused in `estimate`).

Source: hf-mamba2
"""
from __future__ import annotations

from llmsize.memory.blocks import Cx
from llmsize.memory.train import Point, best_by_phase
from llmsize.recurrent import SSM_STATE_BYTES, recurrent_state
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


def replayed(spec: ModelSpec, mode: str) -> bool:
    """Whether this replay covers the model and mode: every layer a Mamba-2 mixer with no MLP, no
    attention, forward or generate."""
    m = spec.ssm
    return (m is not None and m.kind == "mamba2" and mode in ("forward", "generate") and not spec.dense_mlp
            and spec.moe is None and all(not spec.has_attention(i) for i in range(spec.num_layers)))


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
    g.add(T * (2 * d_in + 2 * G * N + H) * c, H * F32)  # in_proj output (gate, xBC, dt are views); A
    n = s
    if cache:
        g.add(conv_state)  # update_conv_state: lazily allocated, kept by the cache
        if s < K:  # a prompt shorter than the kernel is left-padded to K first (F.pad: a copy)
            n = K
            g.add(b * C * K * c)
    g.add(b * C * (n + K - 1) * c, b * C * n * c)  # conv1d output (padded), then its SiLU
    g.free(b * C * (n + K - 1) * c, b * C * K * c if n != s else 0)
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


def points(spec: ModelSpec, cx: Cx, W: int, mode: str, new_tokens: int) -> dict[str, Point]:
    """The largest moment of each phase of a Mamba-2 forward (full logits) or generate (prefill with
    last-token logits, then decode steps over the cached state).

    Source: hf-mamba2"""
    m = spec.ssm
    assert m is not None
    b, s, w, d, V, L = cx.b, cx.q, cx.w, spec.hidden_size, spec.vocab_size, spec.num_layers
    r = F32 if m.residual_fp32 else w  # the residual stream's bytes per element
    gen = mode == "generate"
    E = b * s * d * w  # inputs_embeds, held by the body to its end
    block = b * s * d * r + b * s * d * w  # the layer input (the residual) and the norm's output
    peak, kept = mixer_peak(spec, b, s, w, gen)
    per_state = recurrent_state(spec, b, w).total // L if gen else 0
    phase = "prefill" if gen else "forward"
    pts = [Point(phase, {"weights": W, "state": (L - 1) * per_state}, f"layer {L - 1} (Mamba-2 chunked scan)",
                 E + block + peak)]
    rows = b if gen else b * s  # logits_to_keep=1 in generate
    norm_out = b * s * d * r
    head = norm_out + max(rows * d * w + rows * V * w, rows * V * w + rows * V * F32)
    pts.append(Point(phase, {"weights": W, "state": L * per_state}, "final norm and LM head", head))
    if gen and new_tokens > 1:
        # a decode step: the previous step's fp32 logits stay bound (out.logits) while the next one runs
        one = b * d * r + b * d * w
        pts.append(Point("decode", {"weights": W, "state": L * per_state, "held": b * V * F32},
                         "final norm and LM head", one + max(b * d * w + b * V * w, b * V * (w + F32))))
    del kept
    return best_by_phase(pts)
