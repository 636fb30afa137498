"""Falcon: fused [q; k; v] (multi-query in Falcon-7B, grouped in the new decoder architecture),
LayerNorm, plain GELU MLP, parallel attention and MLP sharing one norm (7B) or two (40B/180B).

Source: hf-falcon
"""
from __future__ import annotations

from llmsize.families._config import Config, common, heads, integer
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="falcon", source="hf-falcon", gguf_arch="falcon",
                leaves=(("attn_qkv", "query_key_value"), ("attn_output", "dense"), ("ffn_up", "dense_h_to_4h"),
                        ("ffn_down", "dense_4h_to_h")))


def read(cfg: Config, name: str) -> ModelSpec:
    cfg = {**cfg, "num_hidden_layers": integer(cfg, "num_hidden_layers", "n_layer"),
           "num_attention_heads": integer(cfg, "num_attention_heads", "n_head")}
    c = common(cfg, name, tie_default=True)
    d, nh = c["hidden_size"], cfg["num_attention_heads"]
    new = bool(cfg.get("new_decoder_architecture", False))
    kv = integer(cfg, "num_kv_heads", default=nh) if new else (1 if cfg.get("multi_query", True) else nh)
    _, _, hd = heads({}, d, nh, kv)
    bias = bool(cfg.get("bias", False))
    c["attention"] = Attention(num_heads=nh, num_kv_heads=kv, head_dim=hd, qkv_bias=bias, o_bias=bias,
                               fused_qkv=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "ffn_hidden_size", default=4 * d), bias=bias,
                   activation=str(cfg.get("activation", "gelu")))
    parallel = bool(cfg.get("parallel_attn", True))
    if new:
        per = integer(cfg, "num_ln_in_parallel_attn", default=2)
    else:
        per = 1 if parallel else 2
    alibi = bool(cfg.get("alibi", False))
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True, per_layer=per),
                     position="alibi" if alibi else "rope", parallel_residual=parallel or new, traits=_TRAITS)


READERS = {"falcon": read}
TRAITS = {"falcon": _TRAITS}
