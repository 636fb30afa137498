"""The planner's search: every GPU type × count × parallel layout, scored analytically.

One memory breakdown per job (the memory model runs once, not per candidate); each layout's bytes per
GPU come from `llmsize.parallel.per_gpu`, memoised on what changes them (TP, PP, shard group, ZeRO
stage, engine, in-flight micro-batches), so thousands of candidates cost milliseconds.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.parallel import Breakdown, GpuMemory, Layout, layout_problems
from llmsize.perf import forward_share, offload_step_time
from llmsize.planner.jobs import DEFAULT_HOST_BANDWIDTH, TrainJob
from llmsize.planner.tally import Tally
from llmsize.spec import ModelSpec
from llmsize.speedmodel.train import run_seconds

DEFAULT_COUNTS = tuple(sorted({1, 2, 4} | set(range(8, 1025, 8))))
NODE = 8  # GPUs per node: TP stays inside one


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    gpu: Any  # llmsize.catalog.hardware.GPU
    gpus: int
    layout: Layout
    precision: str
    memory: GpuMemory | None = None
    budget: int = 0  # bytes a GPU may use
    tokens_per_s: float = 0.0  # training: tokens/s; serving: output tokens/s of the deployment
    seconds: float | None = None  # training: total time; serving: time to first token
    usd: float | None = None  # training: run cost; serving: $ per 1M output tokens
    usd_in: float | None = None  # serving: $ per 1M input tokens
    reason: str | None = None  # why rejected (None: feasible)
    kind: str = "ok"  # ok | fit | host | divisible | slow | price
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headroom(self) -> int:
        return self.budget - (self.memory.peak_bytes if self.memory else 0)


def _divisors(n: int, cap: int) -> list[int]:
    return [d for d in (1, 2, 4, 8, 16, 32, 64, 128) if d <= cap and n % d == 0]


def train_layouts(spec: ModelSpec, job: TrainJob, gpus: int) -> Iterable[Layout]:
    """Layouts worth trying on `gpus` GPUs: TP ≤ 8 inside a node, PP over nodes, DP the rest; data
    parallel states plain (DDP), sharded (ZeRO-1/2/3, FSDP) or offloaded; Megatron-style
    distributed optimizer with sequence parallelism whenever TP or PP is used."""
    from llmsize.speedmodel.train import default_virtual_stages

    for tp in _divisors(gpus, min(NODE, gpus)):
        for pp in _divisors(gpus // tp, spec.num_layers):
            dp = gpus // (tp * pp)
            if job.global_batch % (job.micro_batch * dp):
                continue
            m = job.global_batch // (job.micro_batch * dp)
            base = dict(tp=tp, pp=pp, dp=dp, micro_batch=job.micro_batch, grad_accum=m)
            eps = expert_parallel_sizes(spec, dp)
            if tp == 1 and pp == 1:
                yield Layout(engine="ddp", **base)
                for z in (1, 2, 3):
                    yield Layout(engine="deepspeed", zero=z, **base)
                yield Layout(engine="fsdp", zero=3, fsdp="full_shard", **base)
                yield Layout(engine="deepspeed", zero=3, offload_optimizer="cpu", **base)
                if gpus <= NODE:
                    yield Layout(engine="deepspeed", zero=3, offload_optimizer="cpu", offload_params="cpu", **base)
                for ep in eps:  # the experts split over the data-parallel ranks: FSDP2 + EP, Megatron-Core
                    yield Layout(engine="fsdp", zero=3, fsdp="full_shard", ep=ep, **base)
                    yield Layout(engine="megatron", zero=1, ep=ep, **base)
            else:
                meg = dict(engine="megatron", zero=1 if dp > 1 else 0, sequence_parallel=tp > 1, **base)
                yield Layout(**meg)
                for ep in eps:
                    yield Layout(**{**meg, "ep": ep})
                if pp > 1 and m >= pp:
                    # Megatron interleaves only with micro-batches a multiple of PP, layers split evenly; its
                    # virtual stages as `validate` and `speed --schedule interleaved` take them unsaid
                    v = default_virtual_stages(spec.num_layers, pp)
                    if m % pp == 0 and v > 1 and spec.num_layers % (pp * v) == 0:
                        yield Layout(virtual_stages=v, **meg)
                    # ASSUMES: ZB-V fills its bubble once every stage has a micro-batch (m >= p)
                    yield Layout(zero_bubble=True, **meg)


def expert_parallel_sizes(spec: ModelSpec, dp: int) -> list[int]:
    """Expert-parallel sizes worth trying for a mixture of experts on `dp` data-parallel ranks: every
    power of two above 1 that divides DP and the expert count (none for a dense model). EP only moves
    experts between the data-parallel ranks, so it needs no more GPUs; what it changes is each GPU's
    expert states and the rows of its expert GEMMs (and adds the all-to-alls), which the memory and
    speed models weigh.

    Source: liu2025folding"""
    if spec.moe is None:
        return []
    return [e for e in _divisors(dp, min(dp, spec.moe.num_experts)) if e > 1 and spec.moe.num_experts % e == 0]


def _bubble(layout: Layout) -> float:
    """Share of a step the pipeline computes: 1F1B m/(m + p − 1), interleaved m/(m + (p − 1)/v), zero-bubble 1
    (Narayanan et al. 2021, eq. 1 and sec. 2.2.2; Qi et al. 2024)."""
    from llmsize.speedmodel.train import bubble

    return bubble(layout.pp, max(layout.grad_accum, 1), schedule(layout), layout.virtual_stages)


def schedule(layout: Layout) -> str:
    """The pipeline schedule a layout runs: zero-bubble, interleaved (virtual stages) or 1F1B."""
    return "zero-bubble" if layout.zero_bubble else "interleaved" if layout.virtual_stages > 1 else "1f1b"


# the planner's layout engines, as the efficiency table names them. DDP is PyTorch's, like FSDP; so is a
# ZeRO layout's compute: the plan runs a Hugging Face model under DeepSpeed's ZeRO (what `export deepspeed`
# writes), PyTorch's kernels with DeepSpeed's sharding, whose traffic the communication model times apart.
# ASSUMES: the table's `deepspeed` rows (BLOOM, MT-NLG, Pythia: Megatron-DeepSpeed and GPT-NeoX 3D runs with
#          Megatron's fused kernels, all on A100) do not describe that stack; timed with them, ZeRO-3 on an
#          H100 ran 21% faster than plain DDP of the same model.
_TRAIN_ENGINE = {"ddp": "fsdp", "fsdp": "fsdp", "deepspeed": "fsdp", "megatron": "megatron"}


def _train_rate(spec: ModelSpec, job: TrainJob, g: Any, layout: Layout, pp: int | None = None,
                precision: str | None = None) -> Any:
    from llmsize.speedmodel.train import train

    p = layout.pp if pp is None else pp
    # tensor or pipeline parallelism is Megatron-style whatever engine label the layout carries
    engine = "megatron" if layout.tp * layout.pp > 1 else _TRAIN_ENGINE.get(layout.engine, "unknown")
    return train(spec, g, engine=engine, precision=precision or job.precision,
                 seq=job.seq_len, recompute="full" if job.recompute else "none", pp=p,
                 micro_batches=max(layout.grad_accum, 1), tp=layout.tp, micro_batch=job.micro_batch, mfu=job.mfu,
                 dp=layout.dp, shard="full" if layout.zero == 3 or layout.fsdp == "full_shard" else "none",
                 step_tokens=job.global_batch * job.seq_len, gpus_per_node=NODE, schedule=schedule(layout),
                 virtual_stages=layout.virtual_stages, cp=layout.cp, ep=layout.ep)


def with_steps(job: TrainJob, layout: Layout) -> Layout:
    """`layout` with the job's micro-batch and the micro-batches per step its data-parallel width leaves
    (global batch / (micro-batch × DP)); refuses a global batch they do not divide, as the search does."""
    from dataclasses import replace

    step = job.micro_batch * layout.dp
    if job.global_batch % step:
        near = sorted({b for b in (job.global_batch // step * step, -(-job.global_batch // step) * step) if b})
        raise LlmsizeError(f"global batch {job.global_batch} is not divisible by micro-batch {job.micro_batch} × "
                           f"DP {layout.dp}; the nearest that are: {' or '.join(map(str, near))}")
    return replace(layout, micro_batch=job.micro_batch,
                   grad_accum=job.global_batch // (job.micro_batch * layout.dp))


def _no_path(job: TrainJob, g: Any) -> str | None:
    """Why `g` cannot time the job's GEMMs (no bf16/fp16 or requested FP8 units), or None."""
    return _no_path_for(job.precision, g)


