"""GPT-BigCode (StarCoder 1, SantaCoder): GPT-2's layout (learned positions, LayerNorm with bias,
fused c_attn, GELU MLP c_fc/c_proj, dropout on embeddings, attention probabilities and both residual
branches) with multi-query attention (one key/value head, `multi_query`), run through transformers'
attention functions; the block keeps `attn_output` alive to its end.

Source: hf-gpt-bigcode
"""
from __future__ import annotations

from llmsize.families._config import Config, common, heads, integer, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="gpt_bigcode", source="hf-gpt-bigcode", gguf_arch="starcoder", keeps_attn_output=True,
                 causal_mask_buffer=True, leaves=(("attn_qkv", "c_attn"), ("attn_output", "c_proj"), ("ffn_up", "c_fc"),
                         ("ffn_down", "c_proj")))


def read(cfg: Config, name: str) -> ModelSpec:
    d = integer(cfg, "n_embd", "hidden_size", default=768)
    nh = integer(cfg, "n_head", "num_attention_heads", default=12)
    cfg = {"vocab_size": 50257, **cfg, "hidden_size": d,
           "num_hidden_layers": integer(cfg, "n_layer", "num_hidden_layers", default=12),
           "max_position_embeddings": integer(cfg, "n_positions", "max_position_embeddings", default=1024)}
    c = common(cfg, name, tie_default=True)
    kv = 1 if cfg.get("multi_query", True) else nh
    _, _, hd = heads({}, d, nh, kv)
    c["attention"] = Attention(num_heads=nh, num_kv_heads=kv, head_dim=hd, qkv_bias=True, o_bias=True,
                               fused_qkv=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "n_inner", default=None) or 4 * d, bias=True,
                   activation=str(cfg.get("activation_function", "gelu_pytorch_tanh")))
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True), position="learned",
                     hidden_dropout=rate(cfg, "resid_pdrop", default=0.1),
                     attention_dropout=rate(cfg, "attn_pdrop", default=0.1),
                     embed_dropout=rate(cfg, "embd_pdrop", default=0.1), traits=_TRAITS)


READERS = {"gpt_bigcode": read}
TRAITS = {"gpt_bigcode": _TRAITS}
