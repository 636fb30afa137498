"""`train --gpus N ...` and `infer --tp/--pp`: the layout options and the per-GPU report.

The numbers come from `llmsize.pergpu.train_memory` (training) and `llmsize.parallel.per_gpu`
(inference), the functions `plan`, `fit` and the exports call; nothing is computed here.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from llmsize.cli.common import console, fmt_bytes, table
from llmsize.cli.present import layout_label
from llmsize.errors import LlmsizeError

_TRAIN_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--gpus", dict(type=click.IntRange(1, 1 << 20), help="GPUs in the job: report memory per GPU for this layout.")),
    ("--fsdp", dict(type=click.Choice(["full_shard", "shard_grad_op", "hybrid_shard"]),
                    help="FSDP2 (fully_shard per decoder layer and on the root) sharding strategy.")),
    ("--shard-group", dict(type=click.IntRange(min=1), help="hybrid_shard: GPUs per shard group [default: the DP GPUs "
                                                                 "of one 8-GPU node].")),
    ("--reshard-after-forward/--no-reshard-after-forward",
     dict(default=None, help="FSDP: free the decoder layers' gathered parameters after forward "
                             "[default: yes; shard_grad_op: no].")),
    ("--zero", dict(type=click.IntRange(0, 3), help="DeepSpeed ZeRO stage (0-3); with --pp, --cp or "
                                                    "--sequence-parallel (Megatron-LM) 1 = distributed optimizer.")),
    ("--tp", dict(type=click.IntRange(min=1), default=1, show_default=True, help="Tensor-parallel size.")),
    ("--pp", dict(type=click.IntRange(min=1), default=1, show_default=True, help="Pipeline-parallel stages.")),
    ("--virtual-stages", dict(type=click.IntRange(min=1), default=1, show_default=True,
                              help="Model chunks per pipeline GPU (> 1: interleaved 1F1B schedule).")),
    ("--cp", dict(type=click.IntRange(min=1), default=1, show_default=True, help="Context-parallel size.")),
    ("--ep", dict(type=click.IntRange(min=1), default=1, show_default=True, help="Expert-parallel size.")),
    ("--sequence-parallel", dict(is_flag=True, help="Megatron sequence parallelism with --tp.")),
    ("--offload-optimizer", dict(type=click.Choice(["none", "cpu", "nvme"]), default="none", show_default=True,
                                 is_flag=False, flag_value="cpu",
                                 help="Optimizer states (and master weights) in CPU memory (alone: cpu; nvme is "
                                      "sized by plan/fit).")),
    ("--offload-params", dict(type=click.Choice(["none", "cpu", "nvme"]), default="none", show_default=True,
                              is_flag=False, flag_value="cpu",
                              help="Parameters in CPU memory, ZeRO-3 / FSDP full_shard (alone: cpu).")),
    ("--rank", dict(type=click.IntRange(min=0), help="FSDP: report this rank of the shard group "
                                                     "[default: the most loaded].")),
)
_NAMES = tuple(o[0].split("/")[0].lstrip("-").replace("-", "_") for o in _TRAIN_OPTIONS)


def train_layout_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the layout options; the command receives `layout_kw: dict` (empty values dropped)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kw = {n: kwargs.pop(n) for n in _NAMES}
        for n in ("offload_optimizer", "offload_params"):  # the same choices as plan/fit; one GPU's view: cpu
            if kw[n] == "nvme":
                raise LlmsizeError(f"--{n.replace('_', '-')} nvme: train sizes CPU offload; plan/fit --train "
                                   f"size NVMe offload")
            kw[n] = kw[n] == "cpu"
        kwargs["layout_kw"] = kw
        return f(*args, **kwargs)

    for decl, kw in reversed(_TRAIN_OPTIONS):
        wrapper = click.option(decl, **kw)(wrapper)
    return wrapper


def train_layout(kw: dict[str, Any], wl: Any) -> Any:
    """The Layout the options describe (None when no --gpus and no layout option was given)."""
    from llmsize.parallel import Layout

    gpus = kw["gpus"]
    used = [n for n in _NAMES if n != "gpus" and kw[n] not in (None, False, 1)]
    if gpus is None:
        if used:
            raise LlmsizeError(f"--{used[0].replace('_', '-')} needs --gpus N (the GPUs of the job)")
        return None
    tp, pp, cp = kw["tp"], kw["pp"], kw["cp"]
    if gpus % (tp * pp * cp):
        raise LlmsizeError(f"--gpus {gpus} is not divisible by TP {tp} × PP {pp} × CP {cp}")
    dp = gpus // (tp * pp * cp)
    fsdp, zero = kw["fsdp"], kw["zero"]
    if fsdp and zero is not None:
        raise LlmsizeError("--fsdp and --zero are two engines: give one")
    megatron = kw["sequence_parallel"] or pp > 1 or cp > 1
    if fsdp:
        engine, stage = "fsdp", 2 if fsdp == "shard_grad_op" else 3
    elif megatron:  # Megatron-LM; --zero 1 = its distributed optimizer
        engine, stage = "megatron", zero or 0
    elif zero is not None:
        engine, stage = ("deepspeed", zero) if zero else ("ddp", 0)
    else:
        engine, stage = "ddp", 0
    raf = kw["reshard_after_forward"]
    if raf is False and fsdp == "full_shard":  # FSDP2: full_shard without resharding = shard_grad_op
        fsdp, stage, raf = "shard_grad_op", 2, None
    return Layout(tp=tp, pp=pp, dp=dp, cp=cp, ep=kw["ep"], zero=stage, engine=engine, fsdp=fsdp,
                  shard_group=kw["shard_group"], reshard_after_forward=raf,
                  sequence_parallel=kw["sequence_parallel"],
                  offload_optimizer="cpu" if kw["offload_optimizer"] else "none",
                  offload_params="cpu" if kw["offload_params"] else "none", micro_batch=wl.batch,
                  grad_accum=wl.grad_accumulation, virtual_stages=kw["virtual_stages"])


def per_gpu_dict(mem: Any) -> dict[str, Any]:
    """JSON of a GpuMemory: exact bytes, the terms, the phase and rank where the replay knows them."""
    lay = mem.layout
    return {"layout": lay.label(), "gpus": lay.gpus, "tp": lay.tp, "pp": lay.pp, "dp": lay.dp, "cp": lay.cp,
            "ep": lay.ep, "engine": lay.engine, "zero": lay.zero, "fsdp": lay.fsdp,
            "peak_bytes_per_gpu": mem.peak_bytes, "phase": mem.phase or None, "where": mem.where or None,
            "rank": mem.rank, "pipeline_stage": mem.stage, "per_stage_bytes": list(mem.per_stage),
            "host_bytes_per_gpu": mem.host_bytes, "nvme_bytes_per_gpu": mem.nvme_bytes,
            "model": "replayed" if mem.phase else "placed by parameter fractions",
            "terms": [{"name": t.name, "bytes": t.value, "formula": t.formula, "source": t.source}
                      for t in mem.terms], "notes": list(mem.notes)}


def print_per_gpu(mem: Any, units: str) -> None:
    c = console()
    lay = mem.layout
    at = f" ({mem.where})" if mem.where and mem.where != mem.phase else ""
    where = f" during [bold]{mem.phase}[/bold]{at}, rank {mem.rank}" if mem.phase else \
        f" (placed by parameter fractions; pipeline stage {mem.stage})"
    c.print(f"Per GPU, {lay.gpus} GPUs, {layout_label(lay.label())}: [bold]{fmt_bytes(mem.peak_bytes, units)}[/bold] "
            f"({mem.peak_bytes:,} B){where}")
    c.print(table("Live on one GPU at its peak", ["term", ("bytes", "right"), "formula", "source"],
                  [(t.name, fmt_bytes(t.value, units), t.formula, t.source) for t in mem.terms]))
    if mem.host_bytes or mem.nvme_bytes:
        c.print(f"Offloaded per GPU: host {fmt_bytes(mem.host_bytes, units)}, NVMe {fmt_bytes(mem.nvme_bytes, units)}")
    for n in mem.notes:
        c.print(f"peak of phase {n}" if mem.phase else f"note: {n}")


def report_train(model: Any, wl: Any, layout: Any, rank: int | None, as_json: bool, units: str) -> None:
    from llmsize.cli.common import emit_json, model_header
    from llmsize.pergpu import train_memory

    from llmsize.parallel import check_layout

    check_layout(model.spec, layout, seq_len=wl.seq_len)
    mem = train_memory(model.spec, wl, layout, rank=rank)
    if as_json:
        emit_json({"model": model.spec.name, "per_gpu": per_gpu_dict(mem)})
        return
    console().print(f"[bold]{model_header(model)}[/bold] — train, batch {wl.batch} per GPU, sequence "
                    f"{wl.seq_len:,}, {wl.weights_dtype}" + (f" + {wl.autocast}" if wl.autocast else ""))
    print_per_gpu(mem, units)


def report_infer(model: Any, wl: Any, tp: int, pp: int, as_json: bool, units: str) -> None:
    from llmsize.cli.common import emit_json, model_header
    from llmsize.parallel import Layout, check_layout
    from llmsize.pergpu import infer_memory

    layout = Layout(tp=tp, pp=pp, engine="ddp")
    check_layout(model.spec, layout, seq_len=wl.seq_len)
    mem = infer_memory(model.spec, wl, layout)
    if as_json:
        emit_json({"model": model.spec.name, "per_gpu": per_gpu_dict(mem)})
        return
    console().print(f"[bold]{model_header(model)}[/bold] — {wl.mode}, batch {wl.batch}, sequence {wl.seq_len:,}"
                    + (f" + {wl.new_tokens:,} new tokens" if wl.new_tokens else ""))
    print_per_gpu(mem, units)
