"""`llmsize plan`, `fit`, `speed`, `cost`, `export` and `gpus`: GPUs, parallelism, speed and money."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from llmsize.cli.common import (check_context, console, default_context, emit_json, fmt_bytes, json_option, long_context_option,
                                model_options, table, units_option)
from llmsize.cli.vocab import PRECISION_HELP, option, pick
from llmsize.cli.present import fmt_days, fmt_duration, fmt_money, layout_label
from llmsize.errors import LlmsizeError
from llmsize.load import Loaded
from llmsize.planner.jobs import TRAIN_PRECISIONS  # the planner's; train adds fp16


def _prices(values: tuple[str, ...]) -> dict[str, float]:
    from llmsize.catalog.hardware import parse_gpu
    from llmsize.cost import check_price

    out = {}
    for v in values:
        name, sep, usd = v.partition("=")
        if not sep:
            raise click.BadParameter(f"{v!r}: write GPU=USD_PER_GPU_HOUR, e.g. H100=2.49", param_hint="--price")
        try:
            out[parse_gpu(name).name] = check_price(float(usd))
        except (ValueError, LlmsizeError) as e:
            raise click.BadParameter(str(e) if isinstance(e, LlmsizeError) else f"{usd!r} is not a number",
                                     param_hint="--price") from None
    return out


def job_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--train/--serve and the knobs of each job."""
    opts = [
        click.option("--train", "mode", flag_value="train", help="Plan a training run."),
        click.option("--serve", "mode", flag_value="serve", default=True, help="Plan serving (default)."),
        click.option("--seq-len", type=click.IntRange(min=1),
                     help="Tokens per sequence: the training sequence [default: 4096] or the prompt served "
                          "[default: 1024]."),
        click.option("--seq", type=click.IntRange(min=1), hidden=True),
        click.option("--prompt", type=click.IntRange(min=1), hidden=True),
        click.option("--batch", type=click.IntRange(min=1),
                     help="Sequences per step: the training micro-batch per GPU, or the requests served at once "
                          "(the decode batch) [default: 1]."),
        click.option("--micro-batch", type=click.IntRange(min=1), hidden=True),
        click.option("--concurrency", type=click.IntRange(min=1), hidden=True),
        click.option("--global-batch", type=click.IntRange(min=1), default=1024, show_default=True,
                     help="Sequences per optimizer step."),
        click.option("--tokens", type=float, help="Training tokens in all (e.g. 1e12)."),
        click.option("--precision", type=click.Choice(list(TRAIN_PRECISIONS)), default="bf16-mixed",
                     show_default=True, help=PRECISION_HELP + " fp8-mixed runs the GEMMs at the GPU's FP8 peak "
                                                             "(Hopper, Ada, Blackwell) with bf16-mixed's memory."),
        click.option("--mfu", type=float, help="Training MFU (model FLOPs over wall time), --train only (default: "
                                               "the engine's achieved efficiency on the GPU, docs/speed.md)."),
        option("--grad-checkpointing/--no-grad-checkpointing", "recompute", aliases=("--recompute/--no-recompute",),
               default=True, show_default=True,
               help="Activation checkpointing (an extra forward: hardware work, not model FLOPs); on by default "
                    "here, as multi-GPU training runs it (train measures one process: off unless asked)."),
        click.option("--max-days", type=float, help="Reject training setups slower than this (--train only)."),
        click.option("--goodput", type=float,
                     help="Share of a training run's wall time spent in training steps, 0.05-1 (failures, "
                          "restarts, checkpoint reloads take the rest), --train only [default: 0.9, the Llama 3 "
                          "paper's >90% effective training time]; run days, GPU-hours and $ divide by it."),
        click.option("--host-memory",
                     help="Host (CPU) memory per node of 8 GPUs, for CPU offload, --train only (e.g. 1TiB, 2TB; "
                          "default: a DGX H100's 2 TiB of DDR5)."),
        click.option("--nvme", help="NVMe capacity per node for NVMe offload, --train only (e.g. 30TB); without it "
                                    "NVMe offload is reported, not assumed to fit."),
        option("--new-tokens", "output", aliases=("--output",), type=click.IntRange(min=1), default=256,
               show_default=True, help="Tokens generated per request."),
        click.option("--weights", help="Weight format for serving: bf16/fp16/fp32 or any `llmsize quant` format "
                                        "(fp8, mxfp4, gptq-int4-g128, Q4_K_M, ...) [default: the checkpoint's own: "
                                        "its file headers, its quantization_config, else its dtype]."),
        option("--kv-cache-dtype", "kv_dtype", aliases=("--kv-dtype",), default="auto", show_default=True,
               help="KV-cache dtype, as vLLM's --kv-cache-dtype: auto (the model's dtype), fp8, fp8_e4m3, fp8_e5m2."),
        click.option("--gpu-memory-utilization", type=click.FloatRange(0, 1, min_open=True), default=0.9,
                     show_default=True),
        click.option("--target-tps", type=float, help="Output tokens/s the deployment must reach."),
        click.option("--engine", type=click.Choice(["vllm", "sglang", "trt-llm", "llama.cpp", "transformers"]),
                     help="Serving engine whose achieved efficiencies time it (default vllm), --serve only."),
        click.option("--mbu", type=float, help="Decode memory-bandwidth utilisation (default: the engine's), --serve."),
        click.option("--prefill-efficiency", type=float,
                     help="Prefill/compute efficiency (default: the engine's), --serve only."),
        click.option("--request-rate", type=float,
                     help="Requests/s arriving at one replica (queueing: median and p90 TTFT/TPOT), --serve only; "
                          "--batch then caps the batch."),
        click.option("--ttft", type=float, help="Reject serving setups whose time to first token exceeds this (s)."),
        click.option("--tpot", type=float, help="Reject serving setups whose time per output token exceeds this (ms)."),
        click.option("--price", multiple=True, help="GPU=USD per GPU-hour (overrides the catalog)."),
        long_context_option,
    ]

    @functools.wraps(f)
    def wrapper(*args: Any, **kw: Any) -> Any:
        from llmsize.planner.jobs import make_job

        names = ("mode", "global_batch", "tokens", "precision", "mfu", "recompute",
                 "max_days", "goodput", "host_memory", "nvme", "output", "weights", "kv_dtype",
                 "gpu_memory_utilization", "target_tps", "engine", "mbu", "prefill_efficiency", "request_rate",
                 "ttft", "tpot",
                 "price")
        v = {n: kw.pop(n) for n in names}
        train = v["mode"] == "train"
        seq_len, batch, allow_long = kw.pop("seq_len"), kw.pop("batch"), kw.pop("allow_long")
        seq, prompt, micro, conc = kw.pop("seq"), kw.pop("prompt"), kw.pop("micro_batch"), kw.pop("concurrency")
        model = kw.get("model")
        v["seq"] = pick(("--seq-len", seq_len if train else None), None, ("--seq", seq))
        v["prompt"] = pick(("--seq-len", None if train else seq_len), None, ("--prompt", prompt))
        # not given: 4096 / 1024, fewer where the model's context is shorter (as infer and train)
        if v["seq"] is None:
            v["seq"] = default_context(model, 4096, 0, "--seq-len") if train and model else 4096
        if v["prompt"] is None:
            v["prompt"] = 1024 if train or not model else default_context(model, 1024, v["output"] - 1, "--seq-len")
        v["micro_batch"] = pick(("--batch", batch if train else None), 1, ("--micro-batch", micro))
        v["concurrency"] = pick(("--batch", None if train else batch), 1, ("--concurrency", conc))
        if model is not None:
            used = v["seq"] if train else v["prompt"] + v["output"] - 1
            check_context(kw["model"], used, allow_long, f"--seq-len {v['seq'] if train else v['prompt']:,}"
                          + ("" if train else f" + {v['output']:,} new tokens"))
        kw["prices"] = _prices(v.pop("price"))
        v["weights"] = serving_weights(kw.get("model"), v["weights"], v["mode"] == "train")
        if "ngl" in (kw.get("find") or ()):  # llama.cpp's question: GGUF formats and KV types, not vLLM's
            kw["job"] = v
            return f(*args, **kw)
        kw["job"] = make_job(**v, host_memory_name="--host-memory", nvme_name="--nvme", flags=True)
        return f(*args, **kw)

    for o in reversed(opts):
        wrapper = o(wrapper)
    return wrapper


