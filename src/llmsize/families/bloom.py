"""BLOOM: ALiBi positions, a LayerNorm on the word embeddings, fused [q; k; v] (per head interleaved)
with biases, GELU MLP (dense_h_to_4h, dense_4h_to_h) with biases, tied head; its own attention
(baddbmm onto the ALiBi bias, fp32 softmax) and block (both residual adds inside the branches) are
replayed by memory.alibi_block. Eager attention only (transformers has no SDPA path for it).

Source: hf-bloom
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, common, heads, integer, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="bloom", source="hf-bloom", gguf_arch="bloom", layer_code="bloom", word_embed_norm=True,
                 eager_only=True,
                 leaves=(("attn_qkv", "query_key_value"), ("attn_output", "dense"), ("ffn_up", "dense_h_to_4h"),
                         ("ffn_down", "dense_4h_to_h")))


def read(cfg: Config, name: str) -> ModelSpec:
    d = integer(cfg, "hidden_size", "n_embed", default=64)
    nh = integer(cfg, "n_head", "num_attention_heads", default=8)
    cfg = {"vocab_size": 250880, **cfg, "hidden_size": d,
           "num_hidden_layers": integer(cfg, "n_layer", "num_hidden_layers", default=2)}
    for k in ("apply_residual_connection_post_layernorm", "slow_but_exact"):
        if cfg.get(k):
            raise LlmsizeError(f"{name}: bloom with {k} is not modelled by llmsize; use `llmsize trace` for it")
    if integer(cfg, "pretraining_tp", default=1) > 1 and cfg.get("slow_but_exact"):
        raise LlmsizeError(f"{name}: bloom with slow_but_exact is not modelled by llmsize; use `llmsize trace`")
    c = common(cfg, name, tie_default=True)
    _, _, hd = heads({}, d, nh, nh)
    c["attention"] = Attention(num_heads=nh, num_kv_heads=nh, head_dim=hd, qkv_bias=True, o_bias=True,
                               fused_qkv=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=4 * d, bias=True, activation="gelu")
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True), position="alibi",
                     hidden_dropout=rate(cfg, "hidden_dropout"), attention_dropout=rate(cfg, "attention_dropout"),
                     traits=_TRAITS)


READERS = {"bloom": read}
TRAITS = {"bloom": _TRAITS}