@functools.lru_cache(maxsize=4096)
def _no_path_for(precision: str, g: Any) -> str | None:
    """`_no_path` by (precision, GPU), both immutable: the search asks it for every setup of every GPU."""
    from llmsize.speedmodel.efficiency import train_path

    try:
        path = train_path(precision, g)
    except LlmsizeError as e:
        return str(e)
    return None if g.has(path) else f"{g.name} has no {path} units"


def train_tokens_per_s(spec: ModelSpec, job: TrainJob, g: Any, layout: Layout, slowdown: float = 1.0,
                       precision: str | None = None) -> float:
    """Training tokens/s of one setup: the one rate `plan`, `speed` and `cost` all use. The efficiency
    is the engine's achieved one on this GPU (or --mfu) applied to the hardware FLOPs (recomputation
    included), the pipeline bubble outside it, tensor-parallel all-reduces added (`speedmodel.train`).

    tokens/s = n · tokens/s/GPU / slowdown

    Source: narayanan2021"""
    return layout.gpus * _train_rate(spec, job, g, layout, precision=precision).tokens_per_s_per_gpu / slowdown


def plan_train(spec: ModelSpec, job: TrainJob, breakdown: Breakdown, gpu_types: Sequence[Any], *,
               counts: Sequence[int] = DEFAULT_COUNTS, device: Callable[[Any, int], int] | None = None,
               price: Callable[[Any], float | None] | None = None, dtype: str = "bf16",
               tally: Tally | None = None) -> list[Candidate]:
    """Score every GPU type × count × layout for a training job; infeasible ones carry their reason (or,
    given a `tally`, are recorded there and left out of the list: what `plan_report` prints of them)."""
    memo: dict[tuple, GpuMemory] = {}
    out: list[Candidate] = []
    for n in counts:
        layouts = list(train_layouts(spec, job, n))
        if not layouts:
            _unsearched(out, tally, job, gpu_types, n, Layout(dp=n),
                        f"global batch {job.global_batch} not divisible by micro-batch × DP")
            continue
        for lay in layouts:
            problems = layout_problems(spec, lay, seq_len=job.seq_len)
            if problems:
                _unsearched(out, tally, job, gpu_types, n, lay, "; ".join(problems))
                continue
            key = (lay.tp, lay.pp, lay.shard, lay.zero, lay.engine, lay.offload_optimizer, lay.offload_params,
                   min(lay.grad_accum, lay.pp), lay.grad_accum > 1, lay.sequence_parallel, lay.dp > 1,
                   lay.virtual_stages, lay.ep)
            mem = memo.get(key)
            if mem is None:
                mem = memo[key] = train_mem(spec, job, breakdown, lay)
            for g in gpu_types:
                dev = device(g, n) if device else 0
                if tally is not None and tally.full("fit") and (mem.peak_bytes + dev > g.usable
                                                                or (n > 1 and g.unified_memory)):
                    tally.count("fit")  # what `_misfit` rejects, its examples already shown
                    continue
                c = _misfit(job, g, n, lay, mem, dev) or _score_fitting(spec, job, g, n, lay, mem, dev, price, dtype)
                if tally is None or c.kind == "ok":
                    out.append(c)
                else:
                    tally.add_candidate(c)
    return out