def serving_weights(model: Loaded | None, given: str | None, train: bool) -> str:
    """--weights as given, else the checkpoint's own format (a note says so where it is not a plain dtype);
    training plans bf16/fp32 by --precision, so --weights with --train is refused, not dropped."""
    if train:
        if given is not None:
            raise LlmsizeError("--weights applies to serving; training sets the weights' dtype with --precision")
        return "bf16"
    if given is not None or model is None:
        return "bf16" if given is None else given
    from llmsize.cli import NOTES
    from llmsize.quant.native import choose_weights

    w = choose_weights(model, None)
    note = f"--weights not given: {w.key}, the checkpoint's own ({w.origin})"
    if w.origin not in ("config dtype", "default") and note not in NOTES:
        NOTES.append(note)
    return w.key


def layout_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--gpus and the parallel layout; the product must equal --gpus."""
    opts = [
        click.option("--gpus", type=click.IntRange(min=1), help="GPU count (default: the layout's product)."),
        click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--pp", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--cp", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--ep", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--zero", type=click.IntRange(0, 3), default=0, show_default=True, help="DeepSpeed ZeRO stage."),
        click.option("--fsdp", type=click.Choice(["full_shard", "shard_grad_op", "hybrid_shard", "no_shard"])),
        click.option("--offload-optimizer", type=click.Choice(["none", "cpu", "nvme"]), default="none"),
        click.option("--offload-params", type=click.Choice(["none", "cpu", "nvme"]), default="none"),
        click.option("--schedule", type=click.Choice(["1f1b", "interleaved", "zero-bubble"]), default="1f1b",
                     show_default=True, help="Pipeline schedule with --pp > 1 (training): the bubble is m/(m+p-1), "
                                             "m/(m+(p-1)/v) or none (ZB-V)."),
        click.option("--virtual-stages", type=click.IntRange(min=2),
                     help="Model chunks per pipeline rank for --schedule interleaved [default: one layer per "
                          "chunk, layers / PP, as validate and plan take it; NeMo's H100 layouts use 1-2]."),
    ]

    @functools.wraps(f)
    def wrapper(*args: Any, **kw: Any) -> Any:
        from llmsize.planner.jobs import make_layout

        names = ("gpus", "tp", "pp", "cp", "ep", "zero", "fsdp", "offload_optimizer", "offload_params", "schedule",
                 "virtual_stages")
        v = {n: kw.pop(n) for n in names}
        model = kw.get("model")
        try:
            kw["layout"] = make_layout(**v, layers=model.spec.num_layers if model is not None else None)
        except LlmsizeError as e:
            hint = "--virtual-stages" if "--virtual-stages" in str(e) else \
                "--schedule" if "schedule" in str(e) else "--gpus"
            raise click.BadParameter(str(e), param_hint=hint) from None
        return f(*args, **kw)

    for o in reversed(opts):
        wrapper = o(wrapper)
    return wrapper


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
    from llmsize.planner.reports import FIND, fit_report

    if "ngl" in find:
        from llmsize.cli.engines import fit_ngl

        fit_ngl(model, job, layout, gpu_name, find, host_name, as_json)
        return

    rep = fit_report(model.spec, job, gpu_name, layout, find=find or FIND, prices=prices)
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
    return (f"{fmt_bytes(b['kv_bytes'], units)} left for the KV cache of {fmt_bytes(b['budget_bytes'], units)} "
            f"(weights {fmt_bytes(b['weights_bytes'], units)}, activations {fmt_bytes(b['activation_bytes'], units)}"
            f", runtime {fmt_bytes(b['device_bytes'], units)}): {b['max_tokens']:,} tokens ({b['blocks']:,} blocks "
            f"of {b['block_size']}), {b['max_concurrency']:,} sequences at once")


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
def speed_cmd(model: Loaded, job: Any, prices: dict[str, float], layout: Any, gpu_name: str, as_json: bool) -> None:
    """Roofline prefill/decode speed (TTFT, time per output token) or training step and total time."""
    from llmsize.planner.reports import speed_report

    rep = speed_report(model.spec, job, gpu_name, layout)
    if as_json:
        emit_json(rep)
        return
    from llmsize.cli.speed_view import speed_lines

    c = console()
    for line in speed_lines(rep):
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
