"""OLMo 2: RMSNorm over all heads on q and k, norms after attention and MLP outputs (counted as the
layer's two norms).

Source: hf-olmo2
"""
from __future__ import annotations

from llmsize.families._config import Config, llama_like
from llmsize.spec import ModelSpec, Traits


TRAITS = {"olmo2": Traits(family="olmo2", source="hf-olmo2", gguf_arch="olmo2")}


def read(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name, qk_norm="full"), traits=TRAITS["olmo2"])


READERS = {"olmo2": read}
