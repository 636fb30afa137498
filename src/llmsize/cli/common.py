"""Shared pieces of the CLI: model resolution (MODEL or knobs), units, JSON and tables.

rich is imported only when a table is printed, never for --json.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click

from llmsize.errors import LlmsizeError
from llmsize.cli.present import fmt_bytes, fmt_count, table  # noqa: F401  (the presenter's helpers, re-exported)
from llmsize.load import Loaded, apply_knobs, from_knobs, load

_KNOB_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--hidden", dict(type=click.IntRange(min=1), help="Hidden size d.")),
    ("--layers", dict(type=click.IntRange(min=1), help="Decoder layers L.")),
    ("--heads", dict(type=click.IntRange(min=1), help="Attention (query) heads.")),
    ("--kv-heads", dict(type=click.IntRange(min=1), help="Key/value heads (GQA/MQA); default = heads.")),
    ("--head-dim", dict(type=click.IntRange(min=1), help="Head size; default hidden/heads.")),
    ("--ffn", dict(type=click.IntRange(min=1), help="FFN (intermediate) width f.")),
    ("--vocab", dict(type=click.IntRange(min=1), help="Vocabulary size V.")),
    ("--gated/--plain", dict(default=None, help="Gated 3-matrix MLP (SwiGLU) or plain 2-matrix (GELU/ReLU).")),
    ("--tied/--untied", dict(default=None, help="Tie the output head to the input embeddings.")),
    ("--norm", dict(type=click.Choice(["rmsnorm", "layernorm"]), help="Normalisation kind.")),
    ("--bias/--no-bias", dict(default=None, help="Biases on every projection (GPT-2 style).")),
    ("--positions", dict(type=click.Choice(["rope", "learned", "alibi", "none"]), help="Position encoding.")),
    ("--max-positions", dict(type=click.IntRange(min=1), help="Learned position table size / context length.")),
    ("--experts", dict(type=click.IntRange(min=1), help="MoE: experts per layer.")),
    ("--top-k", dict(type=click.IntRange(min=1), help="MoE: experts used per token.")),
    ("--expert-ffn", dict(type=click.IntRange(min=1), help="MoE: width of one expert (default --ffn).")),
    ("--shared-ffn", dict(type=click.IntRange(min=1), help="MoE: total width of shared experts.")),
    ("--act", dict(type=click.Choice(["silu", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu"]),
                   help="MLP activation (GPT-2: gelu_new) [default: silu gated, gelu plain].")),
    ("--fused-qkv/--separate-qkv", dict(default=None, help="One [q;k;v] projection (GPT-2, NeoX) or three.")),
    ("--dropout", dict(type=click.FloatRange(0.0, 1.0, max_open=True),
                       help="Dropout in training on embeddings, attention probabilities and residual branches "
                            "(GPT-2: 0.1) [default: 0].")),
    ("--name", dict(help="Name shown for a knob-built model.")),
    ("--assume", dict(metavar="TYPE", help="Read a config.json whose model_type llmsize does not know as this "
                                          "known type (e.g. llama); said in every output.")),
)
_KNOB_NAMES = tuple(o[0].split("/")[0].lstrip("-").replace("-", "_") for o in _KNOB_OPTIONS)


def model_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add `MODEL` (optional) and the architecture knobs; the command receives `model: Loaded`."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ref = kwargs.pop("model_ref")
        knobs = {n: kwargs.pop(n) for n in _KNOB_NAMES}
        assume = knobs.pop("assume")
        kwargs["model"] = resolve(ref, knobs, assume=assume)
        return f(*args, **kwargs)

    for decl, kw in reversed(_KNOB_OPTIONS):
        wrapper = click.option(decl, **kw)(wrapper)
    return click.argument("model_ref", metavar="[MODEL]", required=False)(wrapper)


def resolve(ref: str | None, knobs: dict[str, Any], assume: str | None = None) -> Loaded:
    """MODEL and/or knobs -> Loaded. Knobs given with a MODEL change it (a what-if)."""
    given = {k: v for k, v in knobs.items() if v is not None}
    if assume is not None and ref is None:
        raise LlmsizeError("--assume needs a MODEL config.json (it names the type to read an unknown one as)")
    if ref is None:
        missing = [f"--{k}" for k in ("hidden", "layers", "heads", "vocab") if k not in given]
        if missing:
            raise LlmsizeError("give a MODEL (preset, org/name repo id, config.json, folder, .safetensors, .gguf or '-') or "
                               f"describe one with knobs; missing {', '.join(missing)}")
        loaded = Loaded(spec=from_knobs(**given), origin="knobs", ref="knobs")
        print_notes(loaded)
        return loaded
    loaded = load(ref, assume=assume)
    if assume is not None and not loaded.spec.traits.assumed:
        raise LlmsizeError(f"--assume {assume}: {ref} is a model type llmsize knows (or not a config.json); "
                           f"drop --assume")
    if given:
        from dataclasses import replace

        loaded = replace(loaded, spec=apply_knobs(loaded.spec, **given))
    print_notes(loaded)  # what an adapter assumed goes to stderr once, whatever the output format
    return loaded


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object (exact bytes).")
units_option = click.option("--units", type=click.Choice(["iec", "si"]), default="iec", show_default=True,
                            help="iec: GiB (2^30 bytes); si: GB (10^9 bytes).")


def emit_json(obj: Any) -> None:
    """Print `obj` as strict JSON: a NaN or infinity anywhere (an overflowed result) is an input error."""
    from llmsize.bounds import finite_result

    click.echo(json.dumps(finite_result(obj), indent=2, default=_json_default, allow_nan=False))


def _json_default(o: Any) -> Any:
    if hasattr(o, "__dataclass_fields__"):
        return {k: getattr(o, k) for k in o.__dataclass_fields__}
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def model_header(model: Loaded) -> str:
    s = model.spec
    src = {"preset": f"preset {model.preset.repo}" if model.preset and model.preset.repo else "preset",
           "config": model.ref,
           "safetensors": model.ref, "gguf": model.ref, "knobs": "architecture knobs"}[model.origin]
    from rich.markup import escape  # the header is printed as rich markup; names are user text

    kind = f"{s.model_type} read as {s.traits.family} (--assume)" if s.traits.assumed else s.model_type
    return escape(f"{s.name} ({kind}; {src})")


long_context_option = click.option(
    "--allow-long-context", "allow_long", is_flag=True,
    help="Size a context past the model's trained length (max_position_embeddings or its rope_scaling); "
         "a learned position table is a hard limit all the same.")


def check_context(model: Loaded, tokens: int, allow_long: bool, what: str) -> None:
    """Refuse a context past the model's limit (one-line error naming it), or queue the note that
    --allow-long-context went past it."""
    from llmsize.cli import NOTES
    from llmsize.context import check_context as check

    note = check(model, tokens, allow_long=allow_long, what=what)
    if note and note not in NOTES:
        NOTES.append(note)


def default_context(model: Loaded, usual: int, after: int, flag: str) -> int:
    """`usual` tokens, or fewer where the model's context cannot hold them plus `after` more positions
    (the note says so)."""
    from llmsize.cli import NOTES
    from llmsize.context import default_tokens

    n, why = default_tokens(model, usual, after)
    note = None if why is None else f"{flag} not given: {why}"
    if note and note not in NOTES:
        NOTES.append(note)
    return n


def print_notes(model: Loaded) -> None:
    """Queue the spec's notes (what an adapter or knob default assumed); `llmsize.cli.main` prints each
    once on stderr when the command succeeds, so an error stays a single line."""
    from llmsize.cli import NOTES

    for n in model.spec.notes:
        if n not in NOTES:
            NOTES.append(n)

