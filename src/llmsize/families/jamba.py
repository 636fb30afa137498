"""Jamba (AI21): a hybrid of Mamba-1 layers and Llama-style attention layers (one in attn_layer_period,
at attn_layer_offset), with Mixtral-style experts on every expert_layer_period-th layer and a gated MLP
on the others. A Mamba layer caches a conv state (d_in x K, model dtype) and an SSM state (d_in x N,
fp32) per sequence; only the attention layers keep a KV cache.

Source: hf-jamba
"""
from __future__ import annotations

import math

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, get, integer, llama_like
from llmsize.spec import SSM, ModelSpec, MoE, Traits

_TRAITS = Traits(family="jamba", source="hf-jamba", gguf_arch="jamba", router_leaf="router",
                 leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj"),
                         ("ffn_gate", "gate_proj"), ("ffn_up", "up_proj"), ("ffn_down", "down_proj"),
                         ("ssm_in", "in_proj"), ("ssm_x", "x_proj"), ("ssm_dt", "dt_proj"), ("ssm_out", "out_proj")))


def _period(cfg: Config, key: str, off_key: str, default: tuple[int, int]) -> tuple[int, int]:
    p, o = integer(cfg, key, default=default[0]), integer(cfg, off_key, default=default[1])
    if p < 1 or not 0 <= o < p:
        raise LlmsizeError(f"config.json (jamba): {off_key} ({o}) must be in [0, {key} ({p}))")
    return p, o


def read(cfg: Config, name: str) -> ModelSpec:
    c = llama_like({"max_position_embeddings": 262144, "vocab_size": 65536, **cfg}, name)
    n, d = c["num_layers"], c["hidden_size"]
    ap, ao = _period(cfg, "attn_layer_period", "attn_layer_offset", (8, 4))
    ep, eo = _period(cfg, "expert_layer_period", "expert_layer_offset", (2, 1))
    c["mixers"] = tuple("attention" if i % ap == ao else "ssm" for i in range(n))
    c["layer_types"] = ()
    c.pop("sliding_window", None)
    experts = integer(cfg, "num_experts", default=16)
    if experts > 1:
        c["moe"] = MoE(num_experts=experts, top_k=integer(cfg, "num_experts_per_tok", default=2),
                       expert_intermediate_size=c["mlp"].intermediate_size)
        c["moe_layers"] = tuple(i % ep == eo for i in range(n))
    rank = get(cfg, "mamba_dt_rank", default="auto")
    rank = math.ceil(d / 16) if rank == "auto" else rank
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise LlmsizeError(f"config.json (jamba): mamba_dt_rank must be a positive integer or 'auto', got {rank!r:.20}")
    c["ssm"] = SSM(kind="mamba", inner=integer(cfg, "mamba_expand", default=2) * d,
                   state_size=integer(cfg, "mamba_d_state", default=16), conv_kernel=integer(cfg, "mamba_d_conv", default=4),
                   dt_rank=rank, conv_bias=bool(get(cfg, "mamba_conv_bias", default=True)),
                   in_bias=bool(get(cfg, "mamba_proj_bias", default=False)),
                   out_bias=bool(get(cfg, "mamba_proj_bias", default=False)), bcdt_norms=True)
    # ASSUMES: Jamba has no rotary embedding (its attention layers use no positions)
    c["position"] = "none"
    return ModelSpec(**c, traits=_TRAITS)


READERS = {"jamba": read}
TRAITS = {"jamba": _TRAITS}
