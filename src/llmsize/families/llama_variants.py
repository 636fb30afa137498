"""Llama-code descendants that differ in one or two places:
- helium: RMSNorm with the weight product in fp32;
- seed_oss: q/k/v biases (attention_bias), an output bias (attention_out_bias), residual dropout after
  attention and after the MLP (residual_dropout) and attention dropout, both 0.1 by default;
- hunyuan_v1_dense: RMSNorm per head on q and k after the rotary embedding;
- arcee: a plain up/down MLP with ReLU squared.

Source: hf-llama
"""
from __future__ import annotations

from llmsize.families._config import Config, integer, llama_like, rate
from llmsize.spec import MLP, ModelSpec, Traits

TRAITS = {
    "helium": Traits(family="llama_variants", gguf_arch="helium", norm_weight_fp32=True),
    "seed_oss": Traits(family="llama_variants", gguf_arch="seed_oss", gated_mlp_dropout=True),
    "hunyuan_v1_dense": Traits(family="llama_variants", gguf_arch="hunyuan-dense", qk_norm_after_rope=True),
    "arcee": Traits(family="llama_variants", gguf_arch="arcee",
                    leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj"),
                            ("ffn_up", "up_proj"), ("ffn_down", "down_proj"))),
}


def _helium(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name), traits=TRAITS["helium"])


def _seed_oss(cfg: Config, name: str) -> ModelSpec:
    c = llama_like(cfg, name, qkv_bias=bool(cfg.get("attention_bias", True)),
                   o_bias=bool(cfg.get("attention_out_bias", False)))
    c["attention_dropout"] = rate(cfg, "attention_dropout", default=0.1)
    return ModelSpec(**c, hidden_dropout=rate(cfg, "residual_dropout", default=0.1), traits=TRAITS["seed_oss"])


def _hunyuan(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name, qk_norm="head"), traits=TRAITS["hunyuan_v1_dense"])


def _arcee(cfg: Config, name: str) -> ModelSpec:
    c = llama_like(cfg, name, act="relu2")
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "intermediate_size"),
                   bias=bool(cfg.get("mlp_bias", False)), activation=c["mlp"].activation)
    return ModelSpec(**c, traits=TRAITS["arcee"])


READERS = {"helium": _helium, "seed_oss": _seed_oss, "hunyuan_v1_dense": _hunyuan,
           "arcee": _arcee}
