"""Qwen3-Next: a hybrid of Gated DeltaNet (linear attention) layers and gated full-attention layers (every
full_attention_interval-th layer, or as layer_types says), each followed by a sparse MoE with a shared
expert behind a sigmoid gate (decoder_sparse_step / mlp_only_layers give dense MLP layers instead).
Full attention: per-head q/k RMSNorms, partial rotary (partial_rotary_factor, 0.25), and q_proj emitting
the query and a per-element output gate (2·n_h·d_h). Every RMSNorm is zero-centred (x · (1 + w)).
A linear-attention layer caches a conv state over q, k, v (2·G·N + d_in channels x K, model dtype) and a
recurrent state of H value heads x N x P (fp32) per sequence; only full-attention layers keep a KV cache.

Source: hf-qwen3-next
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families import _ssm
from llmsize.families._config import Config, integer, llama_like, number, sparse_layers
from llmsize.spec import SSM, Attention, ModelSpec, MoE, Traits

_TRAITS = Traits(family="qwen3_next", source="hf-qwen3-next", gguf_arch="qwen3next", norm_plus_one=True, rope_cat=True,
                 # peft 0.21.2's all-linear (transformers 5.23): the mixers' linears, the router, the fused experts
                 # and the shared-expert gate, not the shared expert's MLP (measured, tests/data/lora_counts.json)
                 lora_all_linear="mixers+experts+shared_gate",
                 leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj"),
                         ("ffn_gate", "gate_proj"), ("ffn_up", "up_proj"), ("ffn_down", "down_proj"),
                         ("ssm_in", "in_proj_qkvz"), ("ssm_ba", "in_proj_ba"), ("ssm_out", "out_proj")))
# ASSUMES: memory replays transformers' torch gated-delta-rule fallback (memory.gated_delta,
# gated_delta_train), not the fla kernels a GPU install may load instead

# transformers 5.23 Qwen3NextConfig defaults (configuration_qwen3_next.py)
_DEFAULTS = {"vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 48,
             "num_attention_heads": 16, "num_key_value_heads": 2, "max_position_embeddings": 32768, "head_dim": 256}


def _mixers(cfg: Config, n: int) -> tuple[str, ...]:
    if cfg.get("layer_types") is not None:
        return _ssm.mixers(cfg, n, "attention")
    k = integer(cfg, "full_attention_interval", default=4)
    if k < 1:
        raise LlmsizeError(f"config.json (qwen3_next): full_attention_interval must be at least 1, got {k}")
    return tuple("attention" if (i + 1) % k == 0 else "ssm" for i in range(n))


def read(cfg: Config, name: str) -> ModelSpec:
    c = llama_like({**_DEFAULTS, **cfg}, name, qk_norm="head")
    n = c["num_layers"]
    c["mixers"] = _mixers(cfg, n)
    c["layer_types"] = ()
    c.pop("sliding_window", None)
    a = c["attention"]
    c["attention"] = Attention(num_heads=a.num_heads, num_kv_heads=a.num_kv_heads, head_dim=a.head_dim,
                               qkv_bias=a.qkv_bias, o_bias=a.o_bias, qk_norm="head", output_gate=True)
    rp = cfg.get("rope_parameters") if isinstance(cfg.get("rope_parameters"), dict) else {}
    frac = number({**cfg, **rp}, "partial_rotary_factor", default=0.25)
    experts = integer(cfg, "num_experts", default=512)
    if experts > 0:
        c["moe"] = MoE(num_experts=experts, top_k=integer(cfg, "num_experts_per_tok", default=10),
                       expert_intermediate_size=integer(cfg, "moe_intermediate_size", default=512),
                       shared_intermediate_size=integer(cfg, "shared_expert_intermediate_size", default=512),
                       shared_expert_gate=True)
        c["moe_layers"] = sparse_layers(cfg, n)
    if "ssm" in c["mixers"]:
        nv, nk = integer(cfg, "linear_num_value_heads", default=32), integer(cfg, "linear_num_key_heads", default=16)
        c["ssm"] = SSM(kind="gated_delta", inner=nv * integer(cfg, "linear_value_head_dim", default=128),
                       state_size=integer(cfg, "linear_key_head_dim", default=128), num_heads=nv, n_groups=nk,
                       conv_kernel=integer(cfg, "linear_conv_kernel_dim", default=4), conv_bias=False)
    return ModelSpec(**c, rotary_fraction=frac, traits=_TRAITS)


READERS = {"qwen3_next": read}
TRAITS = {"qwen3_next": _TRAITS}
