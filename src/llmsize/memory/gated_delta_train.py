"""Qwen3-Next's Gated DeltaNet mixer under autograd (training, LoRA training) on transformers' torch path:
the projections as linears, then what the autograd graph of the conv, the gates and
`torch_chunk_gated_delta_rule` keeps for backward, read from PyTorch's live set at the end of a training
forward (scripts/memlab.py, small-qwen3-next b2 s256).

Saved per layer (symbols of memory.gated_delta, LL = b·H·n_c·Q²·4 = T_p·H·Q·4, S = b·H·N·P·4):
  conv: the cat T·C·c (conv input) and the padded conv output b·C·(s + K - 1)·c (SiLU's input);
  gates: sigmoid(b) T·H·c, a + dt_bias and softplus 2·T·H·4 (softplus and exp(A_log) only when A_log
  trains);
  l2norm: fp32 q, k 2·T·H·N·4 and their rsqrt 2·T·H·4;
  chunk rule: padded q, k, k_beta, the two rescaled q, k and k_cumdecay 6·T_p·H·N·4; padded v,
  new_values and every chunk's v_new 3·T_p·H·P·4; padded beta and three decay exps 4·T_p·H·4;
  pairwise decay, ut_system and intra_chunk_attn with their matmul outputs 5·LL; the state before
  every chunk n_c·S; chunk_decay b·H·n_c·4;
  gated RMSNorm: fp32 input, fp32 gate and its SiLU 3·T·H·P·4, rsqrt T·H·4, the normed input cast back
  and · weight 2·T·H·P·c (the cast only when the weight trains; out_proj saves its own input).

Source: hf-qwen3-next
"""
from __future__ import annotations

from llmsize.memory.blocks import Cx, linear
from llmsize.memory.gated_delta import CHUNK, prefill_peak
from llmsize.memory.sim import Sim, Tn
from llmsize.memory.ssm_mixer import F32
from llmsize.memory.symbolic import Sym, sym


def saved_bytes(cx: Cx) -> int:
    """Bytes one Gated DeltaNet layer's autograd graph keeps for backward (module docstring).

    Source: hf-qwen3-next"""
    m = cx.spec.ssm
    assert m is not None
    b, s, c, Q = cx.b, cx.q, cx.c, CHUNK
    H, N, P, C, K = m.num_heads, m.state_size, m.inner // m.num_heads, m.conv_channels, m.conv_kernel
    T = b * s
    sp = -(-int(s) // Q) * Q
    nc = sp // Q
    sp = sym(sp, "s_p") if isinstance(s, Sym) else sp
    Tp = b * sp
    conv = T * C * c + b * C * (s + K - 1) * c
    p = cx.train_base  # products save an operand only when the other (a parameter here) needs its gradient
    gates = T * H * c + (2 * T * H * F32 + 2 * H * F32 if p else T * H * F32 + H * F32)
    l2 = 2 * T * H * N * F32 + 2 * T * H * F32
    rule = (6 * Tp * H * N + 3 * Tp * H * P + 4 * Tp * H + 5 * Tp * H * Q) * F32 + Q * Q
    scan = nc * b * H * N * P * F32 + b * H * nc * F32
    norm = 3 * T * H * P * F32 + T * H * F32 + (2 if p else 1) * T * H * P * c
    return conv + gates + l2 + rule + scan + norm


def gated_delta_train(g: Sim, cx: Cx, h: Tn) -> Tn:
    """One Gated DeltaNet mixer forward on the normed input h (T x d) with autograd recording; returns its
    output (T x d). ASSUMES: the forward's transient working set is the inference one (memory.gated_delta),
    reached before the saved set is complete; the backward's own temporaries through the chunk rule stay
    below the peak of the logits' backward (true on the measured configs).

    Source: hf-qwen3-next"""
    s_, m = cx.spec, cx.spec.ssm
    assert m is not None
    b, s, c, w, p = cx.b, cx.q, cx.c, cx.w, cx.train_base
    d, H, N, G, P = s_.hidden_size, m.num_heads, m.state_size, m.n_groups, m.inner // m.num_heads
    T = b * s
    qkvz = linear(g, cx, h, d, 2 * G * N + 2 * H * P, s_.traits.leaf("ssm_in"), m.in_bias)
    ba = linear(g, cx, h, d, 2 * H, s_.traits.leaf("ssm_ba"), False)
    tmp = g.new(prefill_peak(s_, b, s, c, False) - qkvz.nb - ba.nb)
    g.drop(tmp)
    rg = qkvz.rg or ba.rg or p
    kept = g.new(saved_bytes(cx), rg)
    # conv weight, A_log, dt_bias, the norm's weight
    g.op((qkvz, ba), (kept,), (kept,), pgrad=(m.conv_channels * m.conv_kernel + 2 * H + P) * w if p else 0)
    y = g.new(T * H * P * c, rg)  # the gated norm's output cast back: out_proj's input
    g.op((kept,), (y,))
    g.drop(qkvz, ba, kept)
    o = linear(g, cx, y, H * P, d, s_.traits.leaf("ssm_out"), m.out_bias)
    g.drop(y)
    return o
