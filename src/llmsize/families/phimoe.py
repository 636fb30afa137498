"""Phi-3.5-MoE (phimoe): a Mixtral-style decoder with LayerNorm (weight and bias) in place of RMSNorm,
biases on q/k/v/o (attention_bias) and on the LM head (lm_head_bias), and the sparsemixer router:
two masked softmaxes over the model-dtype logits, which always pick two experts (the code ignores
num_experts_per_tok), run as transformers' grouped_mm experts.

Source: hf-phimoe
"""
from __future__ import annotations

from llmsize.families._config import Config, integer, llama_like, rate
from llmsize.spec import MoE, ModelSpec, Norms, Traits

# peft 0.21.2's "all-linear" on PhimoeForCausalLM adapts the attention linears and the router (an nn.Linear), not
# the fused expert parameters: measured on the Phi-3.5-MoE-instruct preset (tests/data/lora_counts.json)
_TRAITS = Traits(family="phimoe", source="hf-phimoe", gguf_arch="phimoe", router_leaf="router",
                 router_kind="sparsemixer", lora_all_linear="linears+router")
SPARSEMIXER_K = 2  # sparsemixer() selects a top-1 and a masked top-2: two experts per token


def read(cfg: Config, name: str) -> ModelSpec:
    c = llama_like(cfg, name)
    k = integer(cfg, "num_experts_per_tok", default=SPARSEMIXER_K)
    c["moe"] = MoE(num_experts=integer(cfg, "num_local_experts"), top_k=SPARSEMIXER_K,
                   expert_intermediate_size=integer(cfg, "intermediate_size"),
                   input_jitter=rate(cfg, "input_jitter_noise"))
    c["moe_layers"] = (True,) * c["num_layers"]
    c["norms"] = Norms(kind="layernorm", bias=True, per_layer=2)
    c["lm_head_bias"] = bool(cfg.get("lm_head_bias", False))
    notes = () if k == SPARSEMIXER_K else (
        f"{name}: num_experts_per_tok is {k}, but Phi-MoE's sparsemixer router always sends each token to "
        f"{SPARSEMIXER_K} experts; sized with {SPARSEMIXER_K}",)
    return ModelSpec(**c, traits=_TRAITS, notes=notes)


READERS = {"phimoe": read}
TRAITS = {"phimoe": _TRAITS}
