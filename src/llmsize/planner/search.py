"""The planner's search: every GPU type × count × parallel layout, scored analytically.

One memory breakdown per job (the memory model runs once, not per candidate); each layout's bytes per
GPU come from `llmsize.parallel.per_gpu`, memoised on what changes them (TP, PP, shard group, ZeRO
stage, engine, in-flight micro-batches), so thousands of candidates cost milliseconds.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmsize.cost import usd_per_million_tokens
from llmsize.errors import LlmsizeError
from llmsize.parallel import Breakdown, GpuMemory, Layout, layout_problems, per_gpu
from llmsize.perf import forward_share, offload_step_time, serve_speed, train_flops_per_token
from llmsize.planner.jobs import DEFAULT_HOST_BANDWIDTH, ServeJob, TrainJob
from llmsize.spec import ModelSpec

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
    for tp in _divisors(gpus, min(NODE, gpus)):
        for pp in _divisors(gpus // tp, spec.num_layers):
            dp = gpus // (tp * pp)
            if job.global_batch % (job.micro_batch * dp):
                continue
            m = job.global_batch // (job.micro_batch * dp)
            base = dict(tp=tp, pp=pp, dp=dp, micro_batch=job.micro_batch, grad_accum=m)
            if tp == 1 and pp == 1:
                yield Layout(engine="ddp", **base)
                for z in (1, 2, 3):
                    yield Layout(engine="deepspeed", zero=z, **base)
                yield Layout(engine="fsdp", zero=3, fsdp="full_shard", **base)
                yield Layout(engine="deepspeed", zero=3, offload_optimizer="cpu", **base)
                if gpus <= NODE:
                    yield Layout(engine="deepspeed", zero=3, offload_optimizer="cpu", offload_params="cpu", **base)
            else:
                yield Layout(engine="megatron", zero=1 if dp > 1 else 0, sequence_parallel=tp > 1, **base)


def _bubble(layout: Layout) -> float:
    """Share of a 1F1B step the pipeline computes: m / (m + p − 1) (Narayanan et al. 2021, eq. 1)."""
    m, p = layout.grad_accum, layout.pp
    return m / (m + p - 1)


def with_steps(job: TrainJob, layout: Layout) -> Layout:
    """`layout` with the job's micro-batch and the micro-batches per step its data-parallel width leaves
    (global batch / (micro-batch × DP)); refuses a global batch they do not divide, as the search does."""
    from dataclasses import replace

    if job.global_batch % (job.micro_batch * layout.dp):
        raise LlmsizeError(f"global batch {job.global_batch} is not divisible by micro-batch {job.micro_batch} × "
                           f"DP {layout.dp}")
    return replace(layout, micro_batch=job.micro_batch,
                   grad_accum=job.global_batch // (job.micro_batch * layout.dp))


def train_tokens_per_s(job: TrainJob, g: Any, layout: Layout, flops_tok: float, slowdown: float = 1.0,
                       dtype: str = "bf16") -> float:
    """Training tokens/s of one setup: the one rate `plan`, `speed` and `cost` all use.

    tokens/s = n·X·MFU·m/(m + p − 1) / (slowdown · C),  C the FLOPs per token

    Source: narayanan2021"""
    return layout.gpus * g.peak_flops(dtype) * job.mfu * _bubble(layout) / slowdown / flops_tok


def plan_train(spec: ModelSpec, job: TrainJob, breakdown: Breakdown, gpu_types: Sequence[Any], *,
               counts: Sequence[int] = DEFAULT_COUNTS, device: Callable[[Any, int], int] | None = None,
               price: Callable[[Any], float | None] | None = None, dtype: str = "bf16") -> list[Candidate]:
    """Score every GPU type × count × layout for a training job; infeasible ones carry their reason."""
    memo: dict[tuple, GpuMemory] = {}
    out: list[Candidate] = []
    flops_tok = sum(t.value for t in train_flops_per_token(spec, job.seq_len, recompute=job.recompute))
    for n in counts:
        layouts = list(train_layouts(spec, job, n))
        if not layouts:
            for g in gpu_types:
                out.append(Candidate(gpu=g, gpus=n, layout=Layout(dp=n), precision=job.precision, kind="divisible",
                                     reason=f"global batch {job.global_batch} not divisible by micro-batch × DP"))
            continue
        for lay in layouts:
            problems = layout_problems(spec, lay, seq_len=job.seq_len)
            if problems:
                for g in gpu_types:
                    out.append(Candidate(gpu=g, gpus=n, layout=lay, precision=job.precision, kind="divisible",
                                         reason="; ".join(problems)))
                continue
            key = (lay.tp, lay.pp, lay.shard, lay.zero, lay.engine, lay.offload_optimizer, lay.offload_params,
                   min(lay.grad_accum, lay.pp), lay.grad_accum > 1, lay.sequence_parallel, lay.dp > 1)
            mem = memo.get(key)
            if mem is None:
                mem = memo[key] = train_mem(spec, job, breakdown, lay)
            for g in gpu_types:
                out.append(_score_train(spec, job, g, n, lay, mem, flops_tok, device, price, dtype))
    return out


def train_mem(spec: ModelSpec, job: TrainJob, breakdown: Breakdown, lay: Layout) -> GpuMemory:
    """One layout's per-GPU memory: `pergpu.job_memory` (the function `train --gpus` calls), which
    replays FSDP, DDP and TP layouts; a breakdown other than the job's own is placed as given."""
    from llmsize.pergpu import job_memory
    from llmsize.planner import jobs

    own = breakdown == jobs.train_breakdown(spec, job)
    return job_memory(spec, job, lay, breakdown=None if own else breakdown)


