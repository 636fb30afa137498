"""gpt-oss: alternating sliding/full attention with biases and a learned sink logit per head, every
MLP a top-k mixture of experts with biases and a biased router named `router`.

Source: hf-gpt-oss
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.families._config import Config, integer, llama_like
from llmsize.spec import MoE, ModelSpec, Traits

_TRAITS = Traits(family="gpt_oss", source="hf-gpt-oss", gguf_arch="gpt-oss", router_leaf="router",
                lora_experts=False, lora_all_linear="attention",
                router_kind="topk_softmax", rope_half_tables=True)


def read(cfg: Config, name: str) -> ModelSpec:
    c = llama_like(cfg, name, qkv_bias=True, o_bias=True, types=lambda i: "sliding" if i % 2 == 0 else "full")
    c["attention"] = replace(c["attention"], sinks=True)
    c["moe"] = MoE(num_experts=integer(cfg, "num_local_experts"),
                   top_k=integer(cfg, "num_experts_per_tok", "experts_per_token"),
                   expert_intermediate_size=integer(cfg, "intermediate_size"), expert_bias=True, router_bias=True,
                   gate_fn="clamped_swiglu")
    c["moe_layers"] = (True,) * c["num_layers"]
    return ModelSpec(**c, traits=_TRAITS)


READERS = {"gpt_oss": read}
TRAITS = {"gpt_oss": _TRAITS}
