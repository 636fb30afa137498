"""Granite 4.0 hybrid (IBM, granitemoehybrid): Mamba-2 layers and attention layers as layer_types says,
each followed by top-k experts plus an always-on shared MLP (one fused [gate; up] input_linear), or by
the shared MLP alone when num_local_experts is 0; Granite's embedding, residual and logits multipliers;
rotary positions only when position_embedding_type is "rope".

Source: hf-granitemoehybrid
"""
from __future__ import annotations

from llmsize.families import _ssm
from llmsize.families._config import Config, get, integer, llama_like
from llmsize.spec import MLP, ModelSpec, MoE, Traits

_TRAITS = Traits(family="granitemoehybrid", source="hf-granitemoehybrid", gguf_arch="granitehybrid",
                 router_leaf="router", embed_scale=True, embed_scale_in_body=True, residual_scale=True,
                 logits_scale=True,
                 shared_expert_last=True,  # moe(h) + shared_mlp(h): the routed experts first, no gate
                 leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj"),
                         ("ffn_up", "input_linear"), ("ffn_down", "output_linear"), ("ssm_in", "in_proj"),
                         ("ssm_out", "out_proj")))


def read(cfg: Config, name: str) -> ModelSpec:
    c = llama_like({"intermediate_size": 11008, "vocab_size": 32000, **cfg}, name)
    n, d = c["num_layers"], c["hidden_size"]
    c["layer_types"] = ()
    c.pop("sliding_window", None)
    c["mixers"] = _ssm.mixers(cfg, n, "ssm")
    c["ssm"] = _ssm.mamba2(cfg, d) if "ssm" in c["mixers"] else None
    shared = integer(cfg, "shared_intermediate_size", default=1024)
    c["mlp"] = MLP(kind="gated", intermediate_size=shared, fused_gate_up=True, activation=c["mlp"].activation)
    experts = integer(cfg, "num_local_experts", default=8)
    if experts:
        c["moe"] = MoE(num_experts=experts, top_k=integer(cfg, "num_experts_per_tok", default=2),
                       expert_intermediate_size=integer(cfg, "intermediate_size", default=11008),
                       shared_intermediate_size=shared)
        c["moe_layers"] = (True,) * n
    c["position"] = "rope" if get(cfg, "position_embedding_type", default=None) == "rope" else "none"
    return ModelSpec(**c, traits=_TRAITS)


READERS = {"granitemoehybrid": read}
TRAITS = {"granitemoehybrid": _TRAITS}
