"""`llmsize export`: what an engine reads, for the layout the planner picks (or the one given, checked)."""
from __future__ import annotations

from typing import Any

import click

from llmsize.cli.common import long_context_option
from llmsize.cli.vocab import AliasChoice, option, pick
from llmsize.errors import LlmsizeError
from llmsize.planner.jobs import TRAIN_PRECISIONS

ENGINES = ["vllm", "llamacpp", "deepspeed", "fsdp", "torchrun", "megatron", "torchtitan"]
_TRAIN_FLAGS = ("seq", "micro_batch", "global_batch", "precision", "recompute", "host_memory", "nvme")
_SERVE_FLAGS = ("prompt", "output", "concurrency", "weights", "kv_dtype", "gpu_memory_utilization")
_LAYOUT_FLAGS = ("tp", "pp", "cp", "ep", "zero", "fsdp", "offload_optimizer", "offload_params")


def _opts(f: Any) -> Any:
    opts = [
        click.option("--gpu", "gpu_name", help="GPU type: plan the layout for it (or check the one given)."),
        click.option("--gpus", type=click.IntRange(min=1), help="GPU count (default: the layout's product)."),
        click.option("--tp", type=click.IntRange(min=1)), click.option("--pp", type=click.IntRange(min=1)),
        click.option("--cp", type=click.IntRange(min=1)), click.option("--ep", type=click.IntRange(min=1)),
        click.option("--zero", type=click.IntRange(0, 3), help="DeepSpeed ZeRO stage."),
        click.option("--fsdp", type=click.Choice(["full_shard", "shard_grad_op", "hybrid_shard", "no_shard"])),
        click.option("--offload-optimizer", type=click.Choice(["none", "cpu", "nvme"])),
        click.option("--offload-params", type=click.Choice(["none", "cpu", "nvme"])),
        click.option("--force", is_flag=True, help="Write an explicit layout even if the memory model says it "
                                                   "does not fit."),
        click.option("--seq-len", type=click.IntRange(min=1),
                     help="Tokens per sequence: training sequence (planner default 4096) or prompt (1024)."),
        click.option("--seq", type=click.IntRange(min=1), hidden=True),
        click.option("--prompt", type=click.IntRange(min=1), hidden=True),
        click.option("--batch", type=click.IntRange(min=1),
                     help="Sequences per step: training micro-batch per GPU, or requests served at once (1)."),
        click.option("--micro-batch", type=click.IntRange(min=1), hidden=True),
        click.option("--concurrency", type=click.IntRange(min=1), hidden=True),
        click.option("--global-batch", type=click.IntRange(min=1), help="Training: sequences per step (1024)."),
        click.option("--precision", type=click.Choice(list(TRAIN_PRECISIONS)),
                     help="Training: bf16-mixed (fp32 master weights, bf16 compute), bf16 or fp32 [planner default: "
                          "bf16-mixed]."),
        option("--grad-checkpointing/--no-grad-checkpointing", "recompute", aliases=("--recompute/--no-recompute",),
               default=None, help="Training: activation checkpointing [planner default: on]."),
        click.option("--host-memory", help="Training: host memory per node for CPU offload (e.g. 2TiB)."),
        click.option("--nvme", help="Training: NVMe capacity per node for NVMe offload (e.g. 30TB)."),
        option("--new-tokens", "output", aliases=("--output",), type=click.IntRange(min=1),
               help="Serving: tokens generated per request (256)."),
        click.option("--weights", help="Serving: weight format (bf16)."),
        click.option("--kv-dtype", hidden=True),
        click.option("--gpu-memory-utilization", type=click.FloatRange(0, 1, min_open=True),
                     help="vLLM memory share (0.9)."),
        click.option("--max-model-len", type=click.IntRange(min=1),
                     help="Context per sequence (default with --gpu: prompt + output)."),
        click.option("--kv-cache-dtype", default=None,
                     help="KV-cache dtype written (vLLM: auto/fp8/...; llama.cpp: f16/q8_0/...) and planned with "
                          "--gpu [default: auto; llama.cpp f16]."),
        click.option("--quantization", help="vLLM --quantization method."),
        click.option("--max-num-seqs", type=click.IntRange(min=1),
                     help="Concurrent sequences (vLLM) / slots (llama.cpp); default with --gpu: --batch."),
        click.option("--grad-accum", type=click.IntRange(min=1), help="Training: micro-batches per step "
                                                                       "(default: global / (micro x DP))."),
        click.option("--gpus-per-node", type=click.IntRange(min=1), default=8, show_default=True),
        click.option("--script", default="train.py", show_default=True, help="Training script for torchrun."),
        click.option("--kv-unified", is_flag=True, help="llama.cpp: one KV pool shared by the slots (-kvu)."),
        click.option("--ngl", help="llama.cpp -ngl: layers on the GPU, 'auto' or 'all' (default: auto)."),
        click.option("--split-mode", type=click.Choice(["none", "layer", "row", "tensor"]), help="llama.cpp -sm."),
        click.option("--nvme-path", default="/local_nvme", show_default=True, help="DeepSpeed NVMe swap folder."),
        click.option("--shard-group", type=click.IntRange(min=1),
                     help="FSDP hybrid_shard: GPUs per shard group (default: GPUs per node)."),
        click.option("--float8", is_flag=True, help="torchtitan: float8 linears (quantize.linear.float8)."),
        click.option("--virtual-stages", type=click.IntRange(min=2),
                     help="Megatron: interleaved pipeline, virtual stages per pipeline rank."),
        long_context_option,
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _canonical(engine: str, kw: dict[str, Any]) -> None:
    """--seq-len/--batch fill the training or serving field the engine plans with (their old spellings
    --seq/--prompt and --micro-batch/--concurrency still work); --kv-cache-dtype is also the planned KV
    dtype with --gpu (old --kv-dtype)."""
    serving = engine in ("vllm", "llamacpp")
    seq_len, batch = kw.pop("seq_len"), kw.pop("batch")
    kw["seq"] = pick(("--seq-len", None if serving else seq_len), None, ("--seq", kw["seq"]))
    kw["prompt"] = pick(("--seq-len", seq_len if serving else None), None, ("--prompt", kw["prompt"]))
    kw["micro_batch"] = pick(("--batch", None if serving else batch), None, ("--micro-batch", kw["micro_batch"]))
    kw["concurrency"] = pick(("--batch", batch if serving else None), None, ("--concurrency", kw["concurrency"]))
    if serving and kw["gpu_name"] and kw["kv_dtype"] is None and kw["kv_cache_dtype"] is not None \
            and engine == "vllm":
        kw["kv_dtype"] = kw["kv_cache_dtype"]


def _flag(k: str) -> str:
    """The canonical flag of a job field (docs/vocabulary.md)."""
    return {"seq": "--seq-len", "prompt": "--seq-len", "micro_batch": "--batch", "concurrency": "--batch",
            "output": "--new-tokens", "kv_dtype": "--kv-cache-dtype", "recompute": "--grad-checkpointing"}.get(
        k, "--" + k.replace("_", "-"))


def _check_len(model_name: str, kw: dict[str, Any], job: Any) -> None:
    """A context past the model's trained length (the planned one, or --max-model-len) is refused unless
    --allow-long-context, as in every command; a model llmsize cannot read is not checked."""
    from llmsize.cli.common import check_context
    from llmsize.load import load
    from llmsize.planner.jobs import TrainJob

    if not kw["gpu_name"] and kw["max_model_len"] is None:
        return
    try:
        loaded = load(model_name)
    except LlmsizeError:
        return
    if kw["max_model_len"] is not None:
        check_context(loaded, kw["max_model_len"], kw["allow_long"], f"--max-model-len {kw['max_model_len']:,}")
    elif isinstance(job, TrainJob):
        check_context(loaded, job.seq_len, kw["allow_long"], f"--seq-len {job.seq_len:,}")
    else:
        check_context(loaded, job.context, kw["allow_long"], f"--seq-len {job.prompt_len:,} + "
                      f"{job.output_len:,} new tokens")


def _job(engine: str, kw: dict[str, Any]) -> Any:
    from llmsize.planner.jobs import make_job

    _canonical(engine, kw)
    serving = engine in ("vllm", "llamacpp")
    wrong = [k for k in (_TRAIN_FLAGS if serving else _SERVE_FLAGS) if kw[k] is not None]
    if wrong and not (not serving and wrong == ["gpu_memory_utilization"]):
        names = ", ".join(f"--{k.replace('_', '-')}" for k in wrong)  # only old spellings reach the wrong mode
        raise LlmsizeError(f"{names}: {'training' if serving else 'serving'} option(s), not for {engine}")
    if not serving and kw["gpu_memory_utilization"] is not None:
        raise LlmsizeError(f"--gpu-memory-utilization: a serving option, not for {engine}")
    given = {k: kw[k] for k in (_SERVE_FLAGS if serving else _TRAIN_FLAGS) if kw[k] is not None}
    return make_job("serve" if serving else "train", **given, host_memory_name="--host-memory",
                    nvme_name="--nvme", flags=True)


@click.command("export")
@click.argument("engine", type=AliasChoice([e if e != "llamacpp" else "llama.cpp" for e in ENGINES],
                                           hidden={"llamacpp": "llama.cpp"}, internal={"llama.cpp": "llamacpp"}))
@click.argument("model_name", metavar="MODEL")
@_opts
def export_cmd(engine: str, model_name: str, **kw: Any) -> None:
    """Write what an engine reads: a vLLM or llama.cpp command line, a DeepSpeed JSON, an accelerate FSDP
    config, a torchrun line, Megatron-LM arguments or a torchtitan TOML.

    \b
    With --gpu and --gpus and no layout flags, the layout is the planner's best feasible one for that
    engine (stderr says which, and its memory per GPU); a layout given with --gpu is checked and refused
    with the smallest change that fits, unless --force. A preset name becomes its Hugging Face repo id;
    llama.cpp needs the GGUF file.
    """
    from llmsize.export import engine_setup, export
    from llmsize.export.planned import best_layout, check_given
    from llmsize.planner.jobs import TrainJob, make_layout

    job = _job(engine, kw)
    _check_len(model_name, kw, job)
    if kw["float8"] and engine != "torchtitan":
        raise LlmsizeError(f"--float8 is a torchtitan option, not for {engine}")
    if kw["virtual_stages"] and engine != "megatron":
        raise LlmsizeError(f"--virtual-stages is a Megatron option, not for {engine}")
    if not kw["gpu_name"]:  # without a GPU nothing is planned: only what the engine writes itself is used
        uses = {"deepspeed": ("micro_batch", "global_batch"), "megatron": ("micro_batch", "global_batch", "seq"),
                "torchtitan": ("micro_batch", "global_batch", "seq"), "vllm": ("gpu_memory_utilization",)}
        unused = [k for k in _TRAIN_FLAGS + _SERVE_FLAGS if kw[k] is not None and k not in uses.get(engine, ())]
        if unused:
            raise LlmsizeError(f"{', '.join(dict.fromkeys(_flag(k) for k in unused))}: plan inputs; give --gpu "
                               "TYPE --gpus N to plan with them")
    spec = _spec(model_name) if kw["gpu_name"] else None
    given = {k: kw[k] for k in _LAYOUT_FLAGS if kw[k] is not None}
    if kw["gpu_name"] and spec is None:
        raise LlmsizeError(f"--gpu plans for a catalogued model or a config file; {model_name!r} is neither")
    if kw["gpu_name"] and kw["gpus"] is None and not given and engine != "llamacpp":
        raise LlmsizeError("--gpu plans a layout for a GPU count: give --gpus N too")
    if kw["gpu_name"] and not given and engine != "llamacpp":
        chosen = best_layout(engine, spec, job, kw["gpu_name"], kw["gpus"])
        layout = chosen.layout
    else:
        layout = make_layout(kw["gpus"], **{k: v for k, v in given.items()})
        chosen = None
        if kw["gpu_name"] and engine != "llamacpp":
            if kw["force"]:
                click.echo(f"export: --force: {layout.label()} written without a memory check", err=True)
            else:
                chosen = check_given(engine, spec, job, kw["gpu_name"], layout)
    if chosen is not None:
        mem = f", {chosen.memory_per_gpu / 2**30:,.1f} GiB per GPU" if chosen.memory_per_gpu else ""
        of = f" of {chosen.budget / 2**30:,.1f} GiB" if chosen.budget else ""
        click.echo(f"export: {chosen.note}{mem}{of}", err=True)
    from llmsize.export.planned import grad_accum_for

    train = isinstance(job, TrainJob)
    micro = job.micro_batch if train else 1
    accum = grad_accum_for(engine, job, layout, kw["grad_accum"], kw["global_batch"] is not None)
    planned_serve = kw["gpu_name"] is not None and not train
    ngl = _ngl(kw["ngl"])
    if engine == "llamacpp" and kw["gpu_name"] and ngl is None:
        ngl = _fit_ngl(model_name, spec, layout, kw, job)
    s = engine_setup(engine if engine in ("vllm", "llamacpp", "deepspeed", "fsdp", "torchrun") else "torchrun",
                     model_name, layout,
                     max_model_len=kw["max_model_len"] or (job.context if planned_serve else None),
                     gpu_memory_utilization=job.gpu_memory_utilization if not train else 0.9,
                     kv_cache_dtype=kw["kv_cache_dtype"], quantization=kw["quantization"],
                     max_num_seqs=kw["max_num_seqs"] or (job.concurrency if planned_serve else None),
                     micro_batch=micro, grad_accum=accum or 1, gpus_per_node=kw["gpus_per_node"],
                     script=kw["script"], kv_unified=kw["kv_unified"], gpu_layers=ngl,
                     split_mode=kw["split_mode"], nvme_path=kw["nvme_path"], shard_group=kw["shard_group"])
    if engine in ("megatron", "torchtitan"):
        from llmsize.export.megatron import megatron_args
        from llmsize.export.torchtitan import torchtitan_toml

        if spec is None:
            spec = _spec(model_name)
        if spec is None:
            raise LlmsizeError(f"{engine} export writes the model's shape: give a catalogued model or a config.json, "
                               f"not {model_name!r}")
        out = megatron_args(s, spec, job, virtual_stages=kw["virtual_stages"]) if engine == "megatron" else torchtitan_toml(s, spec, job,
                                                                                       float8=kw["float8"])
        click.echo(out)
        return
    click.echo(export(engine, s))


def _fit_ngl(model_name: str, spec: Any, layout: Any, kw: dict[str, Any], job: Any) -> int:
    """-ngl from the partial-offload fit of the GGUF on one --gpu (stderr says what it chose)."""
    from llmsize.engines.offload import ngl_report

    if layout.gpus != 1:
        raise LlmsizeError("export llamacpp --gpu fits -ngl on one GPU; for several give --ngl (or 'auto') and -ts")
    if not model_name.lower().endswith(".gguf"):
        raise LlmsizeError(f"llama.cpp export: MODEL must be a .gguf file, got {model_name!r}")
    kv = kw["kv_cache_dtype"] or "f16"
    rep = ngl_report(spec, gguf_path=model_name, weights="F16", gpu_name=kw["gpu_name"], host_name="DDR5-5600-2ch",
                     context=kw["max_model_len"] or job.context, slots=kw["max_num_seqs"] or job.concurrency,
                     kv_type=kv)
    s = rep["split"]
    click.echo(f"export: -ngl {rep['ngl']} of {rep['layers']} fits {rep['gpu']} ({rep['verdict']}; "
               f"{s['gpu_total'] / 2**30:,.1f} GiB on the GPU, {s['host_total'] / 2**30:,.1f} GiB on the host)", err=True)
    return int(rep["ngl"])


def _ngl(v: str | None) -> int | str | None:
    if v is None or v in ("auto", "all"):
        return v
    try:
        n = int(v)
    except ValueError:
        raise LlmsizeError(f"--ngl must be a layer count, 'auto' or 'all', got {v!r}") from None
    if n < 0:
        raise LlmsizeError(f"--ngl must be >= 0, got {n}")
    return n


def _spec(name: str) -> Any:
    from llmsize.load import load

    try:
        return load(name).spec
    except LlmsizeError:
        return None


COMMANDS = [export_cmd]
