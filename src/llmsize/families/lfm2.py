"""LFM2 (Liquid AI): gated short-convolution layers (in_proj d -> 3d, depthwise conv of conv_L_cache taps,
out_proj) and a few attention layers with per-head q/k norms, each followed by a SwiGLU MLP (w1/w3/w2,
its width auto-adjusted to 2/3, times block_ffn_dim_multiplier, rounded up to block_multiple_of). A conv
layer caches only its last conv_L_cache inputs (d x K, model dtype) per sequence.

Source: hf-lfm2
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families import _ssm
from llmsize.families._config import Config, get, integer, llama_like, number
from llmsize.spec import MLP, SSM, Attention, ModelSpec, Traits

_TRAITS = Traits(family="lfm2", source="hf-lfm2", gguf_arch="lfm2",
                 leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "out_proj"),
                         ("ffn_gate", "w1"), ("ffn_up", "w3"), ("ffn_down", "w2"), ("ssm_in", "in_proj"),
                         ("ssm_out", "out_proj")))


def _ffn(cfg: Config) -> int:
    f = integer(cfg, "block_ff_dim", "intermediate_size", default=12288)
    if get(cfg, "block_auto_adjust_ff_dim", default=True):
        f = int(2 * f / 3)
        mult = number(cfg, "block_ffn_dim_multiplier", default=1.0)
        if mult is not None:
            m = integer(cfg, "block_multiple_of", default=256)
            if m < 1:
                raise LlmsizeError(f"config.json (lfm2): block_multiple_of must be positive, got {m}")
            f = m * ((int(mult * f) + m - 1) // m)
    return f


def read(cfg: Config, name: str) -> ModelSpec:
    tie = get(cfg, "tie_embedding", "tie_word_embeddings", default=True)
    c = llama_like({"vocab_size": 65536, "max_position_embeddings": 128000, "num_key_value_heads": 8,
                    **cfg, "intermediate_size": _ffn(cfg), "tie_word_embeddings": tie}, name, qk_norm="head")
    n = c["num_layers"]
    c["layer_types"] = ()
    c.pop("sliding_window", None)
    if cfg.get("layer_types") is None:
        full = cfg.get("full_attn_idxs")
        full = set(range(n)) if full is None else set(full) if isinstance(full, list) else None
        if full is None:
            raise LlmsizeError("config.json (lfm2): full_attn_idxs must be a list of layer indices")
        c["mixers"] = tuple("attention" if i in full else "ssm" for i in range(n))
    else:
        c["mixers"] = _ssm.mixers(cfg, n, "attention")
    a = c["attention"]
    c["attention"] = Attention(num_heads=a.num_heads, num_kv_heads=a.num_kv_heads, head_dim=a.head_dim, qk_norm="head")
    bias = bool(get(cfg, "conv_bias", default=False))
    if "ssm" in c["mixers"]:
        c["ssm"] = SSM(kind="shortconv", inner=c["hidden_size"], conv_kernel=integer(cfg, "conv_L_cache", default=3),
                       conv_bias=bias, in_bias=bias, out_bias=bias)
    c["mlp"] = MLP(kind="gated", intermediate_size=c["mlp"].intermediate_size)
    return ModelSpec(**c, traits=_TRAITS)


READERS = {"lfm2": read}
TRAITS = {"lfm2": _TRAITS}
