"""GPT-NeoX (Pythia): LayerNorm with bias, fused [q; k; v] with biases, partial rotary ending in
torch.cat, plain GELU MLP, and (by default) the parallel residual out = x + attn(ln1 x) + mlp(ln2 x).

Source: hf-gpt-neox
"""
from __future__ import annotations

from llmsize.families._config import Config, common, heads, integer, number, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_TRAITS = Traits(family="gpt_neox", source="hf-gpt-neox", gguf_arch="gpt_neox", rope_cat=True,
                leaves=(("attn_qkv", "query_key_value"), ("attn_output", "dense"), ("ffn_up", "dense_h_to_4h"),
                        ("ffn_down", "dense_4h_to_h")))


def read(cfg: Config, name: str) -> ModelSpec:
    c = common(cfg, name, tie_default=False)
    nh, _, hd = heads({}, c["hidden_size"], integer(cfg, "num_attention_heads"), 1)
    bias = bool(cfg.get("attention_bias", True))
    c["attention"] = Attention(num_heads=nh, num_kv_heads=nh, head_dim=hd, qkv_bias=bias, o_bias=bias,
                               fused_qkv=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "intermediate_size"), bias=True,
                   activation=str(cfg.get("hidden_act", "gelu")))
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True),
                     rotary_fraction=number(cfg, "rotary_pct", "partial_rotary_factor", default=0.25),
                     parallel_residual=bool(cfg.get("use_parallel_residual", True)),
                     hidden_dropout=rate(cfg, "hidden_dropout"), attention_dropout=rate(cfg, "attention_dropout"),
                     traits=_TRAITS)


READERS = {"gpt_neox": read}
TRAITS = {"gpt_neox": _TRAITS}