def _unsearched(out: list[Candidate], tally: Tally | None, job: TrainJob, gpu_types: Sequence[Any], n: int,
                lay: Layout, reason: str) -> None:
    """Every GPU type rejected as "divisible" for one layout (`lay` shared: a Layout validates when built)."""
    if tally is not None:
        if gpu_types:
            tally.add("divisible", gpu_types[0].name, n, lay, reason)
            tally.count("divisible", len(gpu_types) - 1)  # the same reason: no further example
        return
    out.extend(Candidate(gpu=g, gpus=n, layout=lay, precision=job.precision, kind="divisible", reason=reason)
               for g in gpu_types)


def train_mem(spec: ModelSpec, job: TrainJob, breakdown: Breakdown, lay: Layout) -> GpuMemory:
    """One layout's per-GPU memory: `pergpu.job_memory` (the function `train --gpus` calls), which
    replays FSDP, DDP and TP layouts; a breakdown other than the job's own is placed as given."""
    from llmsize.pergpu import job_memory
    from llmsize.planner import jobs

    own = breakdown == jobs.train_breakdown(spec, job)
    return job_memory(spec, job, lay, breakdown=None if own else breakdown)


def offload(spec: ModelSpec, job: TrainJob, g: Any, n: int, lay: Layout, mem: GpuMemory,
            dtype: str = "bf16") -> tuple[str | None, float, dict[str, Any]]:
    """Offload of one training setup: (why the node cannot hold it, or None; the step's slowdown, 1.0 when
    nothing is offloaded; the details for its JSON row). Offloaded bytes per node are each GPU's times the
    job's GPUs on one node (up to 8), checked against the job's host memory and NVMe capacity; the
    slowdown is `perf.offload_step_time` over the GPU's PCIe link.

    H_node = host bytes per GPU × min(n, 8) ≤ host memory;  NVMe likewise ≤ --nvme

    Source: ren2021"""
    if mem.traffic is None and not mem.host_bytes and not mem.nvme_bytes:
        return None, 1.0, {}
    per_node = min(n, NODE)
    host, nvme = mem.host_bytes * per_node, mem.nvme_bytes * per_node
    info: dict[str, Any] = {"host_bytes_per_node": host, "host_memory_bytes": job.host_memory,
                            "nvme_bytes_per_node": nvme, "nvme_bytes": job.nvme}
    gib = 2**30
    if host > job.host_memory:
        return (f"host memory: offloads {host / gib:,.0f} GiB per node ({per_node} GPU{'s' * (per_node > 1)} × "
                f"{mem.host_bytes / gib:,.1f} GiB), a node has {job.host_memory / gib:,.0f} GiB (--host-memory)",
                1.0, info)
    if nvme and job.nvme is None:
        return (f"NVMe: offloads {nvme / gib:,.0f} GiB per node to NVMe and no NVMe capacity is given (--nvme)",
                1.0, info)
    if nvme and nvme > job.nvme:
        return (f"NVMe: offloads {nvme / gib:,.0f} GiB per node, a node has {job.nvme / gib:,.0f} GiB (--nvme)",
                1.0, info)
    if mem.traffic is None or _no_path(job, g):  # no rate: the caller rejects it for that
        return None, 1.0, info
    if not g.pcie_bw:
        return f"{g.name}: no PCIe bandwidth in the catalogue to time the offload over", 1.0, info
    # one micro-batch's compute on one GPU: its TP/PP/CP share of the tokens at the bubble-free rate
    t_mb = job.micro_batch * job.seq_len / (lay.tp * lay.pp * lay.cp * _train_rate(spec, job, g, lay, pp=1)
                                            .tokens_per_s_per_gpu)
    tr = mem.traffic
    ot = offload_step_time(micro_batch_s=t_mb, micro_batches=lay.grad_accum, forward_share=forward_share(job.recompute),
                           h2d_forward=tr.h2d_forward, h2d_backward=tr.h2d_backward, d2h_backward=tr.d2h_backward,
                           h2d_step=tr.h2d_step, pcie_bw=g.pcie_bw, host_step_bytes=tr.host_step * per_node,
                           host_bw=DEFAULT_HOST_BANDWIDTH)
    info.update(offload_slowdown=ot.slowdown, offload_step={
        "compute_s": ot.compute_s, "step_s": ot.step_s, "forward_s": ot.forward_s, "backward_s": ot.backward_s,
        "upload_s": ot.upload_s, "host_step_s": ot.host_step_s, "link_bytes_per_s": ot.link_bytes_per_s,
        "host_bytes_per_s": DEFAULT_HOST_BANDWIDTH, "h2d_forward_bytes": tr.h2d_forward,
        "h2d_backward_bytes": tr.h2d_backward, "d2h_backward_bytes": tr.d2h_backward, "h2d_step_bytes": tr.h2d_step,
        "host_step_bytes_per_node": tr.host_step * per_node,
        "note": "a lower bound: PCIe transfers and the host's memory-bound optimizer step at peak bandwidth; "
                "host-side gradient accumulation, host bandwidth contention and NVMe are not timed"})
    return None, ot.slowdown, info


