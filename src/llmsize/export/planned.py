"""Export runs the planner: with a GPU type and count but no layout flags, the planner's best feasible layout
for that engine; an explicit layout the memory model says does not fit is refused with the smallest change
that fits. Uses only the planner's public entry points (plan_report rows, make_layout)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.parallel import Layout, spoken_label
from llmsize.spec import ModelSpec

SERVE_ENGINES = ("vllm", "llamacpp")
# which planned training layouts each engine can run
_TRAIN_ENGINES = {"deepspeed": ("deepspeed", "ddp"), "fsdp": ("fsdp",), "torchrun": None,
                  "megatron": ("megatron", "ddp"), "torchtitan": ("fsdp", "megatron", "ddp")}


@dataclass(frozen=True, slots=True)
class Chosen:
    """The layout export writes, why, and the memory per GPU the planner gives it."""

    layout: Layout
    memory_per_gpu: int | None
    budget: int | None
    note: str


def _layout(row: dict[str, Any], job: Any, gpus: int) -> Layout:
    """A plan_report row -> Layout (serving: replicas of TP x PP fill the GPUs as data parallelism)."""
    from llmsize.planner.jobs import TrainJob

    tp, pp, cp, ep = row["tp"], row["pp"], row["cp"], row["ep"]
    dp = gpus // (tp * pp * cp)
    if isinstance(job, TrainJob):
        micro = job.micro_batch
        accum = job.global_batch // (micro * dp) if job.global_batch % (micro * dp) == 0 else 1
        return Layout(tp=tp, pp=pp, cp=cp, ep=ep, dp=dp, zero=row["zero"], engine=row["engine"], fsdp=row["fsdp"],
                      offload_optimizer=row["offload_optimizer"], offload_params=row["offload_params"],
                      sequence_parallel=row["engine"] == "megatron" and tp > 1, micro_batch=micro, grad_accum=accum)
    return Layout(tp=tp, pp=pp, dp=dp, engine="ddp")


def _rows(spec: ModelSpec, job: Any, gpu: str, gpus: int) -> list[dict[str, Any]]:
    from llmsize.planner import plan_report
    from llmsize.planner.jobs import TrainJob

    if isinstance(job, TrainJob):
        rep = plan_report(spec, job, gpu_names=[gpu], counts=[gpus], max_gpus=gpus, top=1 << 20)
        return [r for r in rep["setups"] if r["gpus"] == gpus]
    rep = plan_report(spec, job, gpu_names=[gpu], max_gpus=gpus, top=1 << 20)
    return [r for r in rep["setups"] if gpus % (r["tp"] * r["pp"]) == 0]


def _serve_score(row: dict[str, Any], job: Any, gpus: int) -> tuple[float, int]:
    """Output tokens/s of the deployment: replicas help only while there are requests to give them."""
    replicas = gpus // (row["tp"] * row["pp"])
    useful = replicas if job.concurrency == "max" else min(replicas, job.concurrency)  # max: requests for all
    return (row["tokens_per_s"] or 0.0) * useful, -row["tp"] * row["pp"]


def _engine_rows(engine: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The planned training rows `engine`'s config can write: its own layout engines; data parallelism only
    (no TP/PP/CP, and no EP: the accelerate FSDP config and the DeepSpeed JSON have no expert parallelism)
    for deepspeed and fsdp."""
    ok = _TRAIN_ENGINES[engine]
    rows = [r for r in rows if ok is None or r["engine"] in ok]
    if engine in ("deepspeed", "fsdp"):
        rows = [r for r in rows if r["tp"] == r["pp"] == r["cp"] == r["ep"] == 1]
    return rows


