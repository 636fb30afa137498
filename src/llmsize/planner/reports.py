"""`--json` of `llmsize fit`, `speed` and `cost`: library functions, so the web API gives the same numbers."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmsize.cost import price_for, training_cost, usd_per_million_tokens
from llmsize.errors import LlmsizeError
from llmsize.parallel import Layout, check_layout, per_gpu
from llmsize.pergpu import job_memory
from llmsize.planner import _device_fn, batch_note, candidate_row, plan_report, resolve_gpus
from llmsize.planner import fit as fitmod
from llmsize.planner import jobs
from llmsize.planner.jobs import ServeJob, TrainJob
from llmsize.planner.search import _bubble, _train_rate, replica_speed, train_tokens_per_s, with_steps
from llmsize.planner.serve_search import latency_misses
from llmsize.sources import SOURCES
from llmsize.spec import ModelSpec
from llmsize.speedmodel.train import goodput_term, run_seconds

FIND = ("gpus", "batch", "context", "concurrency", "cheapest")


def fit_report(spec: ModelSpec, job: TrainJob | ServeJob, gpu_name: str, layout: Layout, *,
               find: Sequence[str] | None = None, prices: dict[str, float] | None = None,
               trained: int | None = None) -> dict[str, Any]:
    """The inverse questions for one GPU type (and a layout for batch/context/concurrency); `find` None asks
    every one that applies (concurrency, vLLM's KV-block arithmetic, not for an engine that allocates its own
    memory: llama.cpp's -np slots and transformers' batch are --find batch's answer). `trained`: the model's
    context limit (`context.context_limit`), the most the longest context is searched to."""
    if find is None:  # concurrency: vLLM's KV blocks, a question of the paged-KV serving engines only
        paged = isinstance(job, ServeJob) and job.engine not in jobs.OWN_MEMORY_ENGINES
        find = tuple(f for f in FIND if paged or f != "concurrency")
    bad = [f for f in find if f not in FIND]
    if bad:
        raise LlmsizeError(f"unknown question(s) {', '.join(bad)} (known: {', '.join(FIND)})")
    gpu = resolve_gpus([gpu_name])[0]
    serving = isinstance(job, ServeJob)
    if "concurrency" in find and not serving:
        raise LlmsizeError("concurrency (requests in flight in the KV cache) is a serving question: ask it "
                           "without --train; training's is batch")
    check_layout(spec, layout)
    dev = _device_fn(serving, job.engine if serving else None)  # type: ignore[union-attr]
    out: dict[str, Any] = {"model": spec.name, "gpu": gpu.name, "layout": layout.label(),
                           "mode": "serve" if serving else "train"}
    if not serving and (layout.offload_optimizer != "none" or layout.offload_params != "none"):
        assert isinstance(job, TrainJob)
        out["offload"] = _offload(spec, job, gpu, layout)
    if "gpus" in find:
        rep = plan_report(spec, job, gpu_names=[gpu.name], prices=prices, by="gpus", top=1)
        out["fewest_gpus"] = rep["setups"][0] if rep["setups"] else None
    if "batch" in find:
        out["largest_batch"] = fitmod.largest_batch(spec, job, gpu, layout, device=dev)
        cap = fitmod.llamacpp_slots(job) if serving else None
        if cap is not None and out["largest_batch"] == cap:
            out["note"] = (f"{cap} is llama.cpp's limit on parallel slots of this context (-np at most "
                           f"{fitmod.LLAMACPP_SLOTS}, LLAMA_MAX_SEQ; -c = slots x context at most {fitmod.MAX_N_CTX:,} "
                           "tokens); the GPU would hold more: more slots take more servers")
    if "context" in find:
        # up to the model's trained context where it is known (speed and infer refuse past it), else 8x its
        # max_position_embeddings
        out["longest_context"] = longest = fitmod.longest_context(spec, job, gpu, layout, device=dev,
                                                                  limit=trained)
        if trained is not None and longest == trained:
            out["context_note"] = (f"{spec.name}'s whole trained context ({trained:,} tokens) fits (memory holds "
                                   "at least that)")
    if "concurrency" in find and serving:
        assert isinstance(job, ServeJob)
        kb = fitmod.kv_budget(spec, job, gpu, layout, device_bytes=dev(gpu, layout.gpus))
        out["kv_budget"] = {k: getattr(kb, k) for k in kb.__dataclass_fields__}
    if "cheapest" in find:  # on this GPU type, as every answer here (`plan` compares GPU types)
        rep = plan_report(spec, job, gpu_names=[gpu.name], prices=prices, top=1)
        out["cheapest"] = rep["setups"][0] if rep["setups"] else None
    if serving and (job.max_ttft_s is not None or job.max_tpot_s is not None) and \
            {"batch", "context", "concurrency"} & set(find):  # type: ignore[union-attr]
        out["targets"] = ("--ttft/--tpot bound fewest gpus and cheapest (the planner's setups); largest batch, "
                          "longest context and concurrency are memory limits: `llmsize speed` at that batch says "
                          "whether it meets them")
    return out


def _offload(spec: ModelSpec, job: TrainJob, gpu: Any, layout: Layout) -> dict[str, Any]:
    """Host memory and NVMe per node of the layout's offload, checked against the job's, and the step's
    slowdown over PCIe (`planner.search.offload`, as the search scores it)."""
    from llmsize.planner.search import offload

    # the job's micro-batches per step on this layout's data-parallel width (the layout alone says 1)
    layout = with_steps(job, layout)
    mem = job_memory(spec, job, layout)
    why, slowdown, info = offload(spec, job, gpu, layout.gpus, layout, mem)
    return {**info, "offload_slowdown": slowdown, "fits": why is None, "reason": why}


def speed_report(spec: ModelSpec, job: TrainJob | ServeJob, gpu_name: str, layout: Layout, *,
                 pue: float = 1.0) -> dict[str, Any]:
    """Serving speed under continuous batching, or training rate and time, on one setup; every
    efficiency used is printed with the table key it came from."""
    gpu = resolve_gpus([gpu_name])[0]
    check_layout(spec, layout)
    if isinstance(job, ServeJob):
        if job.engine == "llama.cpp" and layout.dp > 1:
            # one llama-server splits its model's layers over its GPUs; replicas are servers of their own
            raise LlmsizeError(f"llama.cpp runs one model per server over all its GPUs: --gpus {layout.gpus} "
                               f"--pp {layout.gpus} splits the layers over them (llama.cpp's default, -sm layer); "
                               f"{layout.dp} replicas are {layout.dp} servers, each timed on its own GPUs")
        bd = jobs.serve_breakdown(spec, job, gpu=gpu)
        mem = per_gpu(spec, bd, layout)
        if not gpu.bandwidth:
            raise LlmsizeError(f"{gpu.name}: no memory bandwidth known, so no decode speed")
        # one TP × PP replica, as `plan` times it; data parallelism runs `dp` replicas side by side
        sp = replica_speed(spec, job, bd, gpu, layout, mem)
        r = layout.dp
        return {"model": spec.name, "gpu": gpu.name, "gpus": layout.gpus, "layout": layout.label(), "mode": "serve",
                "engine": job.engine, "weights": job.weights, "replicas": r, "batch": sp.batch,
                "batch_limit": sp.batch_limit, "concurrency": job.concurrency, "offline": job.offline,
                "ttft_s": sp.ttft_s, "tpot_s": sp.tpot_s, "e2e_s": sp.e2e_s,
                "ttft_p90_s": sp.ttft_p90_s, "tpot_p90_s": sp.tpot_p90_s,
                "output_tokens_per_s": sp.output_tokens_per_s * r, "input_tokens_per_s": sp.input_tokens_per_s * r,
                "prefill_tokens_per_s": sp.input_tokens_per_s * r, "decode_tokens_per_s": sp.output_tokens_per_s * r,
                "decode_bound": sp.bound, "step_bytes_per_gpu": int(sp.step_bytes), "compute_path": sp.path,
                "attention_path": sp.attention_path,
                "efficiency": {"value": sp.efficiency.value, "key": sp.efficiency.key},
                "mbu": job.mbu, "prefill_efficiency": job.prefill_mfu,
                # --ttft / --tpot / --target-tps, which `plan` rejects setups by: this setup's verdict on each
                # (None: no target given)
                "targets": _serve_targets(job, sp, sp.output_tokens_per_s * r),
                "prompt_scheduling": "static" if sp.static_batch else "mixed" if sp.mixed_prefill else "separate",
                "note": ("output tokens/s include each batch's prefill (a fixed batch, as generate() runs one: its "
                         "prompts in one pass, then its decode steps; new requests wait for the next batch)"
                         if sp.static_batch else
                         "output tokens/s include each request's prefill (continuous batching; " + (
                             "new prompts ride in the running decodes' pass)" if sp.mixed_prefill else
                             f"{job.engine} runs each new prompt as a pass of its own, the running decodes wait)")) + (
                    "; every pass waits for the host to issue its layers' kernels from Python (eager generate(): "
                    "layers x host time per layer, docs/speed.md)" if sp.bound == "host" else "") + (
                    "; batch max: every request queued at once, so a request's TTFT is the one shown once it "
                    "is admitted plus its wait in the queue, about (k − B)·S_out/(tokens/s per replica) for the "
                    "k-th request (B in flight), which grows through the run" if job.offline else ""),
                "citations": {"pope2022": SOURCES["pope2022"]}}
    if job.tokens is None:
        raise LlmsizeError("training speed needs --tokens (the tokens to train on)")
    layout = with_steps(job, layout)
    rate = _train_rate(spec, job, gpu, layout)
    step_tokens = job.global_batch * job.seq_len
    # offloaded states: the step is slower by the PCIe transfers and the host's optimizer step
    off = _offload(spec, job, gpu, layout) if layout.offload_optimizer != "none" or layout.offload_params != "none" \
        else None
    slow = off["offload_slowdown"] if off else 1.0
    # the pipeline bubble and the offload slowdown, exactly as `plan` scores the setup
    tps = train_tokens_per_s(spec, job, gpu, layout, slow)
    seconds = run_seconds(job.tokens, tps, job.goodput)
    hours = layout.gpus * seconds / 3600
    peak = gpu.peak_flops(rate.path)
    out = {"model": spec.name, "gpu": gpu.name, "gpus": layout.gpus, "layout": layout.label(), "mode": "train",
           "tokens": job.tokens,
           "flops_per_token": rate.model_flops_per_token, "hardware_flops_per_token": rate.hardware_flops_per_token,
           "total_flops": float(job.tokens) * rate.model_flops_per_token, "compute_path": rate.path,
           "efficiency": {"value": rate.efficiency.value, "key": rate.efficiency.key},
           "mfu": tps / layout.gpus * rate.model_flops_per_token / peak,
           "pipeline_bubble": rate.bubble, "micro_batches": layout.grad_accum,
           "tokens_per_s": tps, "step_s": step_tokens / tps,
           "seconds": seconds, "days": seconds / 86400, "gpu_hours": hours, "goodput": goodput_term(job.goodput),
           "energy_kwh": hours * gpu.tdp_watts * pue / 1000 if gpu.tdp_watts else None,
           "terms": [{"name": k, "flops": v} for k, v in rate.flops.items()],
           "citations": {k: SOURCES[k] for k in ("chowdhery2022", "narayanan2021", "dubey2024")}}
    if job.max_days is not None:  # --max-days, which `plan` rejects setups by: this setup's verdict
        out["targets"] = {"max_days": job.max_days, "missed": None if seconds / 86400 <= job.max_days else
                          f"too slow: {seconds / 86400:,.1f} days > {job.max_days:g} (--max-days)"}
    if off:
        out["offload"] = off
        out["citations"]["ren2021"] = SOURCES["ren2021"]
    # the memory `train --gpus` gives this layout, held to the GPU less the runtime (as `plan` holds it): a
    # rate for a setup that cannot run is said to be one (serving's speed refuses such a setup outright)
    mem = job_memory(spec, job, layout)
    budget = fitmod._budget(gpu, layout, job, _device_fn(False))
    out["memory_per_gpu_bytes"], out["budget_bytes"] = mem.peak_bytes, budget
    if mem.peak_bytes > budget and not off:
        out["note"] = (f"does not fit: {mem.peak_bytes / 2**30:,.1f} GiB per GPU, {gpu.name} holds "
                       f"{budget / 2**30:,.1f} GiB; the rate is what the layout would reach: `llmsize plan --train "
                       f"--gpu {gpu.name}` finds layouts that fit")
    return out


def _serve_targets(job: ServeJob, sp: Any, tokens_per_s: float) -> dict[str, Any] | None:
    """The serving targets given (--ttft, --tpot, --target-tps) and every one this setup misses, in one
    string (None: all met); None when no target is given."""
    ttft, tpot, tps = job.max_ttft_s, job.max_tpot_s, job.min_tokens_per_s
    if ttft is None and tpot is None and tps is None:
        return None
    missed = latency_misses(job, sp)  # the ones `plan` rejects by, said as it says them
    if tps is not None and tokens_per_s < tps:
        missed.append(f"{tokens_per_s:,.0f} output tokens/s < {tps:g} (--target-tps)")
    return {"ttft_s": ttft, "tpot_s": tpot, "tokens_per_s": tps,
            "missed": "too slow: " + "; ".join(missed) if missed else None}


def _why_none(rejected: dict[str, Any], n: int) -> str:
    """Why no setup of up to `n` GPUs is feasible, as the planner said it: a limit a setup of all `n` missed
    while fitting, else its reason for a setup of all `n` (the most GPUs, the likeliest to fit), else for
    the widest it tried."""
    groups = rejected.get("examples", {})
    examples = [e for group in groups.values() for e in group]
    if not examples:  # nothing was tried (every setup is listed with its reason when one is)
        return "no setup to try"
    # a setup that fits but misses a limit (--max-days, --ttft/--tpot, a price) is the nearest to feasible:
    # its reason is the one to act on
    near = [e for k in ("slow", "price") for e in groups.get(k, []) if e["gpus"] == n]
    return (near or [max(examples, key=lambda e: (e["gpus"] == n, e["gpus"]))])[0]["reason"]


def cost_report(spec: ModelSpec, job: TrainJob | ServeJob, gpu_names: Sequence[str] | None,
                counts: Sequence[int], *, prices: dict[str, float] | None = None) -> dict[str, Any]:
    """Cost side by side across GPU types and counts: a training run, or $ per 1M tokens in and out."""
    twice = sorted({n for n in counts if list(counts).count(n) > 1})
    if twice:
        raise LlmsizeError(f"GPU count(s) {', '.join(map(str, twice))} given more than once: give each once")
    rows: list[dict[str, Any]] = []
    bd = None  # the training breakdown, made once for every GPU type and count
    types = resolve_gpus(gpu_names)
    if not gpu_names:  # as --help says: every GPU type with a price (published or given); others when named
        types = [g for g in types if price_for(g.name, (prices or {}).get(g.name)) is not None]
    for g in types:
        p = price_for(g.name, (prices or {}).get(g.name)) if g.vendor != "custom" or prices else None
        for n in counts:
            row: dict[str, Any] = {"gpu": g.name, "gpus": n, "usd_per_gpu_hour": p.usd_per_gpu_hour if p else None,
                                   "price_source": p.source if p else None}
            if not any(g.has(d) for d in ("bf16", "fp16", "fp32")):  # P40: 16-bit work runs at its fp32 rate
                row["note"] = f"{g.name} has no bf16/fp16/fp32 rate"
                rows.append(row)
                continue
            if isinstance(job, ServeJob):
                rep = plan_report(spec, job.with_(min_tokens_per_s=None), gpu_names=[g.name], max_gpus=n, prices=prices,
                                  top=1)
                best = rep["setups"][0] if rep["setups"] else None
                if best is None:  # why none: the planner's reason for a setup of all n GPUs, else of the most
                    row["note"] = _why_none(rep["rejected"], n)
                else:
                    # n GPUs are paid for; whole replicas run on `used` of them, the rest idle
                    replicas = n // best["gpus"]
                    used = replicas * best["gpus"]
                    out_tps = best["tokens_per_s"] * replicas
                    in_tps = best["prefill_tokens_per_s"] * replicas
                    row.update(layout=best["layout"], replicas=replicas, used_gpus=used,
                               output_tokens_per_s=out_tps,
                               usd_per_1m_output=usd_per_million_tokens(out_tps, n, p.usd_per_gpu_hour) if p else None,
                               usd_per_1m_input=usd_per_million_tokens(in_tps, n, p.usd_per_gpu_hour) if p else None)
                    if used < n:
                        row["idle_note"] = (f"{n - used} of {n} GPUs idle: {replicas} replica(s) of {best['gpus']} "
                                            f"GPUs; the cost counts all {n}")
            else:
                if job.tokens is None:
                    raise LlmsizeError("training cost needs --tokens")
                # the planner's best layout of these n GPUs (memory checked, --max-days honoured), as `plan`
                # ranks it: the same rate and cost `plan --train` prints for that GPU type and count
                if bd is None:
                    bd = jobs.train_breakdown(spec, job)
                rep = plan_report(spec, job, gpu_names=[g.name], counts=[n], max_gpus=n, prices=prices, top=1,
                                  breakdown=bd)
                best = rep["setups"][0] if rep["setups"] else None
                if best is None:
                    row["note"] = _why_none(rep["rejected"], n)
                else:
                    sec = best["seconds"]
                    gh = n * sec / 3600
                    row.update(layout=best["layout"], tokens_per_s=best["tokens_per_s"], days=sec / 86400,
                               gpu_hours=gh, goodput=goodput_term(job.goodput),
                               memory_per_gpu_bytes=best.get("memory_per_gpu_bytes"),
                               energy_kwh=gh * g.tdp_watts / 1000 if g.tdp_watts else None,
                               usd=training_cost(gh, p.usd_per_gpu_hour) if p else None)
            rows.append(row)
    return {"model": spec.name, "mode": "serve" if isinstance(job, ServeJob) else "train", "rows": rows,
            **({"note": "$/1M out and $/1M in each charge all the GPU time (prefill included) to one kind of "
                        "token: two views of one bill, not prices to add"
                        + ("; " + batch_note(job) if job.request_rate is None and not job.offline else "")}
               if isinstance(job, ServeJob) else {
                "note": "each row is the best layout of that many GPUs that fits, as `llmsize plan --train` ranks "
                        "it (--max-days honoured)",
                "goodput": goodput_term(job.goodput)}),
            "citations": {"narayanan2021": SOURCES["narayanan2021"], "pope2022": SOURCES["pope2022"]}}


__all__ = ["FIND", "candidate_row", "cost_report", "fit_report", "speed_report", "usd_per_million_tokens"]
