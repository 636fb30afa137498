"""EXAONE 4: norms after attention and after the MLP (OLMo 2 placement), RMSNorm per head on q and k,
three sliding-window layers of four (sliding_window_pattern) with rotary only on the sliding layers
when a window is set (the global layers are NoPE).

Source: hf-exaone4
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, integer, llama_like
from llmsize.spec import ModelSpec, Traits

_TRAITS = Traits(family="exaone4", source="hf-exaone4", gguf_arch="exaone4", norm_placement="post")


def read(cfg: Config, name: str) -> ModelSpec:
    cfg = {"sliding_window": 4096, **cfg}
    if "sliding_window" in cfg and cfg["sliding_window"] is None:
        c = llama_like(cfg, name, qk_norm="head")
        return ModelSpec(**c, traits=_TRAITS)
    pattern = cfg.get("sliding_window_pattern", 4)
    if not isinstance(pattern, int) or isinstance(pattern, bool) or pattern < 1:
        raise LlmsizeError(f"config.json: sliding_window_pattern must be a positive integer, got {pattern!r}")
    n = integer(cfg, "num_hidden_layers")
    c = llama_like({**cfg, "use_sliding_window": True}, name, qk_norm="head",
                   types=lambda i: "sliding" if (i + 1) % pattern != 0 and i < n else "full")
    rope = tuple(t == "sliding" for t in c["layer_types"])
    return ModelSpec(**c, rope_layers=rope, traits=_TRAITS)


READERS = {"exaone4": read}
TRAITS = {"exaone4": _TRAITS}
