"""The planner's serving search: every GPU type × replica layout (TP inside a node, PP across nodes) ×
replica count, each replica timed by `speedmodel.predict.serve` (continuous batching), with latency
targets (--ttft, --tpot) and $ per 1M tokens that include each request's prefill.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from llmsize.catalog.hardware import engine_problem
from llmsize.cost import usd_per_million_tokens
from llmsize.errors import LlmsizeError, Overloaded
from llmsize.parallel import Breakdown, GpuMemory, Layout, layout_problems
from llmsize.planner.jobs import OWN_MEMORY_ENGINES, ServeJob, device_bytes, profile_run
from llmsize.planner.search import Candidate, one_device
from llmsize.planner.serve_memory import budget as memory_budget
from llmsize.planner.serve_memory import budget_text, serve_memory
from llmsize.spec import ModelSpec


def serve_layouts(spec: ModelSpec, max_gpus: int, engine: str = "vllm") -> Iterable[Layout]:
    """One replica: TP inside a node (vLLM --tensor-parallel-size), PP across nodes. llama.cpp: one
    llama-server on one node, its layers split over 1, 2, 4 or 8 GPUs (-sm layer, the split whose buffers
    llmsize models and llama.cpp's --fit sizes)."""
    if engine == "llama.cpp":
        for pp in (1, 2, 4, 8):
            if pp <= max_gpus and pp <= spec.num_layers:
                yield Layout(pp=pp, engine="ddp")
        return
    for tp in (1, 2, 4, 8):
        for pp in (1, 2, 4, 8, 16):
            if tp * pp <= max_gpus and pp <= spec.num_layers:
                yield Layout(tp=tp, pp=pp, engine="ddp")


def plan_serve(spec: ModelSpec, job: ServeJob, breakdown: Breakdown | None, gpu_types: Sequence[Any], *,
               max_gpus: int = 1024, device: Callable[[Any, int], int] | None = None,
               price: Callable[[Any], float | None] | None = None) -> list[Candidate]:
    """Score every GPU type × replica layout × replica count for serving `job`: memory under
    gpu_memory_utilization, roofline speed, replicas to reach min_tokens_per_s, $ per 1M tokens. Without a
    `breakdown`, each GPU type's is the job's with the profile run the engine sizes for that GPU."""
    out: list[Candidate] = []
    for lay in serve_layouts(spec, max_gpus, job.engine):
        problems = layout_problems(spec, lay)
        mems: dict[Any, GpuMemory] = {}  # per profile run (vLLM's differs by GPU size)
        for g in gpu_types:
            mem = None
            if not problems:
                key = profile_run(job, g) if breakdown is None else None
                if key not in mems:
                    mems[key] = serve_memory(spec, job, lay, breakdown=breakdown, gpu=g)
                mem = mems[key]
            n = lay.tp * lay.pp
            base = dict(gpu=g, gpus=n, layout=lay, precision=job.weights)
            if problems:
                out.append(Candidate(**base, kind="divisible", reason="; ".join(problems)))
                continue
            unsupported = engine_problem(job.engine, g)
            if unsupported:
                out.append(Candidate(**base, kind="engine", reason=unsupported))
                continue
            alone = one_device(g, n)
            if alone:
                out.append(Candidate(**base, kind="fit", reason=alone))
                continue
            assert mem is not None
            dev = device(g, n) if device else 0
            budget = memory_budget(job, g, lay, mem, dev) - dev
            if mem.peak_bytes > budget:
                out.append(Candidate(**base, memory=mem, budget=budget, kind="fit",
                                     reason=f"does not fit: needs {(mem.peak_bytes + dev) / 2**30:.1f} GiB per GPU, "
                                            f"{budget_text(job, g, lay)}"))
                continue
            if not g.bandwidth or not any(g.has(d) for d in ("bf16", "fp16", "fp32")):
                out.append(Candidate(**base, memory=mem, budget=budget, kind="fit",
                                     reason=f"{g.name}: no bandwidth or bf16/fp16/fp32 FLOP/s figure to time it"))
                continue
            try:
                sp = replica_speed(spec, job, breakdown, g, lay, mem)
            except Overloaded as e:  # a request rate past what the replica serves: a speed limit, not memory
                out.append(Candidate(**base, memory=mem, budget=budget, kind="slow", reason=str(e)))
                continue
            except LlmsizeError as e:
                out.append(Candidate(**base, memory=mem, budget=budget, kind="fit", reason=str(e)))
                continue
            out_tps = sp.output_tokens_per_s
            replicas = max(1, math.ceil(job.min_tokens_per_s / out_tps)) if job.min_tokens_per_s else 1
            total = replicas * n
            extra = {"replicas": replicas, "ttft_s": sp.ttft_s, "tpot_s": sp.tpot_s,
                     "prefill_tokens_per_s": sp.input_tokens_per_s * replicas, "bound": sp.bound,
                     "efficiency_key": sp.efficiency.key}
            p = price(g) if price else None
            # the throughput for cost includes each request's prefill: $/1M out charges all the GPU time to the
            # output tokens, $/1M in all of it to the input tokens processed alongside (two views of one bill,
            # not prices to add: a request costs S_out·$out or S_in·$in, not both)
            usd_out = usd_per_million_tokens(out_tps, n, p) if p else None
            usd_in = usd_per_million_tokens(sp.input_tokens_per_s, n, p) if p else None
            row = dict(base, gpus=total, memory=mem, budget=budget, tokens_per_s=out_tps * replicas,
                       seconds=sp.ttft_s, usd=usd_out, usd_in=usd_in, extra=extra)
            if total > max_gpus:
                out.append(Candidate(**row, kind="slow", reason=f"too slow: {replicas} replicas × {n} GPUs needed "
                                                                f"for {job.min_tokens_per_s:g} tokens/s"))
                continue
            late = _latency_miss(job, sp)
            if late:
                out.append(Candidate(**row, kind="slow", reason=late))
                continue
            out.append(Candidate(**row))
    return out


def latency_misses(job: ServeJob, sp: Any) -> list[str]:
    """Each latency target of the job (--ttft, --tpot) that a replica's speed `sp` misses, said with both
    numbers; empty when it meets them."""
    ttft, tpot = job.max_ttft_s, job.max_tpot_s
    return [m for m in (ttft is not None and sp.ttft_s > ttft and f"TTFT {sp.ttft_s:.3g} s > {ttft:g} s (--ttft)",
                        tpot is not None and sp.tpot_s > tpot
                        and f"TPOT {sp.tpot_s * 1000:.3g} ms > {tpot * 1000:g} ms (--tpot)") if m]


def _latency_miss(job: ServeJob, sp: Any) -> str | None:
    """Why a replica misses the job's latency targets (the first of `latency_misses`), or None."""
    misses = latency_misses(job, sp)
    return f"too slow: {misses[0]}" if misses else None


def replica_speed(spec: ModelSpec, job: ServeJob, breakdown: Breakdown | None, g: Any, lay: Layout,
                  mem: GpuMemory) -> Any:
    """Continuous-batching speed of one TP × PP replica serving `job.concurrency` requests at once
    (`speedmodel.predict.serve`), or `job.request_rate` requests/s arriving (queueing: median and p90
    TTFT/TPOT): its output tokens/s counts each request's prefill, TTFT is a request's
    own, and the efficiency is the engine's fitted one unless --mbu / --prefill-efficiency are given.
    `plan`, `speed` and `cost` all use it; the engine schedules prompts as today's release does
    (`speedmodel.scheduling`). An engine with no build for the GPU is refused. Returns a `Serving`."""
    unsupported = engine_problem(job.engine, g)
    if unsupported:
        raise LlmsizeError(unsupported)
    from llmsize.speedmodel.scheduling import mixed_prefill, static_batch
    from llmsize.speedmodel.serving import serve

    return serve(spec, g, engine=job.engine, weights=job.weights, kv_dtype=job.kv_dtype, prompt=job.prompt_len,
                 output=job.output_len, concurrency=job.concurrency, request_rate=job.request_rate, tp=lay.tp,
                 pp=lay.pp, ep=lay.ep,
                 gpu_memory_utilization=memory_budget(job, g, lay) / g.usable, mbu=job.mbu,
                 prefill_efficiency=job.prefill_mfu,
                 mixed_prefill=mixed_prefill(job.engine, spec, max_model_len=job.max_model_len),
                 kv_free_bytes=paged_kv_bytes(spec, job, g, lay), static_batch=static_batch(job.engine))


def paged_kv_bytes(spec: ModelSpec, job: ServeJob, g: Any, lay: Layout) -> int | None:
    """A paged-KV engine's KV bytes per GPU as `fit --find concurrency` counts them (`fit.kv_free_bytes`: what
    the engine's own rule leaves of its share of the GPU after the weights, and for vLLM and TensorRT-LLM the
    activation peak and runtime), so the batch `speed` and `plan` time is one `fit` and `export` say fits;
    None for llama.cpp and transformers, which allocate their own (their batch is the one asked)."""
    if job.engine in OWN_MEMORY_ENGINES:
        return None
    from llmsize.planner import fit

    try:
        dev = device_bytes(serving=True, engine=job.engine)
    except LlmsizeError:  # no device model in this build: the tensors' bytes only
        dev = 0
    return fit.kv_free_bytes(spec, job, g, lay, dev)
