"""OLMo (1): a Llama decoder whose norms are non-parametric LayerNorms computed in fp32, rotary in fp32
(layer_norm(x.float()).to(dtype), no weight or bias); clip_qkv (clamping q, k, v) is not replayed.

Source: hf-olmo
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, llama_like
from llmsize.spec import ModelSpec, Norms, Traits

_TRAITS = Traits(family="olmo", source="hf-olmo", gguf_arch="olmo", layernorm_fp32=True, rope_fp32=True)


def read(cfg: Config, name: str) -> ModelSpec:
    if cfg.get("clip_qkv") is not None:
        raise LlmsizeError(f"{name}: olmo with clip_qkv is not modelled by llmsize; use `llmsize trace` for it")
    c = llama_like(cfg, name)
    c["norms"] = Norms(kind="layernorm", bias=False, affine=False)
    return ModelSpec(**c, traits=_TRAITS)


READERS = {"olmo": read}
TRAITS = {"olmo": _TRAITS}
