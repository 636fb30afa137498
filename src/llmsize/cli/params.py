"""`llmsize params` and `llmsize models`."""
from __future__ import annotations

from typing import Any

import click

from llmsize.api import params_report
from llmsize.cli.common import (console, emit_json, fmt_count, json_option, model_header, model_options,
                                table)
from llmsize.load import Loaded


@click.command("params")
@model_options
@json_option
def params_cmd(model: Loaded, as_json: bool) -> None:
    """Exact parameter count of MODEL, as named terms with formulas and sources.

    \b
    Examples:
      llmsize params Llama-3.1-8B
      llmsize params ./config.json --json
      llmsize params --hidden 4096 --layers 32 --heads 32 --kv-heads 8 --ffn 14336 --vocab 128256 --gated --untied
    """
    rep = params_report(model)
    if as_json:
        emit_json(rep)
        return
    _print_report(model, rep)


def _print_report(model: Loaded, rep: dict[str, Any]) -> None:
    c = console()
    c.print(f"[bold]{model_header(model)}[/bold]")
    total = rep["total_params"]
    c.print(f"Total parameters: [bold]{fmt_count(total)}[/bold]")
    if rep["active_params"] != total:
        why = "MoE: top-k + shared experts" if model.spec.moe is not None else "text decoder"
        if rep["vision_params"]:
            why += f"; the vision tower's {rep['vision_params']:,} run on images only"
        c.print(f"Active per token: [bold]{fmt_count(rep['active_params'])}[/bold] ({why})")
    if rep["buffers"]:
        c.print(f"Plus {rep['buffers']:,} persistent buffer values (not parameters in PyTorch; many published "
                f"counts include them): {rep['total_with_buffers']:,}")
    rows = [(t["name"], f"{t['params']:,}", f"{100 * t['params'] / total:.2f}%", t["formula"], t["source"])
            for t in rep["terms"]]
    c.print(table(None, ["term", ("params", "right"), ("share", "right"), "formula", "source"], rows))
    if len(rep["layer_kinds"]) > 1:
        rows = [(k["kind"], _ranges(k["layers"]), f"{k['params']:,}") for k in rep["layer_kinds"]]
        c.print(table("Layers by kind", ["kind", "layers", ("params each", "right")], rows))
    rows = [(a["name"], f"{a['params']:,}", f"{100 * a['error']:+.2f}%", a["source"]) for a in rep["approximations"]]
    c.print(table("Rules of thumb vs exact", ["rule", ("params", "right"), ("error", "right"), "source"], rows))
    ck = rep.get("checkpoint")
    if ck:
        c.print(f"Checkpoint stores {ck['stored_values']:,} values in {ck['bytes']:,} bytes "
                f"({', '.join(f'{k}: {v:,}' for k, v in ck['params_by_dtype'].items())})")
        for n in ck["notes"]:
            c.print(f"  note: {n}")
    from rich.markup import escape

    c.print("Sources:")
    for k, v in rep["citations"].items():
        c.print(escape(f"  {k}: {v}"))


def _ranges(ix: list[int]) -> str:
    out, start = [], ix[0]
    for a, b in zip(ix, ix[1:] + [None]):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ", ".join(out)


@click.command("models")
@click.argument("search", required=False)
@json_option
def models_cmd(search: str | None, as_json: bool) -> None:
    """List the built-in presets (SEARCH filters names, case-insensitive)."""
    from llmsize.catalog.presets import models_report, search_presets

    if as_json:
        emit_json(models_report(search))
        return
    rows = search_presets(search)
    console().print(table(f"{len(rows)} presets", ["name", "family", "Hugging Face repo", "retrieved"],
                          [(p.name, p.family, p.repo, p.retrieved) for p in rows]))


COMMANDS = [params_cmd, models_cmd]
