"""Granite (IBM): a Llama decoder whose code scales the embeddings (embedding_multiplier), each residual
branch (residual_multiplier) and the logits (1 / logits_scaling); each scaling is a tensor op (the
attention_multiplier only replaces the softmax scale).

Source: hf-granite
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.families._config import Config, integer, llama_like
from llmsize.spec import MoE, ModelSpec, Traits

_TRAITS = Traits(family="granite", source="hf-granite", gguf_arch="granite", embed_scale=True,
                 embed_scale_in_body=True, residual_scale=True, logits_scale=True)


def read(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name), traits=_TRAITS)


READERS = {"granite": read}
TRAITS = {"granite": _TRAITS}


# GraniteMoE: the same scalings, every MLP a top-k mixture of fused SwiGLU experts (grouped_mm) whose
# router (`router`) takes the top-k logits first, then a softmax over the k.
_MOE_TRAITS = replace(_TRAITS, source="hf-granitemoe", gguf_arch="granitemoe", router_leaf="router",
                      lora_all_linear="attention+experts",
                      router_kind="topk_softmax_fp32")


def read_moe(cfg: Config, name: str) -> ModelSpec:
    c = llama_like(cfg, name)
    c["moe"] = MoE(num_experts=integer(cfg, "num_local_experts"), top_k=integer(cfg, "num_experts_per_tok"),
                   expert_intermediate_size=integer(cfg, "intermediate_size"))
    c["moe_layers"] = (True,) * c["num_layers"]
    return ModelSpec(**c, traits=_MOE_TRAITS)


READERS["granitemoe"] = read_moe
TRAITS["granitemoe"] = _MOE_TRAITS
