"""Qwen3-Next's Gated DeltaNet mixer (Qwen3NextGatedDeltaNet) replayed on transformers' torch path (no
fla / causal-conv1d kernels), as bytes live over one mixer forward without gradients: the projections,
the split copies, the conv and, over the prompt, `torch_chunk_gated_delta_rule` (fp32, chunks of Q = 64)
or, decoding one token, `torch_recurrent_gated_delta_rule`.

Symbols: T = b·s tokens, G key heads of N, H value heads of P, C = 2·G·N + H·P conv channels, K the conv
kernel, c the compute dtype's bytes; s_p = s rounded up to Q, T_p = b·s_p, n_c = s_p / Q chunks.

Source: hf-qwen3-next
"""
from __future__ import annotations

from llmsize.memory.ssm_mixer import F32, _Live, conv_silu
from llmsize.memory.symbolic import Sym, sym
from llmsize.recurrent import SSM_STATE_BYTES
from llmsize.spec import ModelSpec

CHUNK = 64  # torch_chunk_gated_delta_rule's chunk_size (the mixer never passes another)


def _projections(spec: ModelSpec, g: _Live, b: int, s: int, c: int) -> int:
    """in_proj_qkvz and in_proj_ba, fix_query_key_value_ordering's reshapes and the cat; returns the bytes
    of the query/key/value copies that stay bound until the conv output is split.

      qkvz = T·(2·G·N + 2·H·P)·c;  ba = T·2H·c;  with G > 1 the value and z reshapes, b and a, and the
      flattening of q and k are copies (the group dimension does not merge with the split one)

    Source: hf-qwen3-next"""
    m = spec.ssm
    assert m is not None
    H, N, G, P = m.num_heads, m.state_size, m.n_groups, m.inner // m.num_heads
    T = b * s
    g.add(T * (2 * G * N + 2 * H * P) * c, T * 2 * H * c)  # in_proj_qkvz, in_proj_ba outputs
    # ASSUMES: with G = 1 every reshape merges a size-1 dimension and stays a view
    copies = G > 1
    v = T * H * P * c if copies else 0
    g.add(v, v if copies else 0, T * H * c if copies else 0, T * H * c if copies else 0)  # value, z, b, a
    qk = 2 * T * G * N * c if copies else 0
    g.add(qk)  # query.reshape(b, s, -1), key likewise
    g.add(T * m.conv_channels * c)  # torch.cat((q, k, v))
    return qk + v


