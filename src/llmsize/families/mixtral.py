"""Mixtral and OLMoE: a Llama/OLMo-2-style decoder whose every MLP is a top-k mixture of fused
SwiGLU experts (transformers' grouped_mm). Mixtral keeps the routing weights in fp32.

Source: hf-mixtral
"""
from __future__ import annotations

from llmsize.families._config import Config, integer, llama_like
from llmsize.spec import MoE, ModelSpec, Traits


def _moe(cfg: Config, name: str, experts_key: str, **kw: str) -> dict:
    c = llama_like(cfg, name, **kw)
    c["moe"] = MoE(num_experts=integer(cfg, experts_key), top_k=integer(cfg, "num_experts_per_tok"),
                   expert_intermediate_size=integer(cfg, "intermediate_size"))
    c["moe_layers"] = (True,) * c["num_layers"]
    return c


TRAITS = {"mixtral": Traits(family="mixtral", source="hf-mixtral", gguf_arch="llama", routing_fp32=True,
                              lora_all_linear="attention+experts"),
          "olmoe": Traits(family="mixtral", source="hf-mixtral", gguf_arch="olmoe", lora_all_linear="attention+experts")}


def _mixtral(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**_moe(cfg, name, "num_local_experts"), traits=TRAITS["mixtral"])


def _olmoe(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**_moe(cfg, name, "num_experts", qk_norm="full"), traits=TRAITS["olmoe"])


READERS = {"mixtral": _mixtral, "olmoe": _olmoe}
