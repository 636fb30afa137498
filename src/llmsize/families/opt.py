"""OPT: learned positions (offset 2, per batch row), LayerNorm, separate q/k/v with biases and q scaled
as its own tensor, an inline ReLU MLP (fc1, fc2) that rebinds the norm output, dropout on both residual
branches; OPT-350m projects narrower word embeddings in and out.

Source: hf-opt
"""
from __future__ import annotations

from llmsize.families._config import Config, common, heads, integer, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="opt", source="hf-opt", gguf_arch="opt", q_prescale=True, mlp_inline=True,
                position_ids_per_row=True,
                leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "out_proj"),
                        ("ffn_up", "fc1"), ("ffn_down", "fc2")))


def read(cfg: Config, name: str) -> ModelSpec:
    c = common(cfg, name, tie_default=True)
    d = c["hidden_size"]
    nh, _, hd = heads({}, d, integer(cfg, "num_attention_heads"), 1)
    bias = bool(cfg.get("enable_bias", True))
    c["attention"] = Attention(num_heads=nh, num_kv_heads=nh, head_dim=hd, qkv_bias=bias, o_bias=bias)
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "ffn_dim"), bias=bias,
                   activation=str(cfg.get("activation_function", "relu")))
    affine = bool(cfg.get("layer_norm_elementwise_affine", True))
    final = bool(cfg.get("do_layer_norm_before", True)) and not cfg.get("_remove_final_layer_norm", False)
    e = integer(cfg, "word_embed_proj_dim", default=d)
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=affine, per_layer=2 if affine else 0,
                                      final=final and affine),
                     position="learned", position_offset=2, embed_dim=e if e != d else None,
                     hidden_dropout=rate(cfg, "dropout", default=0.1),
                     attention_dropout=rate(cfg, "attention_dropout"), traits=_TRAITS)


READERS = {"opt": read}
TRAITS = {"opt": _TRAITS}