def offload(job: TrainJob, g: Any, n: int, lay: Layout, mem: GpuMemory, flops_tok: float,
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
    if mem.traffic is None or not g.has(dtype):  # no rate: the caller rejects it for that
        return None, 1.0, info
    if not g.pcie_bw:
        return f"{g.name}: no PCIe bandwidth in the catalogue to time the offload over", 1.0, info
    # one micro-batch's compute on one GPU: its TP/PP/CP share of the FLOPs
    t_mb = job.micro_batch * job.seq_len * flops_tok / (lay.tp * lay.pp * lay.cp * g.peak_flops(dtype) * job.mfu)
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


def _score_train(spec: ModelSpec, job: TrainJob, g: Any, n: int, lay: Layout, mem: GpuMemory, flops_tok: float,
                 device: Callable[[Any, int], int] | None, price: Callable[[Any], float | None] | None,
                 dtype: str) -> Candidate:
    dev = device(g, n) if device else 0
    need = mem.peak_bytes + dev
    budget = g.usable
    c = dict(gpu=g, gpus=n, layout=lay, precision=job.precision, memory=mem, budget=budget - dev)
    if need > budget:
        return Candidate(**c, kind="fit", reason=f"does not fit: needs {need / 2**30:.1f} GiB per GPU, "
                                                 f"{g.name} has {budget / 2**30:.1f} GiB")
    why, slowdown, info = offload(job, g, n, lay, mem, flops_tok, dtype)
    if why is not None:
        return Candidate(**c, kind="host", reason=why, extra=info)
    if not g.has(dtype):
        return Candidate(**c, kind="fit", reason=f"{g.name} has no {dtype} units")
    tps = train_tokens_per_s(job, g, lay, flops_tok, slowdown, dtype)
    c["extra"] = info
    seconds = job.tokens / tps if job.tokens else None
    usd = None
    p = price(g) if price else None
    if seconds is not None and p is not None:
        usd = n * seconds / 3600 * p
    if job.max_days is not None and seconds is not None and seconds > job.max_days * 86400:
        return Candidate(**c, tokens_per_s=tps, seconds=seconds, usd=usd, kind="slow",
                         reason=f"too slow: {seconds / 86400:.1f} days > {job.max_days:g}")
    return Candidate(**c, tokens_per_s=tps, seconds=seconds, usd=usd)


def serve_layouts(spec: ModelSpec, max_gpus: int) -> Iterable[Layout]:
    """One replica: TP inside a node (vLLM --tensor-parallel-size), PP across nodes."""
    for tp in (1, 2, 4, 8):
        for pp in (1, 2, 4, 8, 16):
            if tp * pp <= max_gpus and pp <= spec.num_layers:
                yield Layout(tp=tp, pp=pp, engine="ddp")


def plan_serve(spec: ModelSpec, job: ServeJob, breakdown: Breakdown, gpu_types: Sequence[Any], *,
               max_gpus: int = 1024, device: Callable[[Any, int], int] | None = None,
               price: Callable[[Any], float | None] | None = None) -> list[Candidate]:
    """Score every GPU type × replica layout × replica count for serving `job`: memory under
    gpu_memory_utilization, roofline speed, replicas to reach min_tokens_per_s, $ per 1M tokens."""
    out: list[Candidate] = []
    for lay in serve_layouts(spec, max_gpus):
        problems = layout_problems(spec, lay)
        mem = None if problems else per_gpu(spec, breakdown, lay)
        for g in gpu_types:
            n = lay.tp * lay.pp
            base = dict(gpu=g, gpus=n, layout=lay, precision=job.weights)
            if problems:
                out.append(Candidate(**base, kind="divisible", reason="; ".join(problems)))
                continue
            assert mem is not None
            dev = device(g, n) if device else 0
            budget = int(g.usable * job.gpu_memory_utilization) - dev
            if mem.peak_bytes > budget:
                out.append(Candidate(**base, memory=mem, budget=budget, kind="fit",
                                     reason=f"does not fit: needs {(mem.peak_bytes + dev) / 2**30:.1f} GiB per GPU, "
                                            f"{job.gpu_memory_utilization:g} × {g.name} = "
                                            f"{g.usable * job.gpu_memory_utilization / 2**30:.1f} GiB"))
                continue
            if not g.bandwidth or not g.has("bf16" if job.weights not in ("fp16",) else "fp16"):
                out.append(Candidate(**base, memory=mem, budget=budget, kind="fit",
                                     reason=f"{g.name}: no bandwidth or 16-bit FLOP/s figure to time it"))
                continue
            sp = replica_speed(spec, job, breakdown, g, lay, mem)
            replicas = max(1, math.ceil(job.min_tokens_per_s / sp.decode_tokens_per_s)) if job.min_tokens_per_s else 1
            total = replicas * n
            extra = {"replicas": replicas, "ttft_s": sp.ttft_s, "tpot_s": sp.tpot_s,
                     "prefill_tokens_per_s": sp.prefill_tokens_per_s * replicas, "bound": sp.decode_bound}
            p = price(g) if price else None
            usd_out = usd_per_million_tokens(sp.decode_tokens_per_s, n, p) if p else None
            usd_in = usd_per_million_tokens(sp.prefill_tokens_per_s, n, p) if p else None
            row = dict(base, gpus=total, memory=mem, budget=budget, tokens_per_s=sp.decode_tokens_per_s * replicas,
                       seconds=sp.ttft_s, usd=usd_out, usd_in=usd_in, extra=extra)
            if total > max_gpus:
                out.append(Candidate(**row, kind="slow", reason=f"too slow: {replicas} replicas × {n} GPUs needed "
                                                                f"for {job.min_tokens_per_s:g} tokens/s"))
                continue
            out.append(Candidate(**row))
    return out


def replica_speed(spec: ModelSpec, job: ServeJob, breakdown: Breakdown, g: Any, lay: Layout, mem: GpuMemory) -> Any:
    """Roofline speed of one TP × PP replica (`perf.serve_speed`): each GPU reads its weights and its share
    of the KV cache (its stage's layers × its KV heads) per decode step. `plan` and `speed` both use it."""
    w_gpu = sum(t.value for t in mem.terms if t.name == "weights")
    kv_tok_gpu = breakdown.kv_cache / max(job.concurrency * job.context, 1) * _kv_share(spec, lay)
    return serve_speed(spec, weights_per_gpu=w_gpu, kv_bytes_per_token_gpu=kv_tok_gpu, tp=lay.tp, pp=lay.pp,
                       peak_flops=g.peak_flops("bf16"), bandwidth=g.bandwidth, batch=job.concurrency,
                       prompt_len=job.prompt_len, output_len=job.output_len, prefill_mfu=job.prefill_mfu,
                       mbu=job.mbu)


def _kv_share(spec: ModelSpec, lay: Layout) -> float:
    """Share of the KV cache one GPU holds: its stage's layers × its KV heads."""
    from llmsize.parallel import placement

    P = placement(spec, lay.tp, lay.pp, lay.ep)
    return max(P.layers) / spec.num_layers * P.kv_fraction


def rank(cands: Iterable[Candidate], *, by: str = "auto") -> list[Candidate]:
    """Feasible candidates, cheapest first (then fastest, fewest GPUs, most headroom)."""
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
        return (cost, c.gpus if cost == math.inf else 0, speed, offload, -c.headroom)

    return sorted(ok, key=key)
