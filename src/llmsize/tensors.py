"""The weight tensors of a model: name, shape and role of each, as the Hugging Face code lays them out.

Parameter counts, quantized byte counts (per-tensor formats follow llama.cpp's rules by role),
LoRA targets and tensor-parallel sharding all read this one list, so no formula counts weights twice.
Roles use GGUF's tensor names (token_embd, attn_q, ffn_down_exps, ...).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from llmsize.spec import ModelSpec

# Leaf module names of the linear layers (for LoRA targets; peft matches leaf names) come from the
# family traits (spec.traits.leaves); MLA and shared-expert leaves are the same in every family.
_LEAVES_MLA = {"attn_q_a": "q_a_proj", "attn_q_b": "q_b_proj", "attn_kv_a_mqa": "kv_a_proj_with_mqa",
               "attn_kv_b": "kv_b_proj"}
_SHARED = {"ffn_gate_shexp": "gate_proj", "ffn_up_shexp": "up_proj", "ffn_down_shexp": "down_proj"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Tensor:
    """One weight tensor. `layer` is None outside the decoder stack. `shape` is (out, in) for linears.

    `linear` marks an nn.Linear-like 2-D weight that LoRA can wrap (its leaf module name is `module`);
    `experts` > 1 marks a fused expert stack whose first dimension is the expert index."""

    name: str
    role: str
    shape: tuple[int, ...]
    layer: int | None = None
    module: str | None = None
    linear: bool = False
    experts: int = 1
    buffer: bool = False  # persistent buffer (not a parameter), e.g. DeepSeek-V3's router bias

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def _leaf(spec: ModelSpec, role: str) -> str:
    if role in _LEAVES_MLA:
        return _LEAVES_MLA[role]
    if role in _SHARED:
        return _SHARED[role]
    return spec.traits.leaf(role)


def _linear(spec: ModelSpec, prefix: str, role: str, out: int, inp: int, bias: bool, i: int) -> Iterator[Tensor]:
    leaf = _leaf(spec, role)
    yield Tensor(name=f"{prefix}.{leaf}.weight", role=role, shape=(out, inp), layer=i, module=leaf, linear=True)
    if bias:
        yield Tensor(name=f"{prefix}.{leaf}.bias", role=role + ".bias", shape=(out,), layer=i, module=leaf)


def _norm(spec: ModelSpec, name: str, role: str, dim: int, i: int | None, bias: bool | None = None) -> Iterator[Tensor]:
    yield Tensor(name=f"{name}.weight", role=role, shape=(dim,), layer=i)
    if spec.norms.bias if bias is None else bias:
        yield Tensor(name=f"{name}.bias", role=role + ".bias", shape=(dim,), layer=i)


def attention_tensors(spec: ModelSpec, i: int) -> Iterator[Tensor]:
    """Attention weights of layer i.

    q: d -> n_h d_h, k and v: d -> n_kv d_h, o: n_h d_v -> d (MHA/GQA/MQA);
    MLA: q_a: d -> r_q, q_b: r_q -> n_h d_h, kv_a: d -> r_kv + d_rope, kv_b: r_kv -> n_h (d_nope + d_v)."""
    a, d, p = spec.attention, spec.hidden_size, f"model.layers.{i}.self_attn"
    hq, hkv, hv = a.num_heads * a.head_dim, a.num_kv_heads * a.head_dim, a.num_heads * a.v_dim
    if a.mla:
        assert a.kv_lora_rank is not None
        if a.q_lora_rank:
            yield from _linear(spec, p, "attn_q_a", a.q_lora_rank, d, a.qkv_bias, i)
            yield from _norm(spec, f"{p}.q_a_layernorm", "attn_q_a_norm", a.q_lora_rank, i, bias=False)
            yield from _linear(spec, p, "attn_q_b", hq, a.q_lora_rank, False, i)
        else:
            yield from _linear(spec, p, "attn_q", hq, d, False, i)
        yield from _linear(spec, p, "attn_kv_a_mqa", a.kv_lora_rank + a.qk_rope_head_dim, d, a.qkv_bias, i)
        yield from _norm(spec, f"{p}.kv_a_layernorm", "attn_kv_a_norm", a.kv_lora_rank, i, bias=False)
        nope = a.head_dim - a.qk_rope_head_dim
        yield from _linear(spec, p, "attn_kv_b", a.num_heads * (nope + a.v_dim), a.kv_lora_rank, False, i)
    elif a.fused_qkv:
        yield from _linear(spec, p, "attn_qkv", hq + 2 * hkv, d, a.qkv_bias, i)
    else:  # Qwen3-Next: q_proj's output holds the query and its output gate (2·n_h·d_h)
        yield from _linear(spec, p, "attn_q", hq * (2 if a.output_gate else 1), d, a.qkv_bias, i)
        yield from _linear(spec, p, "attn_k", hkv, d, a.qkv_bias, i)
        yield from _linear(spec, p, "attn_v", hkv, d, a.qkv_bias, i)
    yield from _linear(spec, p, "attn_output", d, hv, a.o_bias, i)
    if a.qk_norm == "head":
        yield from _norm(spec, f"{p}.q_norm", "attn_q_norm", a.head_dim, i, bias=False)
        yield from _norm(spec, f"{p}.k_norm", "attn_k_norm", a.head_dim, i, bias=False)
    elif a.qk_norm == "full":
        yield from _norm(spec, f"{p}.q_norm", "attn_q_norm", hq, i, bias=False)
        yield from _norm(spec, f"{p}.k_norm", "attn_k_norm", hkv, i, bias=False)
    if a.sinks:
        yield Tensor(name=f"{p}.sinks", role="attn_sinks", shape=(a.num_heads,), layer=i)


def mlp_tensors(spec: ModelSpec, i: int) -> Iterator[Tensor]:
    """Feed-forward weights of layer i: dense (gated: gate, up, down; plain: up, down) or MoE
    (router d -> E, E experts of width f_e, optional shared experts of total width f_s)."""
    d, p = spec.hidden_size, f"model.layers.{i}.mlp"
    if not spec.is_moe_layer(i):
        m = spec.mlp
        if m.fused_gate_up:
            yield from _linear(spec, p, "ffn_up", 2 * m.intermediate_size, d, m.bias, i)
        else:
            if m.kind == "gated":
                yield from _linear(spec, p, "ffn_gate", m.intermediate_size, d, m.bias, i)
            yield from _linear(spec, p, "ffn_up", m.intermediate_size, d, m.bias, i)
        yield from _linear(spec, p, "ffn_down", d, m.intermediate_size, m.bias, i)
        return
    e = spec.moe
    assert e is not None
    router = spec.traits.router_leaf
    yield Tensor(name=f"{p}.{router}.weight", role="ffn_gate_inp", shape=(e.num_experts, d), layer=i)
    if e.router_bias:
        yield Tensor(name=f"{p}.{router}.bias", role="ffn_gate_inp.bias", shape=(e.num_experts,), layer=i)
    if e.router_correction_bias:
        yield Tensor(name=f"{p}.gate.e_score_correction_bias", role="ffn_exp_probs_b", shape=(e.num_experts,),
                     layer=i, buffer=not e.correction_bias_param)
    f, n = e.expert_intermediate_size, e.num_experts
    x = f"{p}.experts"
    if e.expert_kind == "gated":
        yield Tensor(name=f"{x}.gate_up_proj", role="ffn_gate_up_exps", shape=(n, 2 * f, d), layer=i, experts=n)
    else:
        yield Tensor(name=f"{x}.up_proj", role="ffn_up_exps", shape=(n, f, d), layer=i, experts=n)
    if e.expert_bias:
        yield Tensor(name=f"{x}.gate_up_proj_bias", role="ffn_gate_up_exps.bias",
                     shape=(n, (2 if e.expert_kind == "gated" else 1) * f), layer=i, experts=n)
    yield Tensor(name=f"{x}.down_proj", role="ffn_down_exps", shape=(n, d, f), layer=i, experts=n)
    if e.expert_bias:
        yield Tensor(name=f"{x}.down_proj_bias", role="ffn_down_exps.bias", shape=(n, d), layer=i, experts=n)
    if e.shared_intermediate_size:
        s = f"{p}.shared_expert"
        yield from _linear(spec, s, "ffn_gate_shexp", e.shared_intermediate_size, d, e.shared_bias, i)
        yield from _linear(spec, s, "ffn_up_shexp", e.shared_intermediate_size, d, e.shared_bias, i)
        yield from _linear(spec, s, "ffn_down_shexp", d, e.shared_intermediate_size, e.shared_bias, i)
    if e.shared_expert_gate:
        yield Tensor(name=f"{p}.shared_expert_gate.weight", role="ffn_gate_inp_shexp", shape=(1, d), layer=i)


def ssm_tensors(spec: ModelSpec, i: int) -> Iterator[Tensor]:
    """State-space / conv mixer weights of layer i (GGUF roles ssm_*).

    Mamba-2: in_proj d -> 2·d_in + 2·G·N + H, conv1d (C, 1, K) with C = d_in + 2·G·N, dt_bias/A_log/D of H,
    norm d_in, out_proj d_in -> d; Mamba: in_proj d -> 2·d_in, conv1d (d_in, 1, K), x_proj d_in -> R + 2N,
    dt_proj R -> d_in (+ bias), A_log (d_in, N), D d_in, out_proj, dt/B/C norms; short conv: in_proj d -> 3d,
    conv1d (d, 1, K), out_proj d -> d."""
    m, d, p = spec.ssm, spec.hidden_size, f"model.layers.{i}.mamba"
    assert m is not None
    if m.kind == "gated_delta":
        yield from _gated_delta_tensors(spec, i)
        return
    inner, c = m.inner, m.conv_channels
    if m.kind == "mamba2":
        width = 2 * inner + 2 * m.n_groups * m.state_size + m.num_heads
    else:
        width = (3 if m.kind == "shortconv" else 2) * inner
    yield from _linear(spec, p, "ssm_in", width, d, m.in_bias, i)
    yield Tensor(name=f"{p}.conv1d.weight", role="ssm_conv1d", shape=(c, 1, m.conv_kernel), layer=i)
    if m.conv_bias:
        yield Tensor(name=f"{p}.conv1d.bias", role="ssm_conv1d.bias", shape=(c,), layer=i)
    if m.kind == "mamba":
        yield from _linear(spec, p, "ssm_x", m.dt_rank + 2 * m.state_size, inner, False, i)
        yield from _linear(spec, p, "ssm_dt", inner, m.dt_rank, True, i)
        yield Tensor(name=f"{p}.A_log", role="ssm_a", shape=(inner, m.state_size), layer=i)
        yield Tensor(name=f"{p}.D", role="ssm_d", shape=(inner,), layer=i)
    elif m.kind == "mamba2":
        for leaf, role in (("dt_bias", "ssm_dt.bias"), ("A_log", "ssm_a"), ("D", "ssm_d")):
            yield Tensor(name=f"{p}.{leaf}", role=role, shape=(m.num_heads,), layer=i)
        if m.gated_norm:
            yield from _norm(spec, f"{p}.norm", "ssm_norm", inner, i, bias=False)
    if m.bcdt_norms:
        for leaf, n in (("dt_layernorm", m.dt_rank), ("b_layernorm", m.state_size), ("c_layernorm", m.state_size)):
            yield from _norm(spec, f"{p}.{leaf}", "ssm_norm", n, i, bias=False)
    yield from _linear(spec, p, "ssm_out", d, inner, m.out_bias, i)


def _gated_delta_tensors(spec: ModelSpec, i: int) -> Iterator[Tensor]:
    """Gated DeltaNet (Qwen3-Next linear attention) of layer i: in_proj_qkvz d -> 2·G·N + 2·d_in,
    in_proj_ba d -> 2H, conv1d (2·G·N + d_in, 1, K) without bias, dt_bias and A_log of H, the gated
    RMSNorm over one value head (P = d_in / H), out_proj d_in -> d; no linear has a bias."""
    m, d, p = spec.ssm, spec.hidden_size, f"model.layers.{i}.linear_attn"
    assert m is not None
    yield from _linear(spec, p, "ssm_in", 2 * m.n_groups * m.state_size + 2 * m.inner, d, False, i)
    yield from _linear(spec, p, "ssm_ba", 2 * m.num_heads, d, False, i)
    yield Tensor(name=f"{p}.conv1d.weight", role="ssm_conv1d", shape=(m.conv_channels, 1, m.conv_kernel), layer=i)
    for leaf, role in (("dt_bias", "ssm_dt.bias"), ("A_log", "ssm_a")):
        yield Tensor(name=f"{p}.{leaf}", role=role, shape=(m.num_heads,), layer=i)
    yield from _norm(spec, f"{p}.norm", "ssm_norm", m.inner // m.num_heads, i, bias=False)
    yield from _linear(spec, p, "ssm_out", d, m.inner, False, i)


def layer_tensors(spec: ModelSpec, i: int) -> Iterator[Tensor]:
    """All weights of layer i, norms included: attention and/or a state-space mixer, then the feed-forward
    block (none in Mamba-2's layers). Encoder-decoders (T5): layers from num_layers on are the decoder's,
    with a cross-attention block and its norm; the first layer of each stack holds the relative-position
    bias (buckets x heads)."""
    dec = i >= spec.num_layers
    n = (spec.norms.per_layer + dec) if spec.norms.affine else 0
    if i == 0 and not spec.traits.first_attn_norm:  # ModernBERT: layer 0's attention norm is nn.Identity
        n -= 1
    for k in range(n):
        yield from _norm(spec, f"model.layers.{i}.norm{k}", "norm", spec.hidden_size, i)
    if spec.has_attention(i):
        yield from attention_tensors(spec, i)
    if spec.relative_buckets and i in (0, spec.num_layers):
        yield Tensor(name=f"model.layers.{i}.self_attn.relative_attention_bias.weight", role="attn_rel_b",
                     shape=(spec.relative_buckets, spec.attention.num_heads), layer=i)
    if dec:
        a, d, p = spec.attention, spec.hidden_size, f"model.layers.{i}.cross_attn"
        inner = a.num_heads * a.head_dim
        for role, o, k in (("attn_q", inner, d), ("attn_k", inner, d), ("attn_v", inner, d), ("attn_output", d, inner)):
            yield from _linear(spec, p, role, o, k, False, i)
    if spec.has_ssm(i):
        yield from ssm_tensors(spec, i)
    if spec.dense_mlp or spec.is_moe_layer(i):
        yield from mlp_tensors(spec, i)


def outer_tensors(spec: ModelSpec) -> Iterator[Tensor]:
    """Weights outside the decoder stack: embeddings, positions, projections, final norm, head."""
    d, e = spec.hidden_size, spec.word_embed_dim
    yield Tensor(name="model.embed_tokens.weight", role="token_embd", shape=(spec.vocab_size, e))
    if spec.traits.word_embed_norm:  # BLOOM's word_embeddings_layernorm
        yield from _norm(spec, "model.embed_norm", "token_embd_norm", e, None)
    if spec.position == "learned":
        yield Tensor(name="model.embed_positions.weight", role="pos_embd",
                     shape=(spec.max_position_embeddings + spec.position_offset, d))
    if spec.type_vocab_size:
        yield Tensor(name="model.embeddings.token_type_embeddings.weight", role="token_types",
                     shape=(spec.type_vocab_size, d))
    if spec.traits.embed_norm:
        yield from _norm(spec, "model.embeddings.LayerNorm", "token_embd_norm", d, None)
    if e != d:
        yield Tensor(name="model.project_in.weight", role="proj_in", shape=(d, e), linear=True, module="project_in")
        yield Tensor(name="model.project_out.weight", role="proj_out", shape=(e, d), linear=True,
                     module="project_out")
    if spec.norms.final and spec.norms.affine:
        yield from _norm(spec, "model.norm", "output_norm", d, None)
        if spec.decoder_layers:  # encoder-decoder: each stack ends in its own final norm
            yield from _norm(spec, "model.decoder_norm", "output_norm", d, None)
    if spec.traits.mlm_head:  # BERT-style prediction head transform: dense d -> d, activation, LayerNorm
        leaf = spec.traits.leaf("head_transform")
        yield Tensor(name=f"cls.transform.{leaf}.weight", role="head_transform", shape=(d, d), linear=True,
                     module=leaf)
        if spec.head_transform_bias:
            yield Tensor(name=f"cls.transform.{leaf}.bias", role="head_transform.bias", shape=(d,))
        yield from _norm(spec, "cls.transform.LayerNorm", "head_transform_norm", d, None)
    if not spec.tie_word_embeddings:
        yield Tensor(name="lm_head.weight", role="output", shape=(spec.vocab_size, e), linear=True, module="lm_head")
    if spec.lm_head_bias:
        yield Tensor(name="lm_head.bias", role="output.bias", shape=(spec.vocab_size,))


@cache
def tensors(spec: ModelSpec) -> tuple[Tensor, ...]:
    """Every weight tensor of the language model (vision towers are counted in params.py)."""
    out = list(outer_tensors(spec))
    for i in range(spec.num_layers + spec.decoder_layers):
        out.extend(layer_tensors(spec, i))
    return tuple(out)