def best_layout(engine: str, spec: ModelSpec, job: Any, gpu: str, gpus: int) -> Chosen:
    """The planner's best feasible layout for `engine` on `gpus` x `gpu` (training: in the planner's rank
    order; serving: the replica layout giving the most output tokens/s on all `gpus`)."""
    rows = _rows(spec, job, gpu, gpus)
    if engine in SERVE_ENGINES:
        rows = sorted(rows, key=lambda r: _serve_score(r, job, gpus), reverse=True)
    else:
        rows = _engine_rows(engine, rows)
    if not rows:
        from llmsize.planner.jobs import TrainJob

        hint = ""
        if isinstance(job, TrainJob) and job.global_batch % (job.micro_batch * gpus):
            hint = (f"; global batch {job.global_batch} is not divisible by micro-batch {job.micro_batch} x DP "
                    f"{gpus}: {batch_fix(job.global_batch, job.micro_batch, gpus)} divides every DP size")
        raise LlmsizeError(f"{engine} export: no feasible {engine} layout of {spec.name} on {gpus} x {gpu} "
                           f"(see `llmsize plan {spec.name} --gpu {gpu} --max-gpus {gpus}` for why){hint}")
    r = rows[0]
    lay = _layout(r, job, gpus)
    return Chosen(layout=lay, memory_per_gpu=r.get("memory_per_gpu_bytes"), budget=r.get("budget_bytes"),
                  note=f"planner's best {engine} layout on {gpus} x {r['gpu']}: {spoken_label(lay.label())}")


def _distance(given: Layout, r: dict[str, Any]) -> tuple[int, int]:
    """How far a planned row is from the given layout: fields changed (the shard group counts for a given
    hybrid_shard layout), then how much more is offloaded."""
    keys = ("tp", "pp", "cp", "ep", "zero", "fsdp", "offload_optimizer", "offload_params")
    changed = sum(getattr(given, k) != r[k] for k in keys)
    if given.fsdp == "hybrid_shard":
        changed += given.shard != r.get("shard_group")
    off = sum(r[k] != "none" for k in ("offload_optimizer", "offload_params"))
    return changed, off


def _hybrid_rows(spec: ModelSpec, job: Any, gpu: str, layout: Layout) -> list[dict[str, Any]]:
    """A given hybrid_shard layout's neighbours: the same layout with each larger shard group that divides DP,
    scored as the search scores its rows (feasible ones only)."""
    from dataclasses import replace

    from llmsize.planner import layout_row

    out = []
    for g in range(layout.shard + 1, layout.dp + 1):
        if layout.dp % g == 0:
            r = layout_row(spec, job, gpu, replace(layout, shard_group=g))
            if "rejected" not in r:
                out.append(r)
    return out


