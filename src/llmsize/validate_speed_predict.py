"""The metric a speed case names, predicted from its setup (`llmsize.speedmodel`); fields a source
left null take llmsize's defaults, and each default taken is returned as a note.

Source: narayanan2021
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmsize.errors import DoesNotFit, LlmsizeError
from llmsize.speedmodel import predict as P
from llmsize.speedmodel.builds import llamacpp_graphs, llamacpp_mmq
from llmsize.speedmodel.scheduling import static_batch
from llmsize.speedmodel.serving import serve
from llmsize.validate_speed_fields import is_inf, kv_dtype, train_fields, unused, weights

_TASK_METRICS = {"decode": ("tokens_per_s",), "prefill": ("tokens_per_s",),
                 "serve": ("output_tokens_per_s", "ttft_s", "tpot_s"),
                 "train": ("tokens_per_s_per_gpu", "model_tflops_per_gpu", "gpu_hours", "days")}


def _get(w: Mapping[str, Any], k: str, default: Any, notes: list[str]) -> Any:
    v = w.get(k)
    if v is None:
        notes.append(f"{k} not given: {default!r} assumed")
        return default
    return v


def metric_applies(task: str, metric: str) -> bool:
    return metric in _TASK_METRICS.get(task, ())


def check_metric(task: str, metric: str) -> None:
    """Refuse a metric the task does not measure (a TTFT of a training run)."""
    if metric not in _TASK_METRICS[task]:
        raise LlmsizeError(f"metric {metric} does not apply to a {task} workload "
                           f"(it has {', '.join(_TASK_METRICS[task])})")


def _flash(w: Mapping[str, Any]) -> bool | None:
    """A workload's optional ``flash_attn`` (true, false, or absent/null: the engine's default)."""
    v = w.get("flash_attn")
    if v is not None and not isinstance(v, bool):
        raise LlmsizeError(f"workload.flash_attn must be true, false or null, got {v!r}")
    return v


def predict_metric(spec: Any, gpu: Any, case: Any, native: Any = None) -> tuple[float, list[str]]:
    """(predicted value of case.metric, notes on defaults taken); `native` the weight format the model's
    checkpoint stores (`quant.native.Weights`), the default of a null `weights`."""
    from llmsize.speedmodel.efficiency import engine_name

    w = case.workload
    task, metric = w["task"], case.metric
    notes = unused(task, w)
    check_metric(task, metric)
    named = engine_name(case.engine)
    if named != case.engine.lower():  # a spelling of a known engine (NeMo runs Megatron-Core, FSDP2 is FSDP)
        notes.append(f"engine {case.engine!r} read as {named}")
    if task in ("decode", "prefill"):
        wt = weights(w, notes, model=case.model, native=native)
        eng = _engine(case.engine, wt, notes)
        wt = _engine_weights(eng, wt, notes)
        tp = int(w.get("tp") or 1)
        if w.get("tp") is None and (case.count or 1) > 1:
            if eng == "llama.cpp":
                notes.append(f"tp not given: 1 assumed (a sequence's layers run one GPU at a time, as llama.cpp's "
                             f"layer split of {case.count} GPUs)")
            else:
                tp = case.count
                notes.append(f"tp not given: {tp} assumed (hardware.count)")
        if eng in SERVING_ENGINES:
            return _serving_pass(spec, gpu, case, eng, wt, task, w, tp, notes), notes
        if task == "decode":
            r = P.decode(spec, gpu, engine=eng, weights=wt, kv_dtype=_kv(w, notes),
                         batch=int(_get(w, "batch", 1, notes)), context=int(_get(w, "context", 0, notes)),
                         tokens=int(_get(w, "tokens", 128, notes)), tp=tp, flash_attn=_flash(w),
                         cuda_graphs=llamacpp_graphs(gpu, case.engine_version, case.source_date),
                         mmq=llamacpp_mmq(gpu, case.engine_version, case.source_date))
        else:
            r = P.prefill(spec, gpu, engine=eng, weights=wt, batch=int(_get(w, "batch", 1, notes)),
                          tokens=int(_get(w, "tokens", 512, notes)), tp=tp, flash_attn=_flash(w),
                          mmq=llamacpp_mmq(gpu, case.engine_version, case.source_date),
                          ubatch=int(w["ubatch"]) if w.get("ubatch") is not None else None,
                          kv_dtype=kv_dtype(w, notes))
        if task == "prefill" and r.terms["bound"] == "memory":
            notes.append(f"bound by weight reads: each {w.get('ubatch') or P.UBATCH}-token micro-batch reads "
                         "the weights it multiplies by (a mixture of experts: every expert one of its tokens "
                         "routes to)")
        _path_note(gpu, wt, r.terms["path"], notes)
        return r.value, notes
    if task == "serve":
        return _serve(spec, gpu, case, w, notes, native)
    from llmsize.validate_speed_train import train_metric

    return train_metric(spec, gpu, case, train_fields(w, notes), notes)


# engines whose decode and prefill are timed as their serving iterations (fitted on their own serving rows)
SERVING_ENGINES = ("vllm", "sglang", "trt-llm")


def _serving_pass(spec: Any, gpu: Any, case: Any, eng: str, wt: str, task: str, w: Mapping[str, Any], tp: int,
                  notes: list[str]) -> float:
    """A decode or prefill task on a serving engine, timed as that engine's own iterations (`serve`, whose
    efficiencies and fixed costs are fitted on its serving rows), not llama-bench's: decode, steps of the
    `batch` sequences at the generated span's mean context (no prompt riding along); prefill, `batch`
    prompts of S tokens in one pass, which reads the weights once.

    decode tokens/s = B / t_d(B),  prefill tokens/s = B·S / (t_p + (B − 1)·t_c)

    Source: agrawal2024"""
    if w.get("flash_attn") is not None:
        notes.append(f"flash_attn applies to llama.cpp's kernels: {eng}'s own attention kernels timed")
    batch = int(_get(w, "batch", 1, notes))
    if task == "decode":
        ctx, n = int(_get(w, "context", 0, notes)), int(_get(w, "tokens", 128, notes))
        # the run's batch, not the engine's default cap; a cache of `ctx` tokens (one where it is empty)
        s = serve(spec, gpu, engine=eng, weights=wt, kv_dtype=_kv(w, notes), prompt=max(ctx, 1), output=n,
                  concurrency=batch, tp=tp, max_seqs=batch, kv_bound=False)
        if s.kv_capacity_tokens < batch * (ctx + n):
            notes.append(f"{batch} sequences of {ctx + n:,} tokens exceed the {s.kv_capacity_tokens:,}-token KV cache "
                         f"llmsize gives {gpu.name} x {tp} at 0.9 of its memory: timed at the batch the run held")
        notes.append(f"timed as {eng}'s decode iterations (its serving efficiency and fixed costs per step)")
        _path_note(gpu, wt, s.path, notes)
        return batch / s.step_s
    tokens = int(_get(w, "tokens", 512, notes))
    kw = dict(engine=eng, weights=wt, kv_dtype=kv_dtype(w, notes), prompt=tokens, output=1, concurrency=1, tp=tp,
              compiled_prompt=_compiled(case, notes))
    try:
        s = serve(spec, gpu, **kw)
    except DoesNotFit as e:  # the run did hold its prompt: timed all the same, said
        s = serve(spec, gpu, kv_bound=False, **kw)
        notes.append(f"{_memory_says(e)}; the run held its prompt, so it is timed")
    notes.append(f"timed as {eng}'s prompt pass (its serving efficiency and fixed costs per layer)")
    _path_note(gpu, wt, s.path, notes)
    return batch * tokens / (s.prefill_s + (batch - 1) * s.prompt_compute_s)


def _serve(spec: Any, gpu: Any, case: Any, w: Mapping[str, Any], notes: list[str],
           native: Any = None) -> tuple[float, list[str]]:
    """A serving metric. A request rate above what the deployment serves is a benchmark whose clients
    wait: for a bounded concurrency, for a free slot (vLLM's and SGLang's --max-concurrency; the wait is
    before the request is sent, outside its TTFT), so the run is closed-loop at that concurrency; for
    "max", in a queue that grows through the run, so throughput and TPOT are those of the saturated
    deployment and the median request's TTFT adds its wait in that queue (`overload_wait_s`)."""
    conc = _get(w, "concurrency", "max", notes)
    conc = "max" if isinstance(conc, str) and conc.lower() == "max" else int(conc)
    out = int(_get(w, "output", 256, notes))
    wt = weights(w, notes, model=case.model, native=native)
    eng = _engine(case.engine, wt, notes)
    wt = _engine_weights(eng, wt, notes)
    tp, pp, dp = _replicas(w, case.count, notes)
    tp, dp, ep = _expert_parallel(spec, w, tp, dp, notes)
    steps = int(w.get("scheduler_steps") or 1)
    kw = dict(engine=eng, weights=wt, kv_dtype=_kv(w, notes), prompt=int(_get(w, "prompt", 1024, notes)),
              output=out, concurrency=conc, tp=tp, pp=pp, dp=dp, ep=ep, scheduler_steps=steps,
              max_seqs=w.get("max_seqs") or _v0_max_seqs(gpu, case, eng, notes),
              mixed_prefill=_mixed(spec, case, w, steps, notes),
              grouped_attention=_grouped(spec, case, notes), compiled_prompt=_compiled(case, notes),
              static_batch=static_batch(eng))
    kw["kv_free_bytes"] = _kv_free(spec, gpu, kw)
    rate = w.get("request_rate")
    if is_inf(rate):
        notes.append("request rate inf: every request sent at once (a max-throughput run)")
        rate = None
    try:
        s = serve(spec, gpu, request_rate=None, **kw)
    except DoesNotFit as e:
        if ep == 1 and w.get("ep") is None and tp == 1 and dp > 1 and spec.moe is not None:
            # dp replicas of a MoE model that one GPU cannot hold: the run split its experts over them
            kw["ep"] = dp
            kw["kv_free_bytes"] = _kv_free(spec, gpu, kw)
            s = serve(spec, gpu, request_rate=None, **kw)
            notes.append(f"ep not given and one GPU cannot hold {spec.name}: its {dp} data-parallel ranks read as "
                         f"attention data parallel with the routed experts split over them (EP {dp}, "
                         f"TensorRT-LLM's DEP{dp})")
        elif conc != "max":
            # the run did hold its requests: llmsize's memory model leaves less room than the run had, so its
            # own batch is timed (at "max" the batch the memory held is what is unknown: refused)
            kw["kv_bound"] = False
            s = serve(spec, gpu, request_rate=None, **kw)
            notes.append(f"{_memory_says(e)}; the run held its requests, so its concurrency {conc} is timed")
        else:
            raise
    _path_note(gpu, wt, s.path, notes)
    capacity = s.output_tokens_per_s / out  # requests/s the deployment serves at its batch limit
    if rate is not None and rate < capacity:
        s = serve(spec, gpu, request_rate=rate, **kw)
    elif rate is not None:
        notes.append(f"request rate {rate:g}/s exceeds the {capacity:.3g}/s this deployment serves: "
                     + ("clients wait for one of the concurrency's slots (closed-loop)" if conc != "max"
                        else "the deployment runs saturated"))
        if conc == "max" and case.metric == "ttft_s":
            return s.ttft_s + overload_wait_s(w, rate, capacity, notes), notes
    return {"output_tokens_per_s": s.output_tokens_per_s, "ttft_s": s.ttft_s, "tpot_s": s.tpot_s}[case.metric], notes


