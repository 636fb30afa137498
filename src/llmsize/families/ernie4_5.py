"""ERNIE 4.5 (dense): a Llama decoder with fp32 cos/sin tables and rotary on even/odd pairs computed in
fp32 (memory.rope_fp32), biases where use_bias says, tied embeddings by default.

Source: hf-ernie4_5
"""
from __future__ import annotations

from llmsize.families._config import Config, integer, llama_like
from llmsize.spec import MLP, ModelSpec, Traits

_TRAITS = Traits(family="ernie4_5", source="hf-ernie4_5", gguf_arch="ernie4_5", rope_fp32=True,
                 rope_interleaved_fp32=True)


def read(cfg: Config, name: str) -> ModelSpec:
    bias = bool(cfg.get("use_bias", False))
    cfg = {"head_dim": 128, **cfg}
    c = llama_like(cfg, name, tie=True, qkv_bias=bias, o_bias=bias)
    c["mlp"] = MLP(kind="gated", intermediate_size=integer(cfg, "intermediate_size"), bias=bias,
                   activation=c["mlp"].activation)
    return ModelSpec(**c, traits=_TRAITS)


READERS = {"ernie4_5": read}
TRAITS = {"ernie4_5": _TRAITS}
