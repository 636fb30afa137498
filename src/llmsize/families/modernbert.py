"""ModernBERT, counted as ModernBertForMaskedLM (the class with a training loss).

Pre-norm encoder: LayerNorm (bias = norm_bias, off by default) on the token embeddings (no absolute
positions, no token types), layers with an attention norm (nn.Identity in layer 0), fused Wqkv and Wo
(bias = attention_bias), rotary positions with a table per layer type (global layers every
global_attn_every_n_layers, the rest local with a window of local_attention tokens: half on each
side), a GeGLU MLP with one fused Wi (d -> 2f, chunked into input and gate) and Wo, a final norm; the
MLM head is dense (bias = classifier_bias), activation, LayerNorm, then the decoder tied to the
embeddings with a bias (decoder_bias). Encoders do not generate.

The memory replay runs the pre-norm layer with these traits (rotary on q.float()/k.float(), cast back;
layer 0 without attention norm; the embeddings held by the body's mask arguments) and the MLM head with
the fp32 HF loss over every position (sparse_prediction, which scores masked positions only, is not
modelled).

Source: hf-modernbert
"""
from __future__ import annotations

from llmsize.families._config import Config, common, heads, integer, layer_types, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="modernbert", source="hf-modernbert", gguf_arch="modern-bert", encoder=True, embed_norm=True,
                 mlm_head=True, first_attn_norm=False, rope_per_layer_type=True, rope_upcast=True,
                 leaves=(("attn_qkv", "Wqkv"), ("attn_output", "Wo"), ("ffn_up", "Wi"), ("ffn_down", "Wo"),
                         ("head_transform", "dense")))


def read(cfg: Config, name: str) -> ModelSpec:
    cfg = {**cfg, "max_position_embeddings": integer(cfg, "max_position_embeddings", default=8192)}
    c = common(cfg, name, tie_default=True)
    d, n = c["hidden_size"], c["num_layers"]
    nh, _, hd = heads({}, d, integer(cfg, "num_attention_heads"), 1)
    ab = bool(cfg.get("attention_bias", False))
    every = integer(cfg, "global_attn_every_n_layers", default=3)
    if every < 1:
        every = 1
    c["layer_types"] = layer_types(cfg, n, lambda i: "sliding" if i % every else "full")
    window = integer(cfg, "local_attention", default=128) // 2
    return ModelSpec(**c, attention=Attention(num_heads=nh, num_kv_heads=nh, head_dim=hd, qkv_bias=ab, o_bias=ab,
                                              fused_qkv=True),
                     mlp=MLP(kind="gated", intermediate_size=integer(cfg, "intermediate_size", default=1152),
                             bias=bool(cfg.get("mlp_bias", False)), fused_gate_up=True,
                             activation=str(cfg.get("hidden_activation") or "gelu")),
                     norms=Norms(kind="layernorm", bias=bool(cfg.get("norm_bias", False)), per_layer=2),
                     position="rope", sliding_window=max(1, window) if "sliding" in c["layer_types"] else None,
                     head_transform_bias=bool(cfg.get("classifier_bias", False)),
                     lm_head_bias=bool(cfg.get("decoder_bias", True)),
                     hidden_dropout=rate(cfg, "mlp_dropout"), attention_dropout=rate(cfg, "attention_dropout"),
                     embed_dropout=rate(cfg, "embedding_dropout"), traits=_TRAITS)


READERS = {"modernbert": read}
TRAITS = {"modernbert": _TRAITS}