# ASSUMES: a serving benchmark that does not say how many requests it sent ran 1,000, the default of vLLM's
#          benchmark_serving and of SGLang's bench_serving (--num-prompts)
BENCH_PROMPTS = 1000


def overload_wait_s(w: Mapping[str, Any], rate: float, capacity: float, notes: list[str]) -> float:
    """The median request's wait in the queue of a finite benchmark sent faster than the deployment serves:
    N requests arrive at λ over N/λ seconds and leave at the saturated rate μ, so the queue grows at λ − μ
    and the k-th request, arriving at k/λ, waits k(1/μ − 1/λ) for a slot; the median one, k = N/2.

    W = N/2 · (1/μ − 1/λ)

    Source: kleinrock1975"""
    n = w.get("num_prompts")
    if n is None:
        n = BENCH_PROMPTS
        notes.append(f"num_prompts not given: {BENCH_PROMPTS:,} assumed (benchmark_serving's and bench_serving's "
                     "default)")
    wait = n / 2 * (1 / capacity - 1 / rate)
    notes.append(f"the queue grows through the run: the median of {n:,} requests waits N/2·(1/μ − 1/λ) = "
                 f"{wait:.3g} s for a slot before its prompt runs")
    return wait


def _memory_says(e: DoesNotFit) -> str:
    """What llmsize's memory model said of a setup a measured run did hold, without the CLI's hint."""
    return "llmsize's memory model says " + str(e).removeprefix("does not fit: ").split("; ")[0]


