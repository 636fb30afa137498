"""SmolLM3: a Llama decoder with no rotary embedding on every no_rope_layer_interval-th layer (NoPE;
no_rope_layers: 1 = rotary, 0 = none), optionally sliding-window attention on the NoPE layers.

Source: hf-smollm3
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, integer, llama_like
from llmsize.spec import ModelSpec, Traits

_TRAITS = Traits(family="smollm3", source="hf-smollm3", gguf_arch="smollm3")


def read(cfg: Config, name: str) -> ModelSpec:
    n = integer(cfg, "num_hidden_layers")
    every = integer(cfg, "no_rope_layer_interval", default=4)
    nope = cfg.get("no_rope_layers")
    if nope is None:
        nope = [int((i + 1) % every != 0) for i in range(n)]
    if not isinstance(nope, list) or len(nope) != n:
        raise LlmsizeError(f"config.json: no_rope_layers must list one 0/1 per layer ({n}), got {nope!r}")
    sliding = bool(cfg.get("use_sliding_window", False)) and cfg.get("sliding_window") is not None
    types = (lambda i: "sliding" if sliding and not nope[i] else "full")
    c = llama_like({**cfg, "use_sliding_window": sliding}, name, tie=True, types=types)
    return ModelSpec(**c, rope_layers=tuple(bool(x) for x in nope), traits=_TRAITS)


READERS = {"smollm3": read}
TRAITS = {"smollm3": _TRAITS}
