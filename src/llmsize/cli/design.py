"""`llmsize design`, `scaling`, `compare` and `whatif`: shapes for a budget, scaling laws,
side-by-side comparisons and architecture / compression what-ifs. The numbers come from
`llmsize.design.report` / `compare` / `whatif` / `compress`, which the web API calls too."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from llmsize.cli.common import (console, emit_json, fmt_bytes, fmt_count, json_option, model_header, model_options,
                                table, units_option)
from llmsize.cli.present import fmt_days, fmt_flops, fmt_money, layout_label
from llmsize.design.units import parse_quantity, short
from llmsize.cli.vocab import option
from llmsize.errors import LlmsizeError
from llmsize.load import Loaded


def _qty(what: str) -> Callable[[click.Context, click.Parameter, Any], int | None]:
    def cb(ctx: click.Context, param: click.Parameter, value: Any) -> int | None:
        return None if value is None else parse_quantity(value, what=what)
    return cb


def setting_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The workload every row assumes: GPU, dtype, serving context and batch, training GPUs, MFU, price."""
    opts = [
        click.option("--gpu", default="H100", show_default=True, help="GPU for speed, time and cost."),
        option("--weights", "dtype", aliases=("--dtype",), default="bf16", show_default=True,
               help="Weights, KV cache and compute dtype (a designed model has no checkpoint of its own)."),
        option("--seq-len", "context", aliases=("--context",), type=click.IntRange(min=1), default=8192,
               show_default=True, help="Tokens per sequence served, for KV cache and decode speed."),
        click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Concurrent sequences."),
        click.option("--train-gpus", type=click.IntRange(min=1), default=1024, show_default=True,
                     help="GPUs for wall time (GPU-hours and cost do not depend on it)."),
        click.option("--mfu", type=click.FloatRange(0, 1, min_open=True),
                     help="Model FLOP utilisation (default 0.40)."),
        click.option("--price", type=click.FloatRange(0, min_open=True), help="USD per GPU-hour (default: catalog)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _setting(kw: dict[str, Any], **extra: Any) -> Any:
    from llmsize.design.metrics import Setting

    return Setting(gpu=kw.pop("gpu"), dtype=kw.pop("dtype"), context=kw.pop("context"), batch=kw.pop("batch"),
                   train_gpus=kw.pop("train_gpus"), mfu=kw.pop("mfu"), price=kw.pop("price"), **extra)


def _b(v: int | None, units: str) -> str:
    return "-" if v is None else fmt_bytes(v, units).replace(".00 ", " ")


def _f(v: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if v is None else fmt.format(v)


_days, _usd = fmt_days, fmt_money


# -- design ----------------------------------------------------------------------------------------
@click.command("design")
@click.option("--params", callback=_qty("--params"), help="Parameter budget: 7B, 70M, 1.5T ...")
@click.option("--compute", callback=_qty("--compute"), help="Training FLOPs budget: 1e23, 5.76e23 ...")
@click.option("--gpu-hours", callback=_qty("--gpu-hours"), help="GPU-hour budget on --gpu (e.g. 100000).")
@click.option("--tokens", callback=_qty("--tokens"), help="Training tokens (default: the budget's law).")
@click.option("--law", type=click.Choice(["chinchilla", "approach3", "besiroglu", "kaplan"]), default="chinchilla",
              show_default=True, help="How a compute budget splits into parameters and tokens.")
@click.option("--vocab", type=click.IntRange(min=1), default=128_256, show_default=True,
              help="Vocabulary (padded up to a multiple of 128).")
@click.option("--attention", type=click.Choice(["gqa", "mha", "mqa"]), default="gqa", show_default=True)
@click.option("--kv-heads", type=click.IntRange(min=1),
              help="KV heads for GQA: only widths whose head count they divide [default: 8, or the largest power "
                   "of two below it that divides the head count].")
@click.option("--head-dim", type=click.IntRange(min=1), help="Head size (default 64 below d=2048, else 128).")
@click.option("--ffn-mult", type=float, default=1.0, show_default=True,
              help="Multiplier on the gated 8d/3 FFN width (Llama 3: 1.3).")
@click.option("--ffn-multiple", type=click.IntRange(min=1), default=256, show_default=True,
              help="Round the FFN width up to a multiple of this.")
@click.option("--plain", is_flag=True, help="Plain 2-matrix FFN of 4d instead of a gated one.")
@click.option("--tied", is_flag=True, help="Tie the output head to the embeddings.")
@click.option("--hidden", type=click.IntRange(min=1), help="Fix the width d.")
@click.option("--layers", type=click.IntRange(min=1), help="Fix the depth L.")
@click.option("--min-aspect", type=float, default=16.0, show_default=True, help="Smallest width/depth d/L.")
@click.option("--max-aspect", type=float, default=256.0, show_default=True, help="Largest width/depth d/L.")
@click.option("-n", "--candidates", type=click.IntRange(1, 12), default=5, show_default=True)
@setting_options
@units_option
@json_option
def design_cmd(**kw: Any) -> None:
    """Propose well-formed shapes for a budget, with exact parameters, memory, speed, time and cost.

    \b
    Examples:
      llmsize design --params 7B
      llmsize design --compute 5.76e23            # Chinchilla's budget -> ~70B on ~1.4T tokens
      llmsize design --gpu-hours 100000 --gpu H100
      llmsize design --params 8B --ffn-mult 1.3   # Llama 3 practice
    """
    from llmsize.design.report import design_report
    from llmsize.design.shapes import Constraints

    units, as_json, n = kw.pop("units"), kw.pop("as_json"), kw.pop("candidates")
    budget = {k: kw.pop(k) for k in ("params", "compute", "gpu_hours", "tokens", "law")}
    cons = Constraints(vocab=kw.pop("vocab"), attention=kw.pop("attention"), kv_heads=kw.pop("kv_heads"),
                       head_dim=kw.pop("head_dim"), ffn_mult=kw.pop("ffn_mult"), ffn_multiple=kw.pop("ffn_multiple"),
                       gated=not kw.pop("plain"), tied=kw.pop("tied"), hidden=kw.pop("hidden"),
                       layers=kw.pop("layers"), min_aspect=kw.pop("min_aspect"), max_aspect=kw.pop("max_aspect"),
                       context=kw["context"])
    rep = design_report(constraints=cons, setting=_setting(kw), n=n, **budget)
    if as_json:
        emit_json(rep)
        return
    c, b = console(), rep["budget"]
    c.print(f"[bold]Budget[/bold]: {fmt_count(b['params'])} parameters, {short(b['tokens'])} tokens "
            f"({b['tokens_per_param']:,.1f} per parameter), {fmt_flops(b['flops'])} FLOPs (C = 6ND)"
            + (f"  [{b['note']}]" if b["note"] else ""))
    ref = rep["reference_aspect"]
    c.print(f"d/L of successful models this size: {ref['d_over_L']:.0f} ({', '.join(ref['models'])})")
    shapes, serving, training, setups = [], [], [], []
    for r in rep["candidates"]:
        tag = ("*" if r["recommended"] else "") + f"{r['hidden']}x{r['layers']}"
        shapes.append(("*" if r["recommended"] else "", r["hidden"], r["layers"], f"{r['heads']}/{r['kv_heads']}",
                       r["head_dim"], r["ffn"], f"{r['params']:,}", f"{100 * r['params_error']:+.1f}%",
                       f"{r['aspect']:.0f}"))
        serving.append((tag, _b(r["kv_bytes_per_token"], units), _b(r["weight_bytes"], units),
                        _b(r["serve_peak_bytes"], units), short(r["flops_per_token"]), _f(r["decode_tokens_per_s"])))
        training.append((tag, short(r["train_flops_per_token"]), _b(r["train_peak_bytes"], units),
                         _f(r["gpu_hours"]), _days(r["train_days"]), _usd(r["train_cost_usd"])))
        p = r["train_plan"] or {}
        setups.append((tag, _f(p.get("gpus")), layout_label(p["layout"]) if p.get("layout") else "-", _b(p.get("memory_per_gpu_bytes"), units),
                       _days(p.get("days")), _usd(p.get("usd"))))
    s = rep["setting"]
    c.print(table(f"Candidates (* recommended), vocabulary {rep['padded_vocab']:,}",
                  ["", ("d", "right"), ("L", "right"), ("heads/kv", "right"), ("d_h", "right"),
                   ("FFN", "right"), ("params (exact)", "right"), ("vs budget", "right"), ("d/L", "right")], shapes))
    c.print(table(f"Serving: {s['dtype']}, {s['context']:,}-token context, batch {s['batch']}, one {s['gpu']}",
                  ["shape", ("KV/token", "right"), ("weights", "right"), ("peak memory", "right"),
                   ("FLOPs/token", "right"), ("decode tok/s", "right")], serving))
    c.print(table(f"Training on {short(b['tokens'])} tokens (time on {s['train_gpus']:,} {s['gpu']})",
                  ["shape", ("FLOPs/token", "right"), ("peak, 1 device", "right"), ("GPU-hours", "right"),
                   ("time", "right"), ("cost", "right")], training,
                  caption="peak, 1 device: the whole model before sharding (fp32 master + bf16 autocast, AdamW, "
                          "checkpointing); FLOPs: 6N + attention at the MFU, no recomputation"))
    c.print(table(f"Fewest {s['gpu']} to train each (the planner's search, no CPU offload)",
                  ["shape", ("GPUs", "right"), "layout", ("memory/GPU", "right"), ("time", "right"),
                   ("cost", "right")], setups,
                  caption="the planner's training search ranked by GPU count (`llmsize fit --train --find gpus`); "
                          "it also counts the recomputed forward (8N + attention) at the MFU, so its cost is ~4/3 "
                          "of the one above"))
    offl = [r["train_plan"]["fewest_with_offload"] for r in rep["candidates"]
            if r["train_plan"] and r["train_plan"]["fewest_with_offload"]]
    if offl:
        o = min(offl, key=lambda x: x["gpus"])
        host = [x["host_bytes"] for x in offl]
        span = _b(min(host), units) + ("" if min(host) == max(host) else f"-{_b(max(host), units)}")
        slow = max(x["offload_slowdown"] or 1.0 for x in offl)
        c.print(f"With CPU offload ({layout_label(o['layout'])}) the planner fits {len(offl)} of them on {o['gpus']} {s['gpu']} "
                f"with {span} of host memory per node (of {_b(o['host_memory_bytes'], units)}), each step up to "
                f"{slow:.2f}× its GPU compute (PCIe transfers and the host's optimizer step); the table above "
                f"keeps the model in GPU memory", markup=False)
    losses = sorted({round(r["loss"]["chinchilla"], 3) for r in rep["candidates"]})
    c.print(f"Predicted loss (Chinchilla fit, N and D only): {', '.join(f'{x:.3f}' for x in losses)}; the laws do "
            f"not see d/L, which Kaplan et al. found matters little over a wide range")
    _print_allocations(c, rep["scaling"])
    notes = sorted({n for r in rep["candidates"] for n in r["notes"]}) + rep["notes"]
    for note in notes:
        c.print(f"note: {note}", markup=False)


_LAW_LABEL = {"chinchilla": "Chinchilla, 20 tokens/param", "approach3": "Chinchilla Approach 3 (eq. 4)",
              "besiroglu": "Besiroglu 2024 refit", "kaplan": "Kaplan 2020, N ~ C^0.73"}


def _print_allocations(c: Any, allocs: dict[str, Any], losses: bool = False) -> None:
    rows = [(_LAW_LABEL.get(k, a["method"]), short(a["params"]), short(a["tokens"]), f"{a['tokens_per_param']:,.1f}",
             *([f"{a['loss']:.4f}"] if losses else []), a["source"]) for k, a in allocs.items()]
    cols = ["law", ("params", "right"), ("tokens", "right"), ("tokens/param", "right")]
    c.print(table("Compute-optimal split of this budget", cols + ([("loss", "right")] if losses else []) + ["source"],
                  rows))


# -- scaling ---------------------------------------------------------------------------------------
@click.command("scaling")
@click.option("--compute", callback=_qty("--compute"), help="Training FLOPs: split it by each law.")
@click.option("--params", callback=_qty("--params"), help="Model size: its compute-optimal tokens.")
@click.option("--tokens", callback=_qty("--tokens"), help="With --params: one run's loss and over-training.")
@click.option("--inference-tokens", callback=_qty("--inference-tokens"),
              help="Tokens the model will serve: Sardana et al.'s inference-aware optimum.")
@click.option("--fit", type=click.Choice(["hoffmann2022", "besiroglu2024"]), default="hoffmann2022",
              show_default=True, help="Constants of the Chinchilla loss L(N, D).")
@json_option
def scaling_cmd(compute: int | None, params: int | None, tokens: int | None, inference_tokens: int | None,
                fit: str, as_json: bool) -> None:
    """Scaling laws: compute-optimal size and tokens, predicted loss, over-training, inference-aware.

    \b
    Examples:
      llmsize scaling --compute 5.76e23
      llmsize scaling --params 8030261248 --tokens 15T
      llmsize scaling --compute 1e24 --inference-tokens 10T
    """
    from llmsize.design.report import scaling_report

    rep = scaling_report(compute=compute, params=params, tokens=tokens, inference_tokens=inference_tokens, fit=fit)
    if as_json:
        emit_json(rep)
        return
    c, f = console(), rep["fit"]
    c.print(f"L(N, D) = {f['E']} + {f['A']}/N^{f['alpha']} + {f['B']}/D^{f['beta']}  ({f['where']})", markup=False)
    if "allocations" in rep:
        c.print(f"Budget {fmt_flops(rep['compute'])} FLOPs; Kaplan L(C) = {rep['kaplan_loss_at_compute']:.4f}")
        _print_allocations(c, rep["allocations"], losses=True)
    if "optimal_tokens" in rep:
        o = rep["optimal_tokens"]
        c.print(f"{fmt_count(rep['params'])} parameters: compute-optimal on {short(o['chinchilla']['tokens'])} tokens "
                f"(20/param rule) or {short(o['approach3']['tokens'])} (Approach 3, eq. 4)")
    if "run" in rep:
        r = rep["run"]
        c.print(f"Run: loss {r['loss']:.4f} (Chinchilla), {r['kaplan_loss']:.4f} (Kaplan, N as given)")
        c.print(r["plainly"], markup=False)
    if "inference_aware" in rep:
        ia = rep["inference_aware"]
        c.print(f"Inference-aware (Sardana et al. 2023), serving {short(ia['inference_tokens'])} tokens at loss "
                f"{ia['loss']:.4f}: {fmt_count(ia['params'])} parameters on {short(ia['tokens'])} tokens "
                f"({ia['tokens_per_param']:,.0f}/param), {100 * ia['saving']:.1f}% less total compute than the "
                f"Chinchilla-optimal {fmt_count(ia['chinchilla']['params'])}")
    rows = [(k["name"], f"{k['params']:,}" + ("" if k["exact"] else " (nominal)"), short(k["tokens"]),
             f"{k['tokens_per_param']:,.1f}", f"{k['times_chinchilla_rule']:,.2f}x") for k in rep["known_runs"]]
    c.print(table("Published runs", ["model", ("params", "right"), ("tokens", "right"), ("tokens/param", "right"),
                                     ("vs 20/param", "right")], rows))
    for n in rep["notes"]:
        c.print(f"note: {n}", markup=False)


# -- compare ---------------------------------------------------------------------------------------
def _spec_of(ref: str) -> tuple[str, Any]:
    """A preset / config path, or design:<budget> (the recommended shape for that many parameters)."""
    if ref.lower().startswith("design:"):
        from llmsize.design.shapes import recommended_design

        return recommended_design(ref.split(":", 1)[1], what=f"compare {ref!r}")
    from llmsize.load import load

    return ref, load(ref).spec


@click.command("compare")
@click.argument("models", nargs=-1, required=True, metavar="MODEL MODEL [...]")
@click.option("--tokens", callback=_qty("--tokens"), help="Training tokens for the cost column (default 20/param).")
@setting_options
@units_option
@json_option
def compare_cmd(models: tuple[str, ...], tokens: int | None, units: str, as_json: bool, **kw: Any) -> None:
    """Put presets, config files or designs (design:7B) side by side and show what differs.

    \b
    Examples:
      llmsize compare Llama-3.1-8B Qwen2.5-7B Mistral-7B-v0.1
      llmsize compare Mixtral-8x7B-v0.1 Llama-3.1-70B --seq-len 32768
      llmsize compare Llama-2-7b-hf design:7B
    """
    from llmsize.design.compare import compare_report

    rep = compare_report([_spec_of(m) for m in models], _setting(kw), tokens=tokens)
    if as_json:
        emit_json(rep)
        return
    _print_rows(rep["rows"], rep["differences"], units, title=f"Side by side ({_setting_line(rep['setting'])})")


def _setting_line(s: dict[str, Any]) -> str:
    return f"{s['dtype']}, {s['context']:,}-token context, batch {s['batch']}, {s['gpu']}"


_ROWS: tuple[tuple[str, str, Callable[[Any, str], str]], ...] = (
    ("params", "parameters", lambda v, u: f"{v:,}"),
    ("active_params", "active parameters", lambda v, u: f"{v:,}"),
    ("shape", "d / L / heads / kv / FFN / V", lambda v, u: v),
    ("weight_bytes", "weights", _b), ("kv_bytes_per_token", "KV cache per token", _b),
    ("kv_layers", "KV layers assumed", lambda v, u: v or "-"),
    ("kv_bytes", "KV cache at context", _b), ("serve_peak_bytes", "serving memory (peak)", _b),
    ("flops_per_token", "forward FLOPs per token", lambda v, u: short(v) if v else "-"),
    ("decode_tokens_per_s", "decode tokens/s (bound)", lambda v, u: _f(v, "{:,.1f}")),
    ("train_tokens", "training tokens", lambda v, u: short(v)),
    ("gpu_hours", "training GPU-hours", lambda v, u: _f(v)),
    ("train_cost_usd", "training cost", lambda v, u: _usd(v)),
)
# the planner's fewest-GPU training setup (rows that carry a train_plan: compare, not whatif)
_PLAN_ROWS: tuple[tuple[str, str, Callable[[Any, str], str]], ...] = (
    ("train_peak_bytes", "training peak, 1 device", _b),
    ("plan_gpus", "fewest GPUs to train (planner)", lambda v, u: _f(v)),
    ("plan_layout", "  layout", lambda v, u: layout_label(v) if v else "-"),
    ("plan_memory", "  memory per GPU", _b),
    ("plan_days", "  training time on them", lambda v, u: _days(v)),
    ("plan_cost", "  training cost on them", lambda v, u: _usd(v)),
)


def _print_rows(rows: list[dict[str, Any]], diffs: list[dict[str, Any]], units: str, *, title: str,
                labels: list[str] | None = None) -> None:
    c = console()
    for r in rows:
        r["shape"] = f"{r['hidden']} / {r['layers']} / {r['heads']} / {r['kv_heads']} / {r['ffn']} / {r['vocab']}"
        p = r.get("train_plan") or {}
        r.update(plan_gpus=p.get("gpus"), plan_layout=p.get("layout"), plan_memory=p.get("memory_per_gpu_bytes"),
                 plan_days=p.get("days"), plan_cost=p.get("usd"))
    names = labels or [r["name"] for r in rows]
    hot = {d["field"] for d in diffs}
    planned = any(r.get("train_plan") for r in rows)
    out = []
    for key, label, fmt in _ROWS + (_PLAN_ROWS if planned else ()):
        out.append((("» " if key in hot else "  ") + label, *(fmt(r.get(key), units) for r in rows)))
    caption = "» differs by more than 5%; bounds from the roofline (perf), not measurements"
    if planned:
        caption += ("; fewest GPUs: the planner's training search ranked by GPU count, no CPU offload, "
                    "recomputed forward counted")
    c.print(table(title, ["", *((n, "right") for n in names)], out, caption=caption))
    if diffs:
        c.print("Biggest differences:")
        for d in diffs[:6]:
            ratios = ", ".join(f"{n}: {x:.2f}x" for n, x in zip(names, d["ratio_to_first"]))
            best = f" (best: {d['best']})" if d["best"] else ""
            c.print(f"  {d['label']}: {ratios}{best}", markup=False)
    notes = sorted({n for r in rows for n in r["notes"]})
    for n in notes:
        c.print(f"note: {n}", markup=False)


# -- whatif ----------------------------------------------------------------------------------------
@click.command("whatif")
@click.argument("what", type=click.Choice(["attention", "vocab", "shape", "moe", "quant", "prune", "sparse24",
                                           "distill"]))
@model_options
@click.option("--kinds", help="attention: comma list of mha, gqa:G, mqa, mla (default: all that apply).")
@click.option("--sizes", help="vocab: comma list of vocabulary sizes (default 32000,128256,262144).")
@click.option("--moe", "moe_cfg", help="moe: comma list of EXPERTSxTOPK[+SHARED] (default 8x2,64x8,64x6+2).")
@click.option("--format", "fmt", default="Q4_K_M", show_default=True, help="quant: weight format.")
@click.option("--drop-layers", type=click.IntRange(min=0), default=0, help="prune: layers to remove.")
@click.option("--prune-heads", type=click.IntRange(min=1), help="prune: attention heads to keep.")
@click.option("--prune-kv-heads", type=click.IntRange(min=1), help="prune: KV heads to keep.")
@click.option("--prune-ffn", type=click.IntRange(min=1), help="prune: FFN width to keep.")
@click.option("--prune-hidden", type=click.IntRange(min=1), help="prune: hidden size to keep.")
@click.option("--student", help="distill: the student, a MODEL or design:<params> (e.g. design:3B).")
@click.option("--distill-tokens", callback=_qty("--distill-tokens"), default="94B", show_default=True,
              help="distill: tokens of teacher logits (Minitron used 94B).")
@setting_options
@units_option
@json_option
def whatif_cmd(what: str, model: Loaded, units: str, as_json: bool, **kw: Any) -> None:
    """What if MODEL changed: attention (MHA/GQA/MQA/MLA), vocab, shape (depth vs width), moe (dense ->
    MoE at equal active parameters), quant, prune, sparse24 (2:4) or distill.

    \b
    Examples:
      llmsize whatif attention Llama-3.1-8B
      llmsize whatif moe Llama-3.1-8B
      llmsize whatif prune Llama-3.1-8B --drop-layers 16
      llmsize whatif sparse24 Llama-2-7b-hf
      llmsize whatif distill Llama-3.1-8B --student design:3B
    """
    from llmsize.design.compare import whatif_report

    student = _spec_of(kw.pop("student"))[1] if kw.get("student") else kw.pop("student")
    rep = whatif_report(model.spec, what, _setting(kw), kinds=kw["kinds"], sizes=kw["sizes"], moe=kw["moe_cfg"],
                        fmt=kw["fmt"], drop_layers=kw["drop_layers"], heads=kw["prune_heads"],
                        kv_heads=kw["prune_kv_heads"], ffn=kw["prune_ffn"], hidden=kw["prune_hidden"],
                        student=student, distill_tokens=kw["distill_tokens"])
    if as_json:
        emit_json(rep)
        return
    console().print(f"[bold]{model_header(model)}[/bold]")
    if "variants" in rep:
        v = rep["variants"]
        _print_rows(v, rep["differences"], units, title=f"What if: {what}", labels=[x["label"] for x in v])
        for n in rep["notes"]:
            console().print(f"note: {n}", markup=False)
    else:
        _print_rows([rep["before"], rep["after"]], rep["differences"], units,
                    title=f"What if: {rep['description']}", labels=["before", "after"])
        if rep.get("quality"):
            q = rep["quality"]
            console().print(f"Published quality ({q['source']}): {q['metric']} {q['value']:+} on {q['reference']}",
                            markup=False)
        if rep["published_quality"]:
            rows = [(q["what"], q["metric"], q["before"], q["after"], q["tokens"], q["source"])
                    for q in rep["published_quality"]]
            title = "Published quality costs (measured on the papers' models, not predicted for this one)"
            console().print(table(title,
                                  ["change", "metric", ("before", "right"), ("after", "right"), "retraining tokens",
                                   "source"], rows))
        for k, val in rep["details"].items():
            text = f"{val:,}" if isinstance(val, int) else f"{val:,.4g}" if isinstance(val, float) else str(val)
            console().print(f"  {k.replace('_', ' ')}: {text}", markup=False)


COMMANDS: list[click.Command] = [design_cmd, scaling_cmd, compare_cmd, whatif_cmd]
