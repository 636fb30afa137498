"""Nemotron (NVIDIA Nemotron-4 / Minitron): a Llama-style attention with partial rotary ending in
torch.cat, LayerNorm1P (LayerNorm with bias whose weight is stored minus one: weight + 1 is made per
call), and a plain squared-ReLU MLP (up_proj, down_proj).

Source: hf-nemotron
"""
from __future__ import annotations

from llmsize.families._config import Config, integer, llama_like, number
from llmsize.spec import MLP, ModelSpec, Norms, Traits

_TRAITS = Traits(family="nemotron", source="hf-nemotron", gguf_arch="nemotron", rope_cat=True,
                 leaves=(("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj"), ("attn_output", "o_proj"),
                         ("ffn_up", "up_proj"), ("ffn_down", "down_proj")))


def read(cfg: Config, name: str) -> ModelSpec:
    cfg = {k: v for k, v in cfg.items() if v is not None}
    c = llama_like(cfg, name, act="relu2")
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "intermediate_size"),
                   bias=bool(cfg.get("mlp_bias", False)), activation=c["mlp"].activation)
    c["norms"] = Norms(kind="layernorm", bias=True)
    rp = cfg.get("rope_parameters") if isinstance(cfg.get("rope_parameters"), dict) else {}
    frac = number({**cfg, **rp}, "partial_rotary_factor", default=0.5)
    assert frac is not None
    return ModelSpec(**c, rotary_fraction=frac, traits=_TRAITS)


READERS = {"nemotron": read}
TRAITS = {"nemotron": _TRAITS}
