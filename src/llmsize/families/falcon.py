"""Falcon: fused [q; k; v] (multi-query in Falcon-7B, grouped in the new decoder architecture),
LayerNorm, plain GELU MLP, parallel attention and MLP sharing one norm (7B) or two (40B/180B).

Falcon's attention is its own code: K and V are index copies of the fused output (broadcast to every
query head in the new decoder architecture, where the cache then holds n_h heads), torch SDPA is
called on the heads as they are (multi-query broadcasts: the math path), the causal mask is always
materialised, and the MLP output takes the attention output in place.

Source: hf-falcon
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, common, heads, integer, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="falcon", source="hf-falcon", gguf_arch="falcon",
                 leaves=(("attn_qkv", "query_key_value"), ("attn_output", "dense"), ("ffn_up", "dense_h_to_4h"),
                         ("ffn_down", "dense_4h_to_h")),
                 sdpa_direct=True, mask_always=True, parallel_add_inplace=True, keeps_norm_output=True)


def _refuse(name: str, what: str) -> LlmsizeError:
    return LlmsizeError(f"{name}: falcon with {what} is not modelled by llmsize; use `llmsize trace` for it")


def read(cfg: Config, name: str) -> ModelSpec:
    cfg = {**cfg, "num_hidden_layers": integer(cfg, "num_hidden_layers", "n_layer"),
           "num_attention_heads": integer(cfg, "num_attention_heads", "n_head")}
    c = common(cfg, name, tie_default=True)
    d, nh = c["hidden_size"], cfg["num_attention_heads"]
    new = bool(cfg.get("new_decoder_architecture", False))
    mq = bool(cfg.get("multi_query", True))
    kv = integer(cfg, "num_kv_heads", default=nh) if new else (1 if mq else nh)
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
    if bool(cfg.get("alibi", False)):
        raise _refuse(name, "ALiBi (alibi: true)")
    if bias:
        raise _refuse(name, "biases (bias: true)")
    if not (parallel or new):
        raise _refuse(name, "sequential attention and MLP (parallel_attn: false)")
    for k in ("hidden_dropout", "attention_dropout"):
        if rate(cfg, k):
            raise _refuse(name, f"{k} above 0")
    split = "index_expand" if new else "index" if mq else "view"
    traits = replace(_TRAITS, qkv_split=split, parallel_norms_first=new and per == 2)
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True, per_layer=per), position="rope",
                     parallel_residual=True, traits=traits)


READERS = {"falcon": read}
TRAITS = {"falcon": _TRAITS}