def check_given(engine: str, spec: ModelSpec, job: Any, gpu: str, layout: Layout, *, units: str = "iec") -> Chosen:
    """An explicit layout: kept if it fits; else refused with the feasible layout that changes the fewest
    fields (then offloads the least). Training layouts are scored themselves (`planner.layout_row`: memory
    per GPU from `pergpu.job_memory`, so FSDP hybrid_shard is planned with its shard group); serving layouts
    must be among the planner's feasible replica layouts."""
    from llmsize.export.command import size_text
    from llmsize.planner.jobs import TrainJob

    train = isinstance(job, TrainJob)
    why = ""
    if train and layout.ep > 1 and engine in ("deepspeed", "fsdp"):
        raise LlmsizeError(f"{engine} export: its config has no expert parallelism (--ep {layout.ep}); export "
                           "megatron or torchtitan for an EP layout, or drop --ep")
    if train:
        from llmsize.planner import layout_row

        mine = layout_row(spec, job, gpu, layout)
        if "rejected" not in mine:
            return Chosen(layout=layout, memory_per_gpu=mine.get("memory_per_gpu_bytes"),
                          budget=mine.get("budget_bytes"), note=f"given layout {spoken_label(layout.label())} fits")
        why = f" ({mine['reason'].removeprefix('does not fit: ')})"
        rows = _engine_rows(engine, _rows(spec, job, gpu, layout.gpus))  # a change this engine can write
        if layout.fsdp == "hybrid_shard":
            rows = _hybrid_rows(spec, job, gpu, layout) + rows
    else:
        if layout.ep > 1:
            # the planner lists no EP serving layout to check this against: TensorRT-LLM's 76 DEP cells are
            # predicted 24% median, 51% within ±25% (docs/speed.md), too far off to plan by
            raise LlmsizeError(f"{engine} export: expert-parallel serving ({spoken_label(layout.label())}) is not "
                               "planned, so its memory and speed are not checked; drop --ep to plan TP/PP "
                               "replicas, or --force writes it unchecked")
        rows = _rows(spec, job, gpu, layout.gpus)
        same = [r for r in rows if all(getattr(layout, k) == r[k] for k in ("tp", "pp", "cp", "ep"))]
        if same:
            r = same[0]
            return Chosen(layout=layout, memory_per_gpu=r.get("memory_per_gpu_bytes"), budget=r.get("budget_bytes"),
                          note=f"given layout {spoken_label(layout.label())} fits")
    if not rows:
        said = spoken_label(layout.label())
        raise LlmsizeError(f"{engine} export: {said} does not fit {layout.gpus} x {gpu}{why}, and no layout "
                           f"on {layout.gpus} GPUs does; use more GPUs (--force writes it anyway)")
    best = min(rows, key=lambda r: _distance(layout, r))
    fix = _flags(layout, best)
    said = spoken_label(layout.label())
    raise LlmsizeError(f"{engine} export: {said} does not fit {layout.gpus} x {gpu} by the memory "
                       f"model{why}; the smallest change that fits is {fix} ({spoken_label(best['layout'])}, "
                       f"{size_text(best['memory_per_gpu_bytes'], units)} per GPU); --force writes it anyway")


def _flags(given: Layout, r: dict[str, Any]) -> str:
    out = []
    for k in ("tp", "pp", "cp", "ep", "zero"):
        if getattr(given, k) != r[k]:
            out.append(f"--{k} {r[k]}")
    if given.fsdp != r["fsdp"]:
        out.append(f"--fsdp {r['fsdp']}" if r["fsdp"] else "no --fsdp")
    elif given.fsdp == "hybrid_shard" and given.shard != r.get("shard_group"):
        out.append(f"--shard-group {r['shard_group']}")
    for k in ("offload_optimizer", "offload_params"):
        if getattr(given, k) != r[k]:
            out.append(f"--{k.replace('_', '-')} {r[k]}")
    return " ".join(out) or "the same layout"


def batch_fix(global_batch: int, micro_batch: int, dp: int) -> str:
    """The nearest global batches either side that micro-batch x DP divides, as flags."""
    step = micro_batch * dp
    lo, hi = global_batch // step * step, -(-global_batch // step) * step
    return " or ".join(f"--global-batch {b}" for b in (lo, hi) if b >= step)


def grad_accum_for(engine: str, job: Any, layout: Layout, grad_accum: int | None, global_given: bool) -> int:
    """Micro-batches per step for the engines that write the batch (DeepSpeed, Megatron, torchtitan): the
    planner's global batch / (micro-batch x DP) unless given; a given one must agree with a given global batch."""
    from llmsize.planner.jobs import TrainJob

    if not isinstance(job, TrainJob) or engine not in ("deepspeed", "megatron", "torchtitan"):
        return grad_accum or 1
    per = job.micro_batch * layout.dp
    planned = job.global_batch // per if job.global_batch % per == 0 else None
    if grad_accum is None:
        if planned is None:
            raise LlmsizeError(f"global batch {job.global_batch} is not a multiple of micro-batch {job.micro_batch} x "
                               f"DP {layout.dp}; give {batch_fix(job.global_batch, job.micro_batch, layout.dp)} "
                               "(or --grad-accum)")
        return planned
    if grad_accum != planned and global_given:
        raise LlmsizeError(f"--grad-accum {grad_accum} x micro-batch {job.micro_batch} x DP {layout.dp} != "
                           f"--global-batch {job.global_batch}")
    return grad_accum
