"""A request's model reference -> `Loaded`, treating every upload as data.

Presets go through `load_preset`, uploaded configs through `spec_from_config`, knobs through
`from_knobs`. Nothing here opens a path a client names (`llmsize.load.load` is never called).
Resolved models are cached: the page asks about the same model many times while a user types.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import replace
from functools import lru_cache
from typing import Any

from llmsize.adapters.hf_config import parse_config_text, spec_from_config
from llmsize.errors import LlmsizeError
from llmsize.load import Loaded, apply_knobs, from_knobs, load_preset
from llmsize.spec import ModelSpec
from llmsize.web import schemas as S

# config.json keys that set a layer count, checked before the adapter builds per-layer tuples
_LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "num_decoder_layers")
_MAX_INT = 1 << 40


def resolve(ref: S.ModelRef) -> Loaded:
    """The model a request names, with its what-if changes applied."""
    if ref.preset is not None:
        loaded = _preset(ref.preset)
    elif ref.knobs is not None:
        loaded = _knobs(ref.knobs)
    else:
        cfg = ref.config if ref.config is not None else parse_config_text(ref.config_text or "", "config.json")
        loaded = _config(cfg, ref.config_name or "")
    if ref.whatif is not None:
        changes = ref.whatif.model_dump(exclude_none=True)
        if changes:
            loaded = replace(loaded, spec=_checked(apply_knobs(loaded.spec, **changes)))
    return loaded


@lru_cache(maxsize=256)
def _preset(name: str) -> Loaded:
    return load_preset(name)


@lru_cache(maxsize=512)
def _knobs(k: S.Knobs) -> Loaded:
    return Loaded(spec=_checked(from_knobs(**k.model_dump(exclude_none=True))), origin="knobs", ref="knobs")


_CONFIGS: OrderedDict[str, Loaded] = OrderedDict()
_LOCK = threading.Lock()  # reports are computed in worker threads


def _config(cfg: dict[str, Any], name: str) -> Loaded:
    _precheck(cfg, 0)
    key = hashlib.sha256(json.dumps([cfg, name], sort_keys=True, default=str).encode()).hexdigest()
    with _LOCK:
        hit = _CONFIGS.get(key)
        if hit is not None:
            _CONFIGS.move_to_end(key)
            return hit
    label = _label(cfg, name)
    try:
        spec = spec_from_config(cfg, label, warn=lambda _msg: None)  # notes carry the warning
    except LlmsizeError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError) as e:
        # data shaped unlike any config.json (a list where a number belongs, ...): say where, not 500
        raise LlmsizeError(f"{label}: cannot read this config.json ({type(e).__name__}: {e}); is it a "
                           f"Hugging Face model config?") from None
    loaded = Loaded(spec=_checked(spec), origin="config", ref=label, config=cfg)
    with _LOCK:
        _CONFIGS[key] = loaded
        if len(_CONFIGS) > 128:
            _CONFIGS.popitem(last=False)
    return loaded


def _label(cfg: dict[str, Any], name: str) -> str:
    n = cfg.get("_name_or_path")
    if isinstance(n, str) and n.strip("/"):
        return n.rstrip("/").split("/")[-1][:120]
    return (name or "config.json")[:120]


def _precheck(obj: Any, depth: int) -> None:
    """Reject numbers no model has, before the adapter builds anything per layer from them."""
    if depth > 32:
        raise LlmsizeError("config.json: nested more than 32 levels deep; a model config is not")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in _LAYER_KEYS and isinstance(v, int) and not isinstance(v, bool) and not 0 < v <= S.MAX_LAYERS:
                raise LlmsizeError(f"config.json: {k} = {v} is outside 1..{S.MAX_LAYERS}")
            _precheck(v, depth + 1)
    elif isinstance(obj, list):
        if len(obj) > 4 * S.MAX_LAYERS:
            raise LlmsizeError(f"config.json: a list of {len(obj)} items is longer than any model config has")
        for v in obj:
            _precheck(v, depth + 1)
    elif isinstance(obj, int) and not isinstance(obj, bool) and abs(obj) > _MAX_INT:
        raise LlmsizeError(f"config.json: the number {obj} is larger than any model dimension")
    elif isinstance(obj, float) and obj != obj:
        raise LlmsizeError("config.json: NaN is not a number a model config can use")


def _checked(spec: ModelSpec) -> ModelSpec:
    """Bounds on the resolved spec (what-ifs and configs can reach sizes the knobs' schema forbids)."""
    limits = (("layers", spec.num_layers, S.MAX_LAYERS), ("hidden size", spec.hidden_size, S.MAX_WIDTH),
              ("vocabulary", spec.vocab_size, S.MAX_VOCAB), ("heads", spec.attention.num_heads, S.MAX_HEADS),
              ("head size", spec.attention.head_dim, S.MAX_WIDTH),
              ("FFN width", spec.mlp.intermediate_size, S.MAX_WIDTH))
    for what, v, hi in limits:
        if v > hi:
            raise LlmsizeError(f"{spec.name}: {what} {v:,} is above the calculator's limit of {hi:,}")
    if spec.moe is not None and spec.moe.num_experts > S.MAX_EXPERTS:
        raise LlmsizeError(f"{spec.name}: {spec.moe.num_experts:,} experts is above the limit of {S.MAX_EXPERTS:,}")
    return spec