def _v0_max_seqs(gpu: Any, case: Any, eng: str, notes: list[str]) -> int | None:
    """vLLM V0's --max-num-seqs default (256 on every GPU) for a run that used V0 where V1's default for its
    GPU is larger (1024 on an H100: `efficiency.engine_default`); None otherwise (the engine's default)."""
    from llmsize.speedmodel.efficiency import engine_default
    from llmsize.speedmodel.scheduling import vllm_v1

    if eng != "vllm" or vllm_v1(case.engine_version, case.source_date):
        return None
    v0, v1 = engine_default(eng, "max_seqs"), engine_default(eng, "max_seqs", gpu)
    if v0 is None or v1 == v0:
        return None
    notes.append(f"vLLM V0 build: --max-num-seqs default {v0} (V1's on {gpu.name} is {v1})")
    return v0


def _kv_free(spec: Any, gpu: Any, kw: Mapping[str, Any]) -> int | None:
    """The KV bytes per GPU a paged-KV engine leaves at its default share, as `speed` and `plan` take
    them (`planner.serve_search.paged_kv_bytes`); None where the memory model cannot place the setup (the
    speed model then takes u·usable less the weights)."""
    from llmsize.parallel import Layout
    from llmsize.planner.jobs import ServeJob
    from llmsize.planner.serve_search import paged_kv_bytes

    try:
        job = ServeJob(prompt_len=kw["prompt"], output_len=kw["output"], weights=kw["weights"],
                       kv_dtype=kw["kv_dtype"] or "auto", engine=kw["engine"])
        lay = Layout(tp=kw["tp"], pp=kw["pp"], dp=max(kw["dp"], kw["ep"]), ep=kw["ep"])
        return paged_kv_bytes(spec, job, gpu, lay)
    except LlmsizeError:
        return None


