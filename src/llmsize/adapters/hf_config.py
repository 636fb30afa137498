"""Hugging Face `config.json` -> ModelSpec: dispatch on `model_type` to the family readers in
llmsize.families (the one place that knows model-type names).

Defaults for absent keys are the defaults of the matching transformers config class, so a
minimal config.json counts the same as transformers builds it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llmsize import bounds, families
from llmsize.errors import LlmsizeError
from llmsize.spec import ModelSpec

ADAPTERS = families.READERS  # model_type -> reader (kept for callers of the old name)


def spec_from_config(cfg: Any, name: str = "config.json", *, warn: Callable[[str], None] | None = None,
                     assume: str | None = None) -> ModelSpec:
    """Build a ModelSpec from a parsed config.json object. An unknown model_type is an error naming the
    known ones, unless `assume` names a known type to read it as (the spec then says so in its notes)."""
    if not isinstance(cfg, Mapping):
        raise LlmsizeError(f"{name}: a config.json must be a JSON object, got {type(cfg).__name__}")
    mt = cfg.get("model_type")
    if mt is not None and not isinstance(mt, str):
        raise LlmsizeError(f"{name}: model_type must be text such as 'llama', got {mt!r:.60}")
    if mt is None and isinstance(cfg.get("text_config"), Mapping):
        return spec_from_config(cfg["text_config"], name, warn=warn, assume=assume)
    try:
        spec = families.read(cfg, name, assume=assume)
    except (TypeError, ValueError, ArithmeticError, KeyError, AttributeError, IndexError) as e:
        if isinstance(e, LlmsizeError):
            raise
        raise LlmsizeError(f"{name}: a value in this {mt} config.json has the wrong type or range "
                           f"({type(e).__name__}: {e})") from None
    if spec.traits.assumed and warn is not None:
        warn(spec.notes[-1])
    return spec


def parse_config_text(text: str, name: str) -> dict[str, Any]:
    """Parse config.json text, turning JSON errors into one-line messages with line and column; the
    JSON bounds apply (no NaN/Infinity, integers of at most 30 digits, nesting at most 64 deep)."""
    cfg = bounds.loads(text, name)
    if not isinstance(cfg, dict):
        raise LlmsizeError(f"{name}: a config.json must be a JSON object, got {type(cfg).__name__}")
    return cfg