def chunk_rule(spec: ModelSpec, g: _Live, b: int, s: int, c: int, rep: int, cache: bool) -> None:
    """torch_chunk_gated_delta_rule (after `rep` bytes of repeated q, k) through the first chunk of its scan
    (later chunks repeat it).

      repeat_interleave (G < H) then fp32 contiguous q, k (T·H·N·4), v (T·H·P·4), beta, decay (T·H·4);
      l2norm and scaling rebind q and k; F.pad copies q, k, v (T_p), beta, decay;
      v_beta, k_beta; cum_decay (T_p·H·4); pairwise decay (LL = b·H·n_c·Q²·4: sub, masked_fill, exp);
      ut_system and intra_chunk_attn (LL each, their matmuls transient); decayed_k_beta;
      new_values = solve(ut, v_beta) (T_p·H·P·4), k_cumdecay = solve(ut, decayed_k_beta) (T_p·H·N·4),
      each solve holding a copy of ut, a zeroed LL and two b·H·Q² blocks at its peak; then the state
      (b·H·N·P·4) and core_attn_out (T_p·H·P·4), q and k rescaled by their decays, and the first chunk of
      the scan: v_new, query @ state, intra @ v_new and their sum (b·H·Q·P·4 each), the state update
      (3 states); after the loop v_new and inter_chunk_attn stay bound while core_attn_out is reshaped
      (a copy) and cast back to the compute dtype; the state survives only into a cache

    Source: hf-qwen3-next"""
    m = spec.ssm
    assert m is not None
    H, N, P, Q = m.num_heads, m.state_size, m.inner // m.num_heads, CHUNK
    T = b * s
    sp = -(-s // Q) * Q
    sp = sym(sp, "s_p") if isinstance(s, Sym) else sp  # the closed form names the padded length
    Tp, nc = b * sp, sp // Q
    qk, v, hv = T * H * N * F32, T * H * P * F32, T * H * F32
    qkp, vp, hvp = Tp * H * N * F32, Tp * H * P * F32, Tp * H * F32
    LL, blk = Tp * H * Q * F32, b * H * Q * Q * F32  # LL = b·H·n_c·Q²·4
    g.add(qk, qk, v, hv, hv)  # .to(float32, contiguous) of q, k, v, beta, decay
    g.free(rep)  # the repeated q and k (compute dtype) rebind
    for _ in range(2):  # l2norm(q), l2norm(k): x·x, sum, +eps, rsqrt, x·inv_norm
        g.add(qk, hv, hv)
        g.free(qk, hv)
        g.add(hv, qk)
        g.free(hv, hv, qk)
    g.add(qk)  # query · scaling
    g.free(qk)
    g.add(qkp, qkp, vp, hvp, hvp)  # F.pad: copies even without padding
    g.free(qk, qk, v, hv, hv)
    g.add(vp, qkp)  # v_beta, k_beta
    g.add(Q * Q, Q * Q, hvp)  # the bool mask (ones, triu); cum_decay
    g.free(Q * Q)
    g.add(LL, LL)  # pairwise decay: difference, masked_fill
    g.free(LL)
    g.add(LL)  # exp
    g.free(LL)
    for _ in range(2):  # ut_system, intra_chunk_attn: the matmul, then · pairwise decay
        g.add(LL, LL)
        g.free(LL)
    g.add(hvp, qkp)  # decayed_k_beta = k_beta · exp(cum_decay)
    g.free(hvp)
    for out in (vp, qkp):  # the two triangular solves
        g.add(out)
    g.add(b * H * N * P * F32, vp)  # the running state (zeros, or the cache's), core_attn_out = zeros_like
    g.add(hvp, qkp)  # query · exp(cum_decay)
    g.free(hvp, qkp)
    g.add(hvp, hvp)  # key · exp(cum_decay[-1] - cum_decay): the difference is freed once exp is made
    g.free(hvp)
    g.add(qkp)
    g.free(hvp, qkp)
    g.add(b * H * nc * F32)  # chunk_decay = exp(cum_decay[..., -1])
    bp, S = b * H * Q * P * F32, b * H * N * P * F32  # one chunk of values, one state
    for i in range(min(nc, 2)):  # later chunks repeat the second one
        g.add(bp, bp)  # v_new = new_values[i] - k_cumdecay[i] @ state (the matmul, the difference)
        g.free(bp, bp if i else 0)  # the matmul; the previous v_new
        g.add(bp)  # inter_chunk_attn = query[i] @ state
        g.free(bp if i else 0)  # the previous one
        g.add(bp, bp)  # intra[i] @ v_new, + inter (copied into core_attn_out)
        g.free(bp, bp)
        g.add(S, S, S)  # state · chunk_decay[i], key[i]^T @ v_new, their sum (the new state)
        g.free(S, S, S)  # both products; the old state
    if not cache:
        g.free(S)  # output_final_state=False: the state is dropped
    g.add(vp)  # core_attn_out.reshape: a copy (after the indexed writes), then the old one is freed
    g.free(vp)
    g.add(b * s * H * P * c)  # transpose(1, 2).to(compute dtype, contiguous)


def prefill_peak(spec: ModelSpec, b: int, s: int, c: int, cache: bool) -> int:
    """Most bytes live during one Gated DeltaNet mixer forward over b x s tokens, relative to its start.

    Source: hf-qwen3-next"""
    m = spec.ssm
    assert m is not None
    H, G, K, C = m.num_heads, m.n_groups, m.conv_kernel, m.conv_channels
    g = _Live()
    held = _projections(spec, g, b, s, c)
    conv_silu(g, b, C, K, s, c, cache)
    g.free(held, b * s * C * c)  # the q/k/v copies and the cat rebind to views of the SiLU output
    T = b * s
    g.add(T * H * c)  # beta = sigmoid(b)
    g.add(T * H * F32, T * H * F32)  # a.float(), + dt_bias
    g.free(T * H * F32)
    g.add(T * H * F32, T * H * F32)  # softplus, -exp(A_log) · it
    g.free(T * H * F32, T * H * F32)
    rep = 2 * T * H * m.state_size * c if G != H else 0  # repeat_interleave of q and k over the value heads
    g.add(rep)
    chunk_rule(spec, g, b, s, c, rep, cache)
    return g.peak


def decode_peak(spec: ModelSpec, b: int, c: int) -> int:
    """Most bytes live in one decode step's mixer (torch_recurrent_gated_delta_rule over one token):
    the projections and conv update (a few b·C vectors), and the state's fp32 updates: state·decay,
    state·k, its sum, k·delta and the new state, b·H·N·P·4 each, two at once.

    Source: hf-qwen3-next"""
    m = spec.ssm
    assert m is not None
    H, N, P, C, K = m.num_heads, m.state_size, m.inner // m.num_heads, m.conv_channels, m.conv_kernel
    g = _Live()
    _projections(spec, g, b, 1, c)
    g.add(b * C * (K + 1) * c, b * C * c)  # torch.cat(conv_state, x), the activated output
    S = b * H * N * P * SSM_STATE_BYTES
    g.add(S, S)  # state · exp(decay), then state · k
    g.free(S)
    g.add(S, S)  # k · delta, the new state
    return g.peak
