"""ERNIE 4.5 MoE: the ERNIE 4.5 decoder (fp32 interleaved rotary, biases where use_bias says, tied
embeddings by default) whose layers from moe_layer_start_index to moe_layer_end_index, every
moe_layer_interval-th, hold routed experts (moe_intermediate_size, grouped_mm) plus always-on shared
experts (moe_num_shared_experts x moe_intermediate_size, with biases under use_bias). The router
weight and its correction bias (moe_statics, a frozen parameter) stay fp32 in a bf16 model
(`_keep_in_fp32_modules_strict`); routing runs in fp32 with autocast off.

Source: hf-ernie4_5_moe
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.errors import LlmsizeError
from llmsize.families import ernie4_5
from llmsize.families._config import Config, integer
from llmsize.spec import MoE, ModelSpec

# ASSUMES: peft's "all-linear" resolves as measured for Mixtral (attention, router, experts); not measured here
_TRAITS = replace(ernie4_5.TRAITS["ernie4_5"], family="ernie4_5_moe", source="hf-ernie4_5_moe",
                  gguf_arch="ernie4_5-moe", router_kind="ernie", router_weight_fp32=True,
                  lora_all_linear="attention+experts")


def moe_layers(cfg: Config, n: int) -> tuple[bool, ...]:
    """Ernie4_5_MoeDecoderLayer: (i + 1) % interval == 0 and start <= i <= end (end -1: the last layer)."""
    start = integer(cfg, "moe_layer_start_index", default=1)
    end = integer(cfg, "moe_layer_end_index", default=-1)
    step = integer(cfg, "moe_layer_interval", default=1)
    if step < 1:
        raise LlmsizeError(f"config.json: moe_layer_interval must be at least 1, got {step}")
    end = n - 1 if end == -1 else end
    return tuple((i + 1) % step == 0 and start <= i <= end for i in range(n))


def read(cfg: Config, name: str) -> ModelSpec:
    for key in ("moe_num_experts", "moe_intermediate_size"):
        if isinstance(cfg.get(key), list):
            raise LlmsizeError(f"{name}: {key} is a list (the vision-language ERNIE 4.5 layout, model_type "
                               f"ernie4_5_moe_vl); llmsize reads the text ernie4_5_moe, where it is one number")
    spec = ernie4_5.read({**cfg, "model_type": "ernie4_5"}, name)
    f = integer(cfg, "moe_intermediate_size")
    bias = bool(cfg.get("use_bias", False))
    moe = MoE(num_experts=integer(cfg, "moe_num_experts", "num_experts"), top_k=integer(cfg, "moe_k", "num_experts_per_tok"),
              expert_intermediate_size=f, shared_intermediate_size=f * integer(cfg, "moe_num_shared_experts", default=0),
              shared_bias=bias, router_correction_bias=True, correction_bias_param=True)
    return spec.with_(model_type=str(cfg.get("model_type")), moe=moe, lm_head_bias=bias,
                      moe_layers=moe_layers(cfg, spec.num_layers), traits=_TRAITS)


READERS = {"ernie4_5_moe": read}
TRAITS = {"ernie4_5_moe": _TRAITS}
