"""DeepSeek-V3: multi-head latent attention (low-rank q and compressed kv with a shared rotary key),
dense first layers, then routed + shared SwiGLU experts with a sigmoid router and a per-expert
correction bias kept as a buffer.

Source: hf-deepseek-v3
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, common, get, integer, rate
from llmsize.spec import MLP, Attention, MoE, ModelSpec, Norms, Traits

_TRAITS = Traits(family="deepseek", source="hf-deepseek-v3", gguf_arch="deepseek2", rope_cat=True, router_fp32=True,
                 shared_expert_last=True, routing_fp32=True,
                lora_all_linear="attention+experts")


def read(cfg: Config, name: str) -> ModelSpec:
    c = common(cfg, name, tie_default=False)
    nope, rope = integer(cfg, "qk_nope_head_dim"), integer(cfg, "qk_rope_head_dim")
    heads = integer(cfg, "num_attention_heads")
    c["attention"] = Attention(num_heads=heads, num_kv_heads=heads, head_dim=nope + rope,
                               qkv_bias=bool(cfg.get("attention_bias", False)),
                               o_bias=bool(cfg.get("attention_bias", False)),
                               q_lora_rank=integer(cfg, "q_lora_rank", default=None),
                               kv_lora_rank=integer(cfg, "kv_lora_rank"), qk_rope_head_dim=rope,
                               v_head_dim=integer(cfg, "v_head_dim"),
                               rope_interleave=bool(get(cfg, "rope_interleave", default=True)))
    c["mlp"] = MLP(kind="gated", intermediate_size=integer(cfg, "intermediate_size"))
    f = integer(cfg, "moe_intermediate_size")
    c["moe"] = MoE(num_experts=integer(cfg, "n_routed_experts"), top_k=integer(cfg, "num_experts_per_tok"),
                   expert_intermediate_size=f,
                   shared_intermediate_size=f * integer(cfg, "n_shared_experts", default=0),
                   router_correction_bias=True)
    first, freq = integer(cfg, "first_k_dense_replace", default=0), integer(cfg, "moe_layer_freq", default=1)
    if freq < 1:
        raise LlmsizeError(f"config.json: moe_layer_freq must be at least 1, got {freq}")
    c["moe_layers"] = tuple(i >= first and i % freq == 0 for i in range(c["num_layers"]))
    c["norms"] = Norms(kind="rmsnorm", per_layer=2)
    notes = []
    if cfg.get("num_nextn_predict_layers"):
        notes.append(f"the {cfg['num_nextn_predict_layers']} multi-token-prediction layer(s) in the checkpoint "
                     "are not part of the model transformers builds and are not counted")
    return ModelSpec(**c, notes=tuple(notes), attention_dropout=rate(cfg, "attention_dropout"), traits=_TRAITS)


# Kimi K2's config.json names model_type "kimi_k2" but its architecture is DeepseekV3ForCausalLM: its auto_map
# loads configuration_deepseek.DeepseekV3Config and modeling_deepseek.DeepseekV3ForCausalLM (moonshotai/Kimi-K2-Instruct).
READERS = {"deepseek_v3": read, "kimi_k2": read}
TRAITS = {"deepseek_v3": _TRAITS, "kimi_k2": _TRAITS}
