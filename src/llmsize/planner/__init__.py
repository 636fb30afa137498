"""The planner: which GPU type, how many, which parallel layout and precision; the inverse questions;
speed and cost side by side. The `*_report` functions return what `--json` prints, so the CLI and
the web API give the same numbers."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmsize.cost import price_for
from llmsize.errors import LlmsizeError
from llmsize.parallel import Breakdown
from llmsize.planner import jobs
from llmsize.planner.jobs import ServeJob, TrainJob
from llmsize.planner.search import DEFAULT_COUNTS, Candidate, plan_serve, plan_train, rank
from llmsize.planner.tally import Tally
from llmsize.sources import SOURCES
from llmsize.spec import ModelSpec

__all__ = ["ServeJob", "TrainJob", "candidate_row", "gpu_list", "layout_row", "plan_report", "resolve_gpus"]


def resolve_gpus(names: Sequence[str] | None) -> list[Any]:
    """GPUs by name (did-you-mean on a typo); all catalogued ones when none are named."""
    from llmsize.catalog.hardware import gpus, parse_gpu

    if not names:
        return list(gpus())
    return [parse_gpu(n) for n in names]


def _pricer(overrides: dict[str, float] | None):
    cache: dict[str, float | None] = {}

    def price(g: Any) -> float | None:
        if g.name not in cache:
            given = (overrides or {}).get(g.name)
            p = price_for(g.name, given) if given is not None or g.vendor != "custom" else None
            cache[g.name] = p.usd_per_gpu_hour if p else None
        return cache[g.name]

    return price


def _device_fn(serving: bool, engine: str | None = None):
    """The per-GPU runtime overhead as the search's device(gpu, count) callback: the same for every GPU."""
    cache: list[int] = []

    def device(g: Any, n: int) -> int:
        if not cache:
            try:
                cache.append(jobs.device_bytes(serving=serving, engine=engine))
            except LlmsizeError:
                cache.append(0)
        return cache[0]

    return device


def candidate_row(c: Candidate) -> dict[str, Any]:
    """One setup as JSON: GPU, count, layout, precision, memory per GPU, headroom, speed, time, cost."""
    row: dict[str, Any] = {"gpu": c.gpu.name, "gpus": c.gpus, "layout": c.layout.label(),
                           "tp": c.layout.tp, "pp": c.layout.pp, "dp": c.layout.dp, "cp": c.layout.cp,
                           "ep": c.layout.ep, "engine": c.layout.engine, "zero": c.layout.zero, "fsdp": c.layout.fsdp,
                           "offload_optimizer": c.layout.offload_optimizer, "offload_params": c.layout.offload_params,
                           "precision": c.precision}
    if c.layout.fsdp == "hybrid_shard":
        row["shard_group"] = c.layout.shard
    if c.memory is not None:
        row.update(memory_per_gpu_bytes=c.memory.peak_bytes, budget_bytes=c.budget, headroom_bytes=c.headroom,
                   stage=c.memory.stage, host_bytes=c.memory.host_bytes,
                   terms=[{"name": t.name, "bytes": t.value, "formula": t.formula, "source": t.source}
                          for t in c.memory.terms])
    row.update(tokens_per_s=c.tokens_per_s or None, seconds=c.seconds, usd=c.usd, usd_per_1m_input=c.usd_in,
               **c.extra)
    if c.reason:
        row.update(rejected=c.kind, reason=c.reason)
    return row


def plan_report(spec: ModelSpec, job: TrainJob | ServeJob, *, gpu_names: Sequence[str] | None = None,
                counts: Sequence[int] | None = None, max_gpus: int = 1024, prices: dict[str, float] | None = None,
                top: int = 20, breakdown: Breakdown | None = None, by: str = "auto") -> dict[str, Any]:
    """Everything `llmsize plan --json` prints: ranked feasible setups and why the others were rejected."""
    gpu_types = resolve_gpus(gpu_names)
    if max_gpus < 1 or max_gpus > 1 << 20:
        raise LlmsizeError(f"max GPUs must be between 1 and {1 << 20}, got {max_gpus}")
    serving = isinstance(job, ServeJob)
    price = _pricer(prices)
    device = _device_fn(serving, job.engine if serving else None)  # type: ignore[union-attr]
    tally = Tally()
    if serving:
        bd = breakdown or jobs.serve_breakdown(spec, job)
        cands = plan_serve(spec, job, breakdown, gpu_types, max_gpus=max_gpus, device=device, price=price)
    else:
        bd = breakdown or jobs.train_breakdown(spec, job)
        cs = [n for n in (counts or DEFAULT_COUNTS) if n <= max_gpus]
        # rejections go straight to the tally: ~50,000 of them over the catalogue, only counted and sampled
        cands = plan_train(spec, job, bd, gpu_types, counts=cs, device=device, price=price, tally=tally)
    ranked = rank(cands, by=by)
    for c in cands:
        if c.kind != "ok":
            tally.add_candidate(c)
    keys = {"rajbhandari2020", "korthikanti2022", "narayanan2021", "kwon2023" if serving else "chowdhery2022",
            "pope2022" if serving else "dubey2024"}
    extra: dict[str, Any] = {}
    if not serving:
        from llmsize.speedmodel.train import goodput_term

        extra["goodput"] = goodput_term(job.goodput)  # type: ignore[union-attr]
        unbounded = unbounded_time_note(job, ranked)  # type: ignore[arg-type]
        if unbounded:
            extra["note"] = unbounded
    elif job.request_rate is None and not job.offline:  # type: ignore[union-attr]
        extra["note"] = batch_note(job)  # type: ignore[arg-type]
    elif job.offline:  # type: ignore[union-attr]
        extra["note"] = ("batch max: every request queued at once; memory per GPU holds the weights and one "
                         "request (the engine fills its headroom with KV cache), tokens/s is the saturated rate, "
                         "TTFT a request's once admitted (its wait in the queue comes first)")
    return {"model": spec.name, "mode": "serve" if serving else "train", "job": _job_dict(job), **extra,
            "searched": len([c for c in cands if c.kind == "ok"]) + tally.total, "feasible": len(ranked),
            "setups": [candidate_row(c) for c in ranked[:top]],
            "rejected": {"counts": tally.counts, "examples": tally.examples},
            "breakdown": {k: getattr(bd, k) for k in ("weights", "gradients", "optimizer", "master_weights",
                                                       "activations", "transient", "kv_cache")},
            "citations": {k: SOURCES[k] for k in sorted(keys)}}