def _expert_parallel(spec: Any, w: Mapping[str, Any], tp: int, dp: int, notes: list[str]) -> tuple[int, int, int]:
    """(tp, dp, ep) of a serving case's expert parallelism. Attention data parallel (TensorRT-LLM's
    `enable_attention_dp` with `--tp N --ep N`, its tables' "DEP N"; SGLang's --enable-dp-attention) runs
    attention on each of the N ranks for its own sequences and splits the routed experts over them: N
    data-parallel ranks of one GPU's attention each, one EP group. `ep` over tp = 1 and dp ranks is that
    layout too. EP inside a TP group (no attention_dp) holds each GPU's 1/tp of the experts, as TP does."""
    ep, adp = (None if w.get("ep") is None else int(w["ep"])), bool(w.get("attention_dp"))  # 4.0 is 4
    if adp:
        if tp * dp == 1:
            raise LlmsizeError("attention_dp needs more than one GPU (tp or dp > 1)")
        ep = int(ep or tp * dp)
        notes.append(f"attention_dp: TP{tp} × DP{dp} run attention as {tp * dp} data-parallel ranks, the routed "
                     f"experts split over EP {ep}")
        tp, dp = 1, tp * dp
    if not ep or ep == 1:
        return tp, dp, 1
    if spec.moe is None:
        raise LlmsizeError(f"ep {ep}: {spec.name} has no routed experts to split")
    if tp > 1:
        if tp % ep:
            raise LlmsizeError(f"ep {ep} must divide tp {tp} (experts inside the TP group) or, with tp 1 or "
                               f"attention_dp, the data-parallel ranks")
        notes.append(f"ep {ep} inside TP{tp}: each GPU holds 1/{tp} of the experts, as TP splits them "
                     "(timed as TP; the all-to-all that replaces the MoE all-reduce is not)")
        return tp, dp, 1
    if dp % ep:
        raise LlmsizeError(f"ep {ep} must divide the {dp} data-parallel ranks it splits the experts over")
    return tp, dp, ep


def _mixed(spec: Any, case: Any, w: Mapping[str, Any], steps: int, notes: list[str]) -> bool:
    """Whether the case's engine runs a new prompt inside the running decodes' pass (`speedmodel.scheduling`),
    the rule that decided said in the notes for the engines whose answer depends on it."""
    from llmsize.speedmodel.efficiency import engine_name
    from llmsize.speedmodel.scheduling import prompt_scheduling

    mixed, why = prompt_scheduling(case.engine, spec, case.engine_version, case.source_date,
                                   chunked_prefill=w.get("chunked_prefill"), max_model_len=w.get("max_model_len"),
                                   scheduler_steps=steps)
    if engine_name(case.engine) in ("vllm", "sglang"):
        notes.append(f"prompts {'ride in the decode pass' if mixed else 'run as passes of their own'}: {why}")
    return mixed


