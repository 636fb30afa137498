"""DeepSeek-V2 (and V2-Lite, DeepSeek-Coder-V2): multi-head latent attention as in V3 but with a complex
rotary (a complex64 freqs_cis table; q_pe, k_pe upcast to fp32, viewed as complex, multiplied, cast
back), an optional low-rank query (q_lora_rank null: a plain q_proj, as in V2-Lite), dense first layers,
then routed + shared SwiGLU experts behind a softmax router (fp32) that picks the top-k greedily or
group-limited ("group_limited_greedy": the best topk_group of n_group groups first) and scales the
weights by routed_scaling_factor. No correction bias, no weight renormalisation in transformers' code.

Source: hf-deepseek-v2
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, common, get, integer, rate
from llmsize.spec import MLP, Attention, MoE, ModelSpec, Norms, Traits

_TRAITS = Traits(family="deepseek_v2", source="hf-deepseek-v2", gguf_arch="deepseek2", rope_cat=True,
                 router_fp32=True, shared_expert_last=True, routing_fp32=True, rope_complex=True,
                 router_scale_tensor=True, lora_all_linear="attention+experts")
_TOPK = ("greedy", "group_limited_greedy")


def read(cfg: Config, name: str) -> ModelSpec:
    c = common(cfg, name, tie_default=False)
    nope, rope = integer(cfg, "qk_nope_head_dim", default=128), integer(cfg, "qk_rope_head_dim", default=64)
    heads = integer(cfg, "num_attention_heads")
    # transformers' DeepseekV2Config defaults: q_lora_rank 1536 when the key is absent, null = plain q_proj
    q_rank = integer(cfg, "q_lora_rank") if cfg.get("q_lora_rank") is not None else (
        None if "q_lora_rank" in cfg else 1536)
    bias = bool(cfg.get("attention_bias", False))
    c["attention"] = Attention(num_heads=heads, num_kv_heads=heads, head_dim=nope + rope, qkv_bias=bias, o_bias=bias,
                               q_lora_rank=q_rank, kv_lora_rank=integer(cfg, "kv_lora_rank", default=512),
                               qk_rope_head_dim=rope, v_head_dim=integer(cfg, "v_head_dim", default=128))
    c["mlp"] = MLP(kind="gated", intermediate_size=integer(cfg, "intermediate_size"),
                   bias=bool(cfg.get("mlp_bias", False)), activation=str(get(cfg, "hidden_act", default="silu")))
    f = integer(cfg, "moe_intermediate_size", default=1407)
    method = get(cfg, "topk_method", default="greedy")
    if method not in _TOPK:
        raise LlmsizeError(f"config.json: topk_method {method!r} is not one DeepSeek-V2 code runs "
                           f"(accepted: {', '.join(_TOPK)})")
    experts = integer(cfg, "n_routed_experts", default=64)
    if method == "group_limited_greedy":
        groups = integer(cfg, "n_group")
        if groups < 1 or experts % groups or not 1 <= integer(cfg, "topk_group") <= groups:
            raise LlmsizeError(f"config.json: group-limited routing needs n_group ({groups}) dividing "
                               f"n_routed_experts ({experts}) and 1 <= topk_group <= n_group")
    c["moe"] = MoE(num_experts=experts, top_k=integer(cfg, "num_experts_per_tok"), expert_intermediate_size=f,
                   shared_intermediate_size=f * integer(cfg, "n_shared_experts", default=2))
    first = integer(cfg, "first_k_dense_replace", default=0)
    # transformers builds an MoE block on every layer from first_k_dense_replace on (moe_layer_freq unread)
    c["moe_layers"] = tuple(i >= first for i in range(c["num_layers"]))
    c["norms"] = Norms(kind="rmsnorm", per_layer=2)
    notes = []
    if integer(cfg, "moe_layer_freq", default=1) != 1:
        notes.append(f"moe_layer_freq {cfg['moe_layer_freq']} is not read by transformers' DeepSeek-V2 code: "
                     "every layer from first_k_dense_replace on is counted as MoE, as transformers builds it")
    return ModelSpec(**c, notes=tuple(notes), attention_dropout=rate(cfg, "attention_dropout"), traits=_TRAITS)


READERS = {"deepseek_v2": read}
TRAITS = {"deepseek_v2": _TRAITS}