def unbounded_time_note(job: TrainJob, ranked: Sequence[Candidate]) -> str | None:
    """Said when a training plan with no time bound ranks a setup that takes far longer than the fastest
    feasible one: cost ranks first and linear scaling makes every count cost about the same, so the cheapest
    is the fewest GPUs whatever the years it takes; the note names the fastest and --max-days."""
    if job.max_days is not None or not job.tokens or not ranked or ranked[0].seconds is None:
        return None
    fast = min((c for c in ranked if c.seconds is not None), key=lambda c: (c.seconds, c.gpus))
    if ranked[0].seconds < 1.5 * fast.seconds:  # type: ignore[operator]
        return None

    def span(seconds: float) -> str:
        days = seconds / 86400
        return f"{days:,.1f} days" if days < 730 else f"{days / 365.25:,.1f} years"

    cost = f", {(fast.usd / ranked[0].usd - 1) * 100:+.1f}% cost" if fast.usd and ranked[0].usd else ""
    return (f"no time bound: ranked by cost, and linear scaling makes most GPU counts cost the same, so ties go to "
            f"fewer GPUs: the first takes {span(ranked[0].seconds)}, the fastest here "  # type: ignore[arg-type]
            f"{span(fast.seconds)} ({fast.gpus} × {fast.gpu.name} {fast.layout.label()}{cost}); a time limit "
            "(--max-days) keeps only the setups that finish within it")


def batch_note(job: ServeJob) -> str:
    """What a serving table at a fixed batch is the rate of: that many requests in flight per replica (the
    default is 1, a lone user's), said because $/1M at batch 1 is tens of times a busy server's."""
    c = int(job.concurrency)
    return (f"batch {c}: {c} request{'s' * (c > 1)} in flight per replica, tokens/s and $/1M at that load "
            "(batch max, or a request rate, gives a busier server's)")


def layout_row(spec: ModelSpec, job: TrainJob, gpu_name: str, layout: Any) -> dict[str, Any]:
    """One given training layout scored as the search scores its own (`plan_report` rows): its memory per GPU
    from `pergpu.job_memory` with the job's micro-batch and the accumulation its DP leaves, the GPU's budget,
    offload to the node's host memory / NVMe, speed and cost. A layout the search does not enumerate (FSDP
    hybrid_shard with its shard group, parameter offload on more than one node) is judged the same way."""
    from llmsize.parallel import layout_problems
    from llmsize.pergpu import job_memory
    from llmsize.planner.search import _score_train, with_steps

    g = resolve_gpus([gpu_name])[0]
    lay = with_steps(job, layout)
    problems = layout_problems(spec, lay, seq_len=job.seq_len)
    if problems:
        return candidate_row(Candidate(gpu=g, gpus=lay.gpus, layout=lay, precision=job.precision, kind="divisible",
                                       reason="; ".join(problems)))
    mem = job_memory(spec, job, lay)
    return candidate_row(_score_train(spec, job, g, lay.gpus, lay, mem, _device_fn(False), _pricer(None), "bf16"))


def _job_dict(job: TrainJob | ServeJob) -> dict[str, Any]:
    return {k: getattr(job, k) for k in job.__dataclass_fields__}


def gpu_list(search: str | None = None) -> dict[str, Any]:
    """The GPU catalog with each type's cheapest published price (`llmsize gpus --json`)."""
    from llmsize.catalog.hardware import cheapest_price, gpus
    from llmsize.speedmodel.efficiency import sixteen_bit

    rows = []
    for g in gpus():
        if search and search.lower() not in (g.name + " " + " ".join(g.aliases)).lower():
            continue
        p = cheapest_price(g.name)
        path = "bf16" if g.has("bf16") else sixteen_bit(g)  # what 16-bit work is timed on (fp16: T4; fp32: P40)
        rows.append({"name": g.name, "vendor": g.vendor, "arch": g.arch, "memory_bytes": g.memory_bytes,
                     "usable_bytes": g.usable, "usable_origin": g.usable_origin,
                     "bandwidth_bytes_per_s": g.bandwidth, "bf16_flops": g.flops.get("bf16"),
                     "sixteen_bit_path": path, "sixteen_bit_flops": g.peak_flops(path) if g.has(path) else None,
                     "fp8_flops": g.flops.get("fp8"), "fp4_flops": g.flops.get("fp4"),
                     "interconnect_bytes_per_s": g.interconnect_bw,
                     "tdp_watts": g.tdp_watts, "usd_per_gpu_hour": p.usd_per_gpu_hour if p else None,
                     "price_provider": p.provider if p else None, "source": g.source})
    return {"gpus": rows}

