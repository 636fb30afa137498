"""The options `plan`, `fit`, `speed` and `cost` share: the job (training or serving, with the one
vocabulary of docs/vocabulary.md), prices, and an explicit parallel layout; each decorator turns the
flags into the planner's job or layout before the command runs."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from llmsize.cli.common import check_context, default_context, long_context_option
from llmsize.cli.vocab import PRECISION_HELP, BatchOrMax, option, pick
from llmsize.context import positions_what
from llmsize.errors import LlmsizeError
from llmsize.load import Loaded
from llmsize.planner.jobs import TRAIN_PRECISIONS, TrainJob  # the planner's; train adds fp16


def _prices(values: tuple[str, ...]) -> dict[str, float]:
    from llmsize.cost import gpu_prices

    pairs = []
    for v in values:
        name, sep, usd = v.partition("=")
        if not sep:
            raise click.BadParameter(f"{v!r}: write GPU=USD_PER_GPU_HOUR, e.g. H100=2.49", param_hint="--price")
        try:
            pairs.append((name, float(usd)))
        except ValueError:
            raise click.BadParameter(f"{usd!r} is not a number", param_hint="--price") from None
    try:
        return gpu_prices(pairs)
    except LlmsizeError as e:
        raise click.BadParameter(str(e), param_hint="--price") from None


def given_flags(*names: str) -> list[str]:
    """Of the click parameters `names`, the flags the user gave on the command line (or in the
    environment), not left at their defaults: a value given for the other mode is refused, not dropped."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return []
    flags = {p.name: p.opts[0] for p in ctx.command.params}
    return [flags.get(n, n) for n in names
            if ctx.get_parameter_source(n) not in (None, ParameterSource.DEFAULT)]


def refuse_given(names: tuple[str, ...], applies_to: str) -> None:
    """A one-line error naming each of `names` the user gave, and the mode it belongs to."""
    bad = given_flags(*names)
    if bad:
        raise LlmsizeError(f"{', '.join(bad)} appl{'ies' if len(bad) == 1 else 'y'} to {applies_to}")


# flags of one mode that the other would leave unused
SERVE_ONLY = ("output", "kv_dtype", "target_tps")
TRAIN_ONLY = ("global_batch", "precision", "tokens", "recompute")
TRAIN_LAYOUT = ("cp", "zero", "fsdp", "offload_optimizer", "offload_params", "schedule", "virtual_stages")


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
        click.option("--batch", type=BatchOrMax(),
                     help="Sequences per step: the training micro-batch per GPU, or the requests served at once "
                          "(the decode batch) [default: 1; with --request-rate, max]. Serving with vllm, sglang "
                          "or trt-llm, max is an offline max-throughput run (vllm bench throughput): every "
                          "request queued at once, as many in flight as the KV cache and the engine's max "
                          "sequences hold; with --request-rate, the engine batches what arrives up to that cap."),
        click.option("--micro-batch", type=click.IntRange(min=1), hidden=True),
        click.option("--concurrency", type=BatchOrMax(), hidden=True),
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
               help="KV-cache dtype, as vLLM's --kv-cache-dtype: auto (the model's dtype), fp8, fp8_e4m3, fp8_e5m2; "
                    "with --engine llama.cpp its -ctk/-ctv types: f16, bf16, f32, q8_0, q4_0, q4_1, q5_0, q5_1, "
                    "iq4_nl."),
        click.option("--gpu-memory-utilization", type=click.FloatRange(0, 1, min_open=True),
                     help="Share of each GPU the serving engine may take (vLLM's; default 0.9). With --engine "
                          "sglang its --mem-fraction-static (default: SGLang's own for the GPU and layout, 0.83 "
                          "on an H100); with llama.cpp the default is all but llama.cpp --fit's 1 GiB margin; "
                          "with transformers, all of it."),
        click.option("--target-tps", type=float, help="Output tokens/s the deployment must reach."),
        click.option("--engine", type=click.Choice(["vllm", "sglang", "trt-llm", "llama.cpp", "transformers"]),
                     help="Serving engine whose achieved efficiencies time it (default vllm), --serve only."),
        click.option("--mbu", type=float, help="Decode memory-bandwidth utilisation (default: the engine's), --serve."),
        click.option("--prefill-efficiency", type=float,
                     help="Prefill/compute efficiency (default: the engine's), --serve only."),
        click.option("--request-rate", type=float,
                     help="Requests/s arriving at one replica (queueing: median and p90 TTFT/TPOT), --serve only; "
                          "--batch then caps the batch (default: the engine's max sequences and KV capacity; "
                          "llama.cpp and transformers: 1)."),
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
        if train:
            refuse_given(SERVE_ONLY, "serving, not training")
        else:
            refuse_given(TRAIN_ONLY, "training (--train), not serving")
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
        # not given: 1, or with --request-rate the engine's own cap (`make_job`)
        v["concurrency"] = pick(("--batch", None if train else batch), None, ("--concurrency", conc))
        if model is not None:
            used = v["seq"] if train else v["prompt"] + v["output"] - 1
            check_context(kw["model"], used, allow_long, positions_what(
                model.spec, "--seq-len", v["seq"] if train else v["prompt"], 0 if train else v["output"]))
        kw["prices"] = _prices(v.pop("price"))
        v["weights"] = serving_weights(kw.get("model"), v["weights"], v["mode"] == "train")
        v["weights"] = engine_file_type(v.get("engine"), v["weights"])
        if "ngl" in (kw.get("find") or ()):  # llama.cpp's question: GGUF formats and KV types, not vLLM's
            v["concurrency"] = 1 if v["concurrency"] is None else v["concurrency"]
            if v["concurrency"] == "max":
                raise LlmsizeError("--find ngl sizes llama.cpp's -np slots, a number: give --batch 1 or more, "
                                   "not max")
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


def engine_file_type(engine: str | None, weights: str) -> str:
    """--weights as the engine's own files of that name hold them (llama.cpp's MXFP4 is its GGUF
    MXFP4_MOE: `speedmodel.efficiency.engine_weights`), with a note where it reads the name so."""
    from llmsize.cli import NOTES
    from llmsize.speedmodel.efficiency import engine_weights

    w, note = engine_weights(engine, weights)
    if note and note not in NOTES:
        NOTES.append(note)
    return w


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
        if kw.get("job") is not None and not isinstance(kw["job"], TrainJob):
            refuse_given(TRAIN_LAYOUT, "a training layout (--train), not serving: a served model is laid out "
                                       "with --tp, --pp and replicas (--gpus)")
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


