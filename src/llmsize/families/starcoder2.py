"""StarCoder 2: a Llama-style decoder with LayerNorm (bias), biases on every projection (use_bias), a plain
GELU MLP (c_fc, c_proj), tied embeddings, dropout on both residual branches (residual_dropout), and a
sliding window on every layer when the config sets one.

Source: hf-starcoder2
"""
from __future__ import annotations

from llmsize.families._config import Config, integer, llama_like, rate
from llmsize.spec import MLP, ModelSpec, Norms, Traits

_TRAITS = Traits(family="starcoder2", source="hf-starcoder2", gguf_arch="starcoder2",
                 leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj"),
                         ("ffn_up", "c_fc"), ("ffn_down", "c_proj")))


def read(cfg: Config, name: str) -> ModelSpec:
    bias = bool(cfg.get("use_bias", True))
    cfg = {"vocab_size": 49152, "max_position_embeddings": 4096, **cfg}
    c = llama_like(cfg, name, tie=True, qkv_bias=bias, o_bias=bias, act="gelu_pytorch_tanh")
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "intermediate_size"), bias=bias,
                   activation=c["mlp"].activation)
    c["norms"] = Norms(kind="layernorm", bias=True)
    return ModelSpec(**c, hidden_dropout=rate(cfg, "residual_dropout"), embed_dropout=rate(cfg, "embedding_dropout"),
                     traits=_TRAITS)


READERS = {"starcoder2": read}
TRAITS = {"starcoder2": _TRAITS}
