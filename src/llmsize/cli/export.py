"""`llmsize export`: what an engine reads, for the layout the planner picks (or the one given, checked)."""
from __future__ import annotations

from typing import Any

import click

from llmsize.cli.present import echo_err
from llmsize.cli.common import long_context_option, units_option
from llmsize.cli.vocab import AliasChoice, BatchOrMax, option, pick
from llmsize.errors import LlmsizeError
from llmsize.planner.jobs import TRAIN_PRECISIONS

ENGINES = ["vllm", "llamacpp", "deepspeed", "fsdp", "torchrun", "megatron", "torchtitan"]


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
        click.option("--batch", type=BatchOrMax(),
                     help="Sequences per step: training micro-batch per GPU, or requests served at once (1); "
                          "vllm with --gpu: max plans an offline max-throughput run and writes the engine's "
                          "default --max-num-seqs it assumed."),
        click.option("--micro-batch", type=click.IntRange(min=1), hidden=True),
        click.option("--concurrency", type=BatchOrMax(), hidden=True),
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
                     help="Concurrent sequences (vLLM) / slots (llama.cpp); default with --gpu: --batch (vLLM "
                          "without --batch: its own default)."),
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
        units_option,
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _canonical(engine: str, kw: dict[str, Any]) -> None:
    """--seq-len/--batch fill the training or serving field the engine plans with (their old spellings
    --seq/--prompt and --micro-batch/--concurrency still work; two different values are refused);
    --kv-cache-dtype is also the planned KV dtype with --gpu (old --kv-dtype)."""
    from llmsize.export.command import canonical_fields

    seq_len, batch = kw.pop("seq_len"), kw.pop("batch")
    new = canonical_fields(engine, seq_len, batch, gpu=kw["gpu_name"], kv_cache_dtype=kw["kv_cache_dtype"])
    for field, old_flag in (("seq", "--seq"), ("prompt", "--prompt"), ("micro_batch", "--micro-batch"),
                            ("concurrency", "--concurrency")):
        canon = "--seq-len" if field in ("seq", "prompt") else "--batch"
        kw[field] = pick((canon, new[field]), None, (old_flag, kw[field]))
    if kw["kv_dtype"] is None and "kv_dtype" in new:
        kw["kv_dtype"] = new["kv_dtype"]


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
    from llmsize.export.command import run_export

    _canonical(engine, kw)
    out = run_export(engine, model_name, **kw)
    for n in out.notes:
        echo_err(f"export: {n}")
    click.echo(out.text)


COMMANDS = [export_cmd]
