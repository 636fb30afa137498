"""OLMo 2: RMSNorm over all heads on q and k, norms after attention and MLP outputs (counted as the
layer's two norms). OLMo 3: the same layer with sliding-window attention on three layers of four
(layer_types), each layer type with its own rotary tables.

Source: hf-olmo2
"""
from __future__ import annotations

from llmsize.families._config import Config, llama_like
from llmsize.spec import ModelSpec, Traits


TRAITS = {"olmo2": Traits(family="olmo2", source="hf-olmo2", gguf_arch="olmo2", rope_fp32=True,
                          norm_placement="post", norm_weight_fp32=True),
          "olmo3": Traits(family="olmo2", source="hf-olmo2", gguf_arch="olmo3", rope_fp32=True, norm_placement="post",
                          norm_weight_fp32=True, rope_per_layer_type=True)}


def read(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name, qk_norm="full"), traits=TRAITS["olmo2"])


def _olmo3(cfg: Config, name: str) -> ModelSpec:
    cfg = {"sliding_window": 4096, **cfg}
    return ModelSpec(**llama_like(cfg, name, qk_norm="full", types=lambda i: "full" if (i + 1) % 4 == 0 else "sliding"),
                     traits=TRAITS["olmo3"])


READERS = {"olmo2": read, "olmo3": _olmo3}
