"""GLM-4 (0414) and GLM-4.5 MoE: GLM-4 is a Llama-style decoder with one fused [gate; up] matrix,
biases on q, k, v, norms after the attention and after the MLP (four per layer) and partial
rotary (half the head) on interleaved pairs ending in torch.cat; GLM-4.5 MoE keeps two norms per
layer, dense first layers, then routed + shared SwiGLU experts with a sigmoid router and a
per-expert correction bias kept as a buffer (DeepSeek-V3's MoE).

Source: hf-glm4
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, integer, llama_like, number
from llmsize.spec import MLP, Attention, MoE, ModelSpec, Traits

_GLM4 = Traits(family="glm4", source="hf-glm4", gguf_arch="glm4", rope_cat=True, norm_placement="sandwich",
               rope_tables_per_call=True,
               leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj"),
                       ("ffn_up", "gate_up_proj"), ("ffn_down", "down_proj")))
_GLM4_MOE = Traits(family="glm4", source="hf-glm4-moe", gguf_arch="glm4moe", rope_cat=True, routing_fp32=True,
                   shared_expert_last=True, router_fp32=True, lora_all_linear="attention+experts")


def _fraction(cfg: Config) -> float:
    rp = cfg.get("rope_parameters") if isinstance(cfg.get("rope_parameters"), dict) else {}
    f = number({**cfg, **rp}, "partial_rotary_factor", default=0.5)
    assert f is not None
    return f


def _glm4(cfg: Config, name: str) -> ModelSpec:
    cfg = {"head_dim": 128, **{k: v for k, v in cfg.items() if v is not None}}  # Glm4Config's default
    c = llama_like(cfg, name, norms=4, qkv_bias=bool(cfg.get("attention_bias", True)), o_bias=False)
    c["mlp"] = MLP(kind="gated", intermediate_size=c["mlp"].intermediate_size, fused_gate_up=True,
                   activation=c["mlp"].activation)
    return ModelSpec(**c, rotary_fraction=_fraction(cfg), traits=_GLM4)


def _glm4_moe(cfg: Config, name: str) -> ModelSpec:
    c = llama_like(cfg, name, qkv_bias=bool(cfg.get("attention_bias", False)), o_bias=False,
                   qk_norm="head" if cfg.get("use_qk_norm") else "none")
    f = integer(cfg, "moe_intermediate_size")
    c["moe"] = MoE(num_experts=integer(cfg, "n_routed_experts"), top_k=integer(cfg, "num_experts_per_tok"),
                   expert_intermediate_size=f,
                   shared_intermediate_size=f * integer(cfg, "n_shared_experts", default=1),
                   router_correction_bias=True)
    first = integer(cfg, "first_k_dense_replace", default=1)
    c["moe_layers"] = tuple(i >= first for i in range(c["num_layers"]))
    if cfg.get("num_nextn_predict_layers"):
        c["notes"] = (f"the {cfg['num_nextn_predict_layers']} multi-token-prediction layer(s) in the checkpoint "
                      "are not part of the model transformers builds and are not counted",)
    return ModelSpec(**c, rotary_fraction=_fraction(cfg), traits=_GLM4_MOE)


READERS = {"glm4": _glm4, "glm4_moe": _glm4_moe}
TRAITS = {"glm4": _GLM4, "glm4_moe": _GLM4_MOE}
