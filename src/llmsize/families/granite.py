"""Granite (IBM): a Llama decoder whose code scales the embeddings (embedding_multiplier), each residual
branch (residual_multiplier) and the logits (1 / logits_scaling); each scaling is a tensor op (the
attention_multiplier only replaces the softmax scale).

Source: hf-granite
"""
from __future__ import annotations

from llmsize.families._config import Config, llama_like
from llmsize.spec import ModelSpec, Traits

_TRAITS = Traits(family="granite", source="hf-granite", gguf_arch="granite", embed_scale=True, residual_scale=True,
                 logits_scale=True)


def read(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name), traits=_TRAITS)


READERS = {"granite": read}
TRAITS = {"granite": _TRAITS}
