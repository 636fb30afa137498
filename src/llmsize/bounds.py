"""Upper bounds on every count a user or a file can claim, in one place.

Each bound is far above any published model (the largest real value is noted beside it) and far
below what would hurt a laptop: work and memory grow with layers, experts and GPUs (per-layer
tuples, per-tensor tables, per-GPU lists), so every claimed size is checked here *before* anything
is built from it. A value over its bound is a one-line `LlmsizeError` (CLI exit 2, API 422) that
names the bound; nothing is clamped.

docs/reliability.md lists the bounds and how they were chosen; the CLI, the API schemas, the
config.json / safetensors / GGUF readers, the spec and the parallel layout all read them from here.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from llmsize.errors import LlmsizeError

# name -> (bound, what it bounds, largest real value seen)
BOUNDS: dict[str, tuple[int, str, str]] = {
    "layers": (10_000, "decoder layers (also vision layers)", "126 (Llama-3.1-405B)"),
    "width": (1 << 20, "hidden size, FFN width, head size, expert width, LoRA ranks", "53,248 (405B FFN)"),
    "heads": (1 << 16, "attention heads and KV heads", "128 (Llama-3.1-405B)"),
    "vocab": (1 << 24, "vocabulary size", "262,208 (Gemma 3)"),
    "experts": (1 << 14, "experts per MoE layer, experts used per token", "384 (Kimi K2)"),
    "layer_experts": (1 << 15, "MoE layers x experts (expert matrices per model / 3)", "14,848 (DeepSeek-V3)"),
    "context": (1 << 24, "sequence, prompt, output and context lengths; position table size",
                "10,485,760 (Llama 4 Scout)"),
    "positions": (1 << 30, "max_position_embeddings in a config (read, never allocated)", "10,485,760"),
    "batch": (1 << 16, "batch, micro-batch, concurrency, gradient accumulation", "-"),
    "global_batch": (1 << 24, "sequences per optimizer step", "~16K"),
    "gpus": (1 << 20, "GPUs in a layout (TP x PP x DP x CP) and each of TP/PP/DP/CP/EP", "~100K (largest clusters)"),
    "tensors": (1 << 20, "tensors in a checkpoint (safetensors entries, GGUF tensor infos)", "~92K (DeepSeek-V3)"),
    "metadata": (1 << 20, "GGUF metadata keys", "~40"),
    "nesting": (32, "GGUF array nesting", "1"),
    "json_depth": (64, "JSON nesting in configs, case files and API bodies", "3 (config.json)"),
    "int_digits": (30, "digits of one JSON integer", "12"),
    "dims": (8, "dimensions of one tensor", "5"),
}


def bound(name: str) -> int:
    """The upper bound called `name` (see BOUNDS)."""
    return BOUNDS[name][0]


MAX_LAYERS = bound("layers")
MAX_WIDTH = bound("width")
MAX_HEADS = bound("heads")
MAX_VOCAB = bound("vocab")
MAX_EXPERTS = bound("experts")
MAX_LAYER_EXPERTS = bound("layer_experts")
MAX_CONTEXT = bound("context")
MAX_POSITIONS = bound("positions")
MAX_BATCH = bound("batch")
MAX_GLOBAL_BATCH = bound("global_batch")
MAX_GPUS = bound("gpus")
MAX_TENSORS = bound("tensors")
MAX_JSON_DEPTH = bound("json_depth")
MAX_INT_DIGITS = bound("int_digits")


def check(what: str, value: Any, name: str, *, low: int = 1) -> int:
    """`value` as an int in low..bound(name), else LlmsizeError('<what> must be ... at most <bound>
    (the <name> bound), got <value>'). Bools and non-integers are refused too."""
    hi = bound(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise LlmsizeError(f"{what} must be an integer from {low} to {hi:,}, got {_show(value)}")
    if not low <= value <= hi:
        raise LlmsizeError(f"{what} must be from {low} to {hi:,} (llmsize's {name} bound, far above any real "
                           f"model), got {_show(value)}")
    return value


def check_all(owner: str, values: Mapping[str, tuple[Any, str]], *, low: int = 1) -> None:
    """check() each {field: (value, bound name)}; None values pass (optional fields)."""
    for field, (v, name) in values.items():
        if v is not None:
            check(f"{owner}: {field}" if owner else field, v, name, low=low)


def _show(v: Any) -> str:
    s = repr(v) if not isinstance(v, int) or isinstance(v, bool) or abs(v) < 10**30 else f"a {len(str(abs(v)))}-digit number"
    return s if len(s) <= 60 else s[:57] + "..."


# -- JSON in and out ----------------------------------------------------------------------------------
def parse_int(text: str) -> int:
    """json.loads(parse_int=...): refuse integers longer than MAX_INT_DIGITS digits (no model has one)."""
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise LlmsizeError(f"an integer of {digits:,} digits is longer than any model value "
                           f"(at most {MAX_INT_DIGITS} digits)")
    return int(text)


def _no_constant(name: str) -> Any:
    raise LlmsizeError(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise LlmsizeError(f"the number {text[:40]} is too large (it overflows to infinity)")
    return v


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise LlmsizeError(f"the name {k[:100]!r} appears twice in one object; each must appear once")
        out[k] = v
    return out


def loads(text: str | bytes, what: str, *, unique_keys: bool = False) -> Any:
    """json.loads with the bounds above: no NaN/Infinity, no huge integers, no deep nesting (and with
    `unique_keys`, no name twice in one object, which json.loads would silently resolve to the last);
    every failure is a one-line LlmsizeError that starts with `what`."""
    import json

    try:
        obj = json.loads(text, parse_int=parse_int, parse_constant=_no_constant, parse_float=_finite_float,
                         object_pairs_hook=_unique_keys if unique_keys else None)
    except LlmsizeError as e:
        raise LlmsizeError(f"{what}: {e}") from None
    except RecursionError:
        raise LlmsizeError(f"{what}: JSON nested more than {MAX_JSON_DEPTH} levels deep") from None
    except json.JSONDecodeError as e:
        raise LlmsizeError(f"{what}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise LlmsizeError(f"{what}: not valid JSON ({e})") from None
    check_json(obj, what)
    return obj


class JsonValueError(LlmsizeError):
    """A bad value inside parsed JSON: `path` (a.b[2].c) says where, `reason` what is wrong."""

    def __init__(self, what: str, path: str, reason: str) -> None:
        super().__init__(f"{what}: {path or 'value'}: {reason}")
        self.path, self.reason = path, reason


def check_json(obj: Any, what: str) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH, non-finite floats and unpaired surrogates (text a
    UTF-8 encoder cannot write) anywhere in a parsed JSON value; the message gives the path."""
    stack: list[tuple[Any, str, int]] = [(obj, "", 0)]
    while stack:
        v, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise JsonValueError(what, path, f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(v, dict):
            for k, x in v.items():
                key = str(k).encode("utf-8", "backslashreplace").decode("utf-8")[:80]  # printable, even if bad
                _text(k, f"{path}.{key}" if path else key, what)
                stack.append((x, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(v, (list, tuple)):
            stack.extend((x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v))
        elif isinstance(v, float) and not math.isfinite(v):
            raise JsonValueError(what, path, f"{v} is not a finite number (JSON has no NaN or Infinity)")
        elif isinstance(v, str):
            _text(v, path, what)


def _text(s: Any, path: str, what: str) -> None:
    if isinstance(s, str):
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise JsonValueError(what, path[:80], "text with an unpaired UTF-16 surrogate (e.g. \\ud800) is not "
                                                  "valid Unicode") from None


def finite_result(obj: Any) -> Any:
    """`obj` unchanged if every float in it is finite; else LlmsizeError naming the first field that
    overflowed (a result of inf or NaN means an input was outside what can be computed)."""
    stack: list[tuple[Any, str]] = [(obj, "")]
    while stack:
        v, path = stack.pop()
        if isinstance(v, float):
            if not math.isfinite(v):
                raise LlmsizeError(f"the result {path or 'value'} is {v}: an input is outside what can be "
                                   f"computed (e.g. an efficiency or price so small that times overflow); "
                                   f"use realistic values")
        elif isinstance(v, dict):
            stack.extend((x, f"{path}.{k}" if path else str(k)) for k, x in v.items())
        elif isinstance(v, (list, tuple)):
            stack.extend((x, f"{path}[{i}]") for i, x in enumerate(v))
        elif hasattr(v, "__dataclass_fields__"):
            stack.extend((getattr(v, k), f"{path}.{k}" if path else k) for k in v.__dataclass_fields__)
    return obj
