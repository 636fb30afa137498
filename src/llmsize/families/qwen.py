"""Qwen 2 (biases on q, k, v) and Qwen 3 (RMSNorm per head on q and k, no biases).

Source: hf-qwen3
"""
from __future__ import annotations

from llmsize.families._config import Config, llama_like
from llmsize.spec import ModelSpec, Traits


TRAITS = {"qwen2": Traits(family="qwen", gguf_arch="qwen2"),
          "qwen3": Traits(family="qwen", source="hf-qwen3", gguf_arch="qwen3")}


def _qwen2(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name, qkv_bias=True, o_bias=False), traits=TRAITS["qwen2"])


def _qwen3(cfg: Config, name: str) -> ModelSpec:
    return ModelSpec(**llama_like(cfg, name, qk_norm="head"), traits=TRAITS["qwen3"])


READERS = {"qwen2": _qwen2, "qwen3": _qwen3}
