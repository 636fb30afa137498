"""Qwen2-MoE (top-k experts plus a shared expert behind a sigmoid gate, q/k/v biases) and Qwen3-MoE
(top-k experts, per-head q/k norms), with dense layers where decoder_sparse_step / mlp_only_layers say.

Source: hf-qwen2-moe
"""
from __future__ import annotations

from llmsize.families._config import Config, integer, llama_like, sparse_layers
from llmsize.spec import MoE, ModelSpec, Traits


TRAITS = {"qwen2_moe": Traits(family="qwen_moe", source="hf-qwen2-moe", gguf_arch="qwen2_moe",
                                lora_all_linear="linears+shared_gate"),
          "qwen3_moe": Traits(family="qwen_moe", source="hf-qwen3", gguf_arch="qwen3_moe",
                              lora_all_linear="attention+experts")}


def _qwen_moe(cfg: Config, name: str, *, shared: bool) -> ModelSpec:
    c = llama_like(cfg, name, qkv_bias=bool(cfg.get("qkv_bias", True)) if shared else None,
                   o_bias=False if shared else None, qk_norm="none" if shared else "head")
    c["moe"] = MoE(num_experts=integer(cfg, "num_experts", "num_local_experts"),
                   top_k=integer(cfg, "num_experts_per_tok"),
                   expert_intermediate_size=integer(cfg, "moe_intermediate_size"),
                   shared_intermediate_size=integer(cfg, "shared_expert_intermediate_size") if shared else 0,
                   shared_expert_gate=shared)
    c["moe_layers"] = sparse_layers(cfg, c["num_layers"])
    return ModelSpec(**c, traits=TRAITS["qwen2_moe" if shared else "qwen3_moe"])


READERS = {"qwen2_moe": lambda c, n: _qwen_moe(c, n, shared=True),
           "qwen3_moe": lambda c, n: _qwen_moe(c, n, shared=False)}
