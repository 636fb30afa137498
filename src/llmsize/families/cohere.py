"""Cohere (Command R) and Cohere 2 (Command R7B, Command A): attention and MLP in parallel on one
LayerNorm (no bias, written out in fp32 ops), rotary on even/odd pairs computed in fp32, a gated
SiLU MLP, tied embeddings, logits scaled by `logit_scale` (a tensor op); Cohere 2 alternates three
sliding-window layers with rotary and one full-attention layer without (NoPE).

Source: hf-cohere
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, integer, layer_types, llama_like
from llmsize.spec import ModelSpec, Norms, Traits

_COHERE = Traits(family="cohere", source="hf-cohere", gguf_arch="command-r", layernorm_ops_fp32=True,
                 rope_float_first=True, logits_scale=True)
_COHERE2 = replace(_COHERE, source="hf-cohere2", gguf_arch="cohere2")


def _common(cfg: Config, name: str, types=None) -> dict:
    if cfg.get("use_qk_norm"):
        raise LlmsizeError(f"{name}: cohere with use_qk_norm is not modelled by llmsize; use `llmsize trace` for it")
    c = llama_like(cfg, name, tie=True, norms=1, types=types)
    c["norms"] = Norms(kind="layernorm", bias=False, per_layer=1)
    c["parallel_residual"] = True
    return c


def _cohere(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**_common(cfg, name), traits=_COHERE)


def _cohere2(cfg: Config, name: str) -> ModelSpec:
    pattern = integer(cfg, "sliding_window_pattern", default=4)
    cfg = {"sliding_window": 4096, **{k: v for k, v in cfg.items() if v is not None}}
    c = _common(cfg, name, types=lambda i: "sliding" if (i + 1) % pattern else "full")
    if not c["layer_types"]:
        c["layer_types"] = layer_types(cfg, c["num_layers"], lambda i: "sliding" if (i + 1) % pattern else "full")
    c["rope_layers"] = tuple(t == "sliding" for t in c["layer_types"])  # full-attention layers are NoPE
    return ModelSpec(**c, traits=_COHERE2)


READERS = {"cohere": _cohere, "cohere2": _cohere2}
TRAITS = {"cohere": _COHERE, "cohere2": _COHERE2}
