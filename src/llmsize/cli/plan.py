"""`llmsize plan`, `fit`, `speed`, `cost`, `export` and `gpus`: GPUs, parallelism, speed and money."""
from __future__ import annotations

from typing import Any

import click

from llmsize.cli.common import console, emit_json, fmt_bytes, json_option, model_options, table, units_option
from llmsize.cli.vocab import option
from llmsize.cli.present import fmt_days, fmt_duration, fmt_money, layout_label
from llmsize.load import Loaded
from llmsize.errors import LlmsizeError
from llmsize.cli.plan_options import job_options, layout_options

_hours, _usd = fmt_duration, fmt_money


def goodput_line(g: dict[str, Any]) -> str:
    """The goodput every run time, GPU-hour and $ above is divided by, with its source."""
    return f"time, GPU-hours and cost at goodput {g['value']:g} ({g['source']}; --goodput to change)"


def _lay(label: str) -> str:
    """' TP2' after a GPU count ('' for one plain GPU, which the count already says)."""
    text = layout_label(label)
    return "" if text == "1 GPU" else f" {text}"


@click.command("plan")
@model_options
@job_options
@click.option("--gpu", "gpu_names", multiple=True, help="GPU types to consider (default: all catalogued).")
@click.option("--max-gpus", type=click.IntRange(1, 1 << 20), default=1024, show_default=True)
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True)
@json_option
@units_option
def plan_cmd(model: Loaded, job: Any, prices: dict[str, float], gpu_names: tuple[str, ...], max_gpus: int, top: int,
             as_json: bool, units: str) -> None:
    """Rank feasible setups (GPU type × count × parallelism × precision) and say why others were rejected.

    \b
    Examples:
      llmsize plan Llama-3.1-70B --train --tokens 1e12 --gpu H100 --gpu A100-80GB
      llmsize plan Llama-3.1-8B --serve --batch 32 --target-tps 2000
    """
    from llmsize.planner import plan_report

    rep = plan_report(model.spec, job, gpu_names=gpu_names or None, max_gpus=max_gpus, prices=prices, top=top)
    if as_json:
        emit_json(rep)
        return
    c = console()
    c.print(f"[bold]{rep['model']}[/bold] {rep['mode']}: {rep['feasible']} of {rep['searched']} setups feasible")
    serve = rep["mode"] == "serve"
    cols = ["GPU", ("GPUs", "right"), "layout", "precision", ("mem/GPU", "right"), ("headroom", "right"),
            ("tokens/s", "right"), ("TTFT" if serve else "time", "right"), ("$/1M out" if serve else "cost", "right")]
    rows = [(r["gpu"], r["gpus"], layout_label(r["layout"]), r["precision"], fmt_bytes(r["memory_per_gpu_bytes"], units),
             fmt_bytes(r["headroom_bytes"], units), f"{r['tokens_per_s']:,.0f}" if r["tokens_per_s"] else "-",
             _hours(r["seconds"]), _usd(r["usd"])) for r in rep["setups"]]
    c.print(table("Feasible, best first", cols, rows))
    if rep.get("note"):
        c.print(f"note: {rep['note']}", markup=False)
    if rep.get("goodput"):
        c.print(goodput_line(rep["goodput"]), markup=False)
    rej = rep["rejected"]
    if rej["counts"]:
        rows = [(k, n, "; ".join(f"{e['gpu']} ×{e['gpus']}{_lay(e['layout'])}: {e['reason']}"
                                 for e in rej["examples"].get(k, [])[:2])) for k, n in rej["counts"].items()]
        c.print(table("Rejected", ["why", ("setups", "right"), "for example"], rows))


@click.command("fit")
@model_options
@job_options
@layout_options
@click.option("--gpu", "gpu_name", required=True, help="GPU type.")
@click.option("--find", "find", multiple=True, type=click.Choice(["gpus", "batch", "context", "concurrency",
                                                                   "cheapest", "ngl"]),
              help="Which questions (default: all that apply but ngl). ngl: llama.cpp layers on the GPU, the rest "
                   "on the CPU (MODEL.gguf, or a preset with --weights Q4_K_M).")
@click.option("--host", "host_name", default="DDR5-5600-2ch", show_default=True,
              help="--find ngl: host memory (llmsize catalog of CPUs: ddr4, ddr5, epyc, m4-max, ...).")