def _grouped(spec: Any, case: Any, notes: list[str]) -> bool:
    """Whether the build's decode kernel loads a KV head once for its group of query heads
    (`speedmodel.kernels`); a build that re-reads it per query head is said in the notes."""
    from llmsize.speedmodel.kernels import grouped_decode_attention

    grouped = grouped_decode_attention(case.engine, case.engine_version, case.source_date)
    a = spec.attention
    if not grouped and a.num_heads > a.num_kv_heads:
        notes.append(f"TensorRT-LLM before v0.8 decodes grouped-query attention with its masked MHA kernel: "
                     f"each of the {a.num_heads // a.num_kv_heads} query heads of a group re-reads its KV head")
    return grouped


def _compiled(case: Any, notes: list[str]) -> bool:
    """Whether the case's build runs a prompt's pass as one compiled engine (`speedmodel.kernels`), said in
    the notes for TensorRT-LLM, whose answer depends on the build."""
    from llmsize.speedmodel.efficiency import engine_name
    from llmsize.speedmodel.kernels import compiled_prompt_pass

    compiled = compiled_prompt_pass(case.engine, case.engine_version, case.source_date)
    if engine_name(case.engine) == "trt-llm":
        notes.append("prompt passes run " + ("as one TensorRT engine (the TensorRT backend, before v1.0)" if compiled
                                             else "layer by layer from Python (the PyTorch backend, v1.0 on)"))
    return compiled


def _engine(engine: str, wt: str, notes: list[str]) -> str:
    """The engine, where a source does not name it: llama.cpp for GGUF block types (the engine GGUF is
    for, under Ollama and LM Studio too), else llmsize's engine-independent defaults."""
    from llmsize.speedmodel.efficiency import engine_name, is_gguf_quant

    e = engine_name(engine)
    if e == "unknown" and is_gguf_quant(wt):
        notes.append(f"engine not given: llama.cpp assumed (weights {wt} are a GGUF type)")
        return "llama.cpp"
    return e


def _engine_weights(engine: str, wt: str, notes: list[str]) -> str:
    from llmsize.speedmodel.efficiency import engine_weights

    wt, note = engine_weights(engine, wt)
    if note:
        notes.append(note)
    return wt


def _kv(w: Mapping[str, Any], notes: list[str]) -> str | None:
    if w.get("kv_dtype") is None:
        notes.append("kv_dtype not given: the model's 16-bit dtype assumed (the engines' \"auto\")")
    return kv_dtype(w, notes)


def _replicas(w: Mapping[str, Any], count: int | None, notes: list[str]) -> tuple[int, int, int]:
    """(tp, pp, dp) of a deployment: those given; of a null one, what the case's GPU count leaves (one
    replica over all of them where neither tp nor dp is given: the vendors' tables list TP = GPUs); else 1."""
    tp, pp, dp = (w.get(k) for k in ("tp", "pp", "dp"))
    if pp is None:
        pp = _get(w, "pp", 1, notes)
    n = count or 1
    if tp is None:
        tp = max(n // (pp * (dp or 1)), 1)
        notes.append(f"tp not given: {tp} assumed" + (f" (hardware.count {n} over pp × dp)" if n > 1 else ""))
    if dp is None:
        dp = max(n // (tp * pp), 1)
        notes.append(f"dp not given: {dp} assumed" + (f" (hardware.count {n} over tp × pp)" if n > 1 else ""))
    if count and tp * pp * dp != count:
        notes.append(f"tp × pp × dp = {tp * pp * dp} GPUs, not hardware.count {count}: timed as laid out")
    return int(tp), int(pp), int(dp)


def _path_note(gpu: Any, asked: str, path: str, notes: list[str]) -> None:
    """Say where the GPU cannot run the GEMMs on the path the weights / precision ask for."""
    a = asked.lower()
    if a.startswith("fp8") and path != "fp8":
        notes.append(f"{gpu.name} has no FP8 units: the fp8 weights' GEMMs timed on its {path} path")
    elif path in ("fp16", "fp32") and a in ("bf16", "bf16-mixed"):
        notes.append(f"{gpu.name} has no bf16 rate: timed on its {path} path")
