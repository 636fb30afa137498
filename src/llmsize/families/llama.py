"""Llama and Mistral: pre-norm RMSNorm decoder, GQA, SwiGLU, rotary positions (Mistral: a sliding
window on every layer when the config sets one).

Source: hf-llama
"""
from __future__ import annotations

from llmsize.families._config import Config, llama_like
from llmsize.spec import ModelSpec, Traits

_TRAITS = Traits(family="llama", gguf_arch="llama")


def read(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name), traits=_TRAITS)


READERS = {"llama": read, "mistral": read}
TRAITS = {"llama": _TRAITS, "mistral": _TRAITS}