@json_option
@units_option
def fit_cmd(model: Loaded, job: Any, prices: dict[str, float], layout: Any, gpu_name: str, find: tuple[str, ...],
            host_name: str, as_json: bool, units: str) -> None:
    """Inverse questions: fewest GPUs, largest batch, longest context, most concurrent requests, cheapest setup;
    llama.cpp partial offload (--find ngl)."""
    from llmsize.planner.reports import fit_report

    if "ngl" in find:
        from llmsize.cli.engines import fit_ngl

        fit_ngl(model, job, layout, gpu_name, find, host_name, as_json)
        return

    from llmsize.context import trained_tokens

    rep = fit_report(model.spec, job, gpu_name, layout, find=find or None, prices=prices,
                     trained=trained_tokens(model))
    if as_json:
        emit_json(rep)
        return
    c = console()
    c.print(f"[bold]{rep['model']}[/bold] on {rep['gpu']} ({layout_label(rep['layout'])}), {rep['mode']}")
    for k, v in rep.items():
        if k in ("model", "gpu", "layout", "mode"):
            continue
        if isinstance(v, dict) and "gpu" in v:
            v = _setup_line(v)
        elif k == "offload":
            v = _offload_line(v)
        elif k == "kv_budget" and isinstance(v, dict):
            v = _kv_line(v, units)
        elif k in ("largest_batch", "longest_context"):
            what = "sequences" if k == "largest_batch" else "tokens"
            v = f"does not fit (even {'batch' if k == 'largest_batch' else 'context'} 1)" if v is None else \
                f"{v:,} {what}"
        elif isinstance(v, (dict, list)):
            continue  # structured detail: --json carries it
        c.print(f"  {k.replace('_', ' ')}: {v}", markup=False)


def _kv_line(b: dict[str, Any], units: str) -> str:
    """'2.07 GiB for the KV cache after weights and activations: 16,960 tokens (1,060 blocks of 16), 13
    sequences at once'."""
    parts = (f"weights {fmt_bytes(b['weights_bytes'], units)}, activations {fmt_bytes(b['activation_bytes'], units)}"
             f", runtime {fmt_bytes(b['device_bytes'], units)}")
    how = {"trt-llm": f"(TensorRT-LLM's share of the memory free after loading: {parts} out)",
           "sglang": f"of SGLang's static share {fmt_bytes(b['budget_bytes'], units)} (--mem-fraction-static "
                     f"{b.get('share', 0.9):g}" + (", its default for this GPU and layout" if
                                                   b.get("share_origin") == "SGLang's default" else "")
                     + f") less the weights "
                     f"{fmt_bytes(b['weights_bytes'], units)} (activations and runtime outside it"
                     + ("" if b["kv_bytes"] >= b["budget_bytes"] - b["weights_bytes"] else
                        f", {fmt_bytes(b['activation_bytes'], units)} and {fmt_bytes(b['device_bytes'], units)}, "
                        "in what the GPU has left: they cap it") + ")"}.get(
        b.get("rule", "vllm"), f"of {fmt_bytes(b['budget_bytes'], units)} ({parts})")
    return (f"{fmt_bytes(b['kv_bytes'], units)} left for the KV cache {how}: {b['max_tokens']:,} tokens "
            f"({b['blocks']:,} blocks of {b['block_size']}), {b['max_concurrency']:,} sequences at once")


def _offload_line(o: dict[str, Any]) -> str:
    gib = 2**30
    parts = [f"{o['host_bytes_per_node'] / gib:,.0f} of {o['host_memory_bytes'] / gib:,.0f} GiB host memory per node"]
    if o["nvme_bytes_per_node"]:
        cap = "no --nvme given" if o["nvme_bytes"] is None else f"{o['nvme_bytes'] / gib:,.0f} GiB"
        parts.append(f"{o['nvme_bytes_per_node'] / gib:,.0f} GiB NVMe per node ({cap})")
    if o["reason"]:
        return "; ".join(parts) + f"; cannot run: {o['reason']}"
    return "; ".join(parts) + f"; step {o['offload_slowdown']:.2f}× its GPU compute (PCIe, host optimizer step)"


def _setup_line(r: dict[str, Any]) -> str:
    """'16 × H100-SXM DP16 ZeRO-3 opt->cpu, 564 of 2,048 GiB host memory per node, 10,417 tokens/s (offload: 1.00×
    the step time)'."""
    out = f"{r['gpus']} × {r['gpu']}{_lay(r['layout'])}"
    if r.get("host_bytes_per_node"):
        out += (f", {r['host_bytes_per_node'] / 2**30:,.0f} of {r['host_memory_bytes'] / 2**30:,.0f} GiB host memory "
                f"per node")
    if r.get("tokens_per_s"):
        out += f", {r['tokens_per_s']:,.0f} tokens/s"
    if r.get("offload_slowdown"):
        out += f" (offload: step {r['offload_slowdown']:.2f}× its GPU compute)"
    if r.get("ttft_s") is not None:
        out += f", first token in {fmt_duration(r['ttft_s'])}"
    elif r.get("seconds"):
        out += f", {_hours(r['seconds'])} to train"
    return out