def _no_fit(need: int, g: Any) -> str:
    return f"does not fit: needs {need / 2**30:.1f} GiB per GPU, {g.name} has {g.usable / 2**30:.1f} GiB"


def one_device(g: Any, n: int) -> str | None:
    """Why `n` of `g` cannot form one setup: an Apple chip is a whole computer with no GPU-to-GPU link in the
    catalogue to split a model or sync gradients over (serving replicas of one chip each remain possible)."""
    if n > 1 and g.unified_memory:
        return f"{g.name} is one device (unified memory, no GPU-to-GPU link): it cannot be split across {n}"
    return None


def _misfit(job: TrainJob, g: Any, n: int, lay: Layout, mem: GpuMemory, dev: int) -> Candidate | None:
    """The rejection of `g` × `n` before any speed work (one device that cannot be split, or the layout's
    bytes per GPU over its memory), or None. The search calls it first for every GPU, so it stays cheap."""
    budget = g.usable
    need = mem.peak_bytes + dev
    reason = one_device(g, n) if n > 1 else None
    if reason is None and need > budget:
        reason = _no_fit(need, g)
    if reason is None:
        return None
    return Candidate(gpu=g, gpus=n, layout=lay, precision=job.precision, memory=mem, budget=budget - dev, kind="fit",
                     reason=reason)