@click.command("speed")
@model_options
@job_options
@layout_options
@click.option("--gpu", "gpu_name", required=True, help="GPU type.")
@json_option
@units_option
def speed_cmd(model: Loaded, job: Any, prices: dict[str, float], layout: Any, gpu_name: str, as_json: bool,
              units: str) -> None:
    """Roofline prefill/decode speed (TTFT, time per output token) or training step and total time."""
    from llmsize.planner.reports import speed_report

    if prices:
        raise LlmsizeError("--price applies to plan, fit and cost: speed prints no cost")
    rep = speed_report(model.spec, job, gpu_name, layout)
    if as_json:
        emit_json(rep)
        return
    from llmsize.cli.speed_view import speed_lines

    c = console()
    for line in speed_lines(rep, units):
        c.print(line, markup=False)
    if rep.get("offload"):
        c.print(f"  offload: {_offload_line(rep['offload'])}", markup=False)
    if rep.get("note"):
        c.print(f"note: {rep['note']}", markup=False)


@click.command("cost")
@model_options
@job_options
@click.option("--gpu", "gpu_names", multiple=True, help="GPU types (default: all with a price).")
@click.option("--count", "counts", multiple=True, type=click.IntRange(min=1), help="GPU counts (default 1 and 8).")
@json_option
def cost_cmd(model: Loaded, job: Any, prices: dict[str, float], gpu_names: tuple[str, ...],
             counts: tuple[int, ...], as_json: bool) -> None:
    """Cost side by side: a training run, or serving per 1M tokens in and out, single vs multi-GPU."""
    from llmsize.planner.reports import cost_report

    rep = cost_report(model.spec, job, gpu_names or None, counts or (1, 8), prices=prices)
    if as_json:
        emit_json(rep)
        return
    serve = rep["mode"] == "serve"
    cols = ["GPU", ("GPUs", "right"), ("$/GPU-h", "right")] + (
        ["layout", ("out tok/s", "right"), ("$/1M in", "right"), ("$/1M out", "right")] if serve else
        ["layout", ("time", "right"), ("GPU-hours", "right"), ("cost", "right")])
    rows = []
    for r in rep["rows"]:
        head = [r["gpu"], r["gpus"], _usd(r["usd_per_gpu_hour"])]
        if "note" in r:
            rows.append(head + [r["note"]] + [""] * (len(cols) - 4))
        elif serve:
            if r.get("used_gpus", r["gpus"]) < r["gpus"]:
                head[1] = f"{r['used_gpus']} of {r['gpus']}"
            rows.append(head + [layout_label(r["layout"], r.get("replicas")), f"{r['output_tokens_per_s']:,.0f}", _usd(r["usd_per_1m_input"]),
                                _usd(r["usd_per_1m_output"])])
        else:
            rows.append(head + [layout_label(r["layout"]), fmt_days(r["days"]), f"{r['gpu_hours']:,.0f}", _usd(r["usd"])])
    console().print(table(f"{rep['model']}: {rep['mode']} cost", cols, rows))
    if rep.get("note"):
        console().print(f"note: {rep['note']}", markup=False)
    if rep.get("goodput"):
        console().print(goodput_line(rep["goodput"]), markup=False)


@click.command("gpus")
@click.argument("search", required=False)
@json_option
@units_option
def gpus_cmd(search: str | None, as_json: bool, units: str) -> None:
    """The GPU catalog: memory, usable memory, bandwidth, 16-bit FLOP/s (bf16; fp16 or fp32 where the GPU
    has no bf16) and the cheapest published price."""
    from llmsize.planner import gpu_list

    rep = gpu_list(search)
    if as_json:
        emit_json(rep)
        return
    mark = {"measured": "", "nominal": "~"}
    rows = [(g["name"], fmt_bytes(g["memory_bytes"], units),
             fmt_bytes(g["usable_bytes"], units) + mark.get(g["usable_origin"].split(" ")[0].rstrip(":"), "*"),
             f"{(g['bandwidth_bytes_per_s'] or 0) / 1e12:.2f} TB/s",
             f"{(g['sixteen_bit_flops'] or 0) / 1e12:,.{0 if (g['sixteen_bit_flops'] or 0) >= 1e13 else 1}f}"
             + ("" if g["sixteen_bit_path"] == "bf16" else " " + g["sixteen_bit_path"]),
             _usd(g["usd_per_gpu_hour"])) for g in rep["gpus"]]
    c = console()
    c.print(table(f"{len(rows)} GPUs", ["GPU", ("memory", "right"), ("usable", "right"), ("bandwidth", "right"),
                                        ("16-bit TFLOP/s", "right"), ("$/GPU-h", "right")], rows))
    c.print("usable: what the driver reports as the device's total (CUDA totalGlobalMem, the ROCm pool, Metal's "
            "working-set limit), measured; * derived from measured GPUs of the same memory kind (--json "
            "usable_origin); ~ nominal, nothing to derive it from. 16-bit: dense bf16, or the path the speed "
            "model times 16-bit work on where the GPU has no bf16 (fp16; fp32 on the P40)")


COMMANDS = [plan_cmd, fit_cmd, speed_cmd, cost_cmd, gpus_cmd]