def _score_train(spec: ModelSpec, job: TrainJob, g: Any, n: int, lay: Layout, mem: GpuMemory,
                 device: Callable[[Any, int], int] | None, price: Callable[[Any], float | None] | None,
                 dtype: str) -> Candidate:
    dev = device(g, n) if device else 0
    return _misfit(job, g, n, lay, mem, dev) or _score_fitting(spec, job, g, n, lay, mem, dev, price, dtype)


def _score_fitting(spec: ModelSpec, job: TrainJob, g: Any, n: int, lay: Layout, mem: GpuMemory, dev: int,
                   price: Callable[[Any], float | None] | None, dtype: str) -> Candidate:
    """A setup whose bytes fit its GPU: host/NVMe offload, compute path, speed, time and cost."""
    c = dict(gpu=g, gpus=n, layout=lay, precision=job.precision, memory=mem, budget=g.usable - dev)
    why, slowdown, info = offload(spec, job, g, n, lay, mem, dtype)
    if why is not None:
        return Candidate(**c, kind="host", reason=why, extra=info)
    why_not = _no_path(job, g)
    if why_not:
        return Candidate(**c, kind="fit", reason=why_not)
    tps = train_tokens_per_s(spec, job, g, lay, slowdown)
    c["extra"] = info
    seconds = run_seconds(job.tokens, tps, job.goodput) if job.tokens else None
    usd = None
    p = price(g) if price else None
    if seconds is not None and p is not None:
        usd = n * seconds / 3600 * p
    if job.max_days is not None and seconds is not None and seconds > job.max_days * 86400:
        return Candidate(**c, tokens_per_s=tps, seconds=seconds, usd=usd, kind="slow",
                         reason=f"too slow: {seconds / 86400:.1f} days > {job.max_days:g}")
    return Candidate(**c, tokens_per_s=tps, seconds=seconds, usd=usd)


def rank(cands: Iterable[Candidate], *, by: str = "auto") -> list[Candidate]:
    """Feasible candidates, cheapest first (costs within 0.1% tie; ties go to fewer GPUs, then the faster, then,
    serving at a request rate where every setup that keeps up serves the same tokens/s, the shorter TTFT)."""
    ok = [c for c in cands if c.kind == "ok"]
    if by not in ("auto", "cost", "time", "gpus"):
        raise LlmsizeError(f"rank by cost, time or gpus, not {by!r}")

    def key(c: Candidate) -> tuple:
        cost = c.usd if c.usd is not None else math.inf
        speed = -c.tokens_per_s
        if by == "gpus":
            return (c.gpus, speed, -c.headroom)
        if by == "time":
            return (speed, cost, c.gpus, -c.headroom)
        offload = c.layout.offload_optimizer != "none" or c.layout.offload_params != "none"
        # costs within 0.1% tie (linear scaling gives equal costs at every count): ties go to fewer GPUs
        bucket = round(math.log(cost), 3) if 0 < cost < math.inf else cost
        seconds = c.seconds if c.seconds is not None else math.inf  # serving: TTFT; training: run time
        return (bucket, c.gpus, speed, seconds, offload, -c.headroom)

    return sorted(ok, key=key)


# the serving search lives in planner.serve_search; its names stay importable from here
from llmsize.planner.serve_search import plan_serve, replica_speed, serve_layouts  # noqa: E402,F401
