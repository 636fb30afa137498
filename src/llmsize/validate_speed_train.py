"""The metric a training speed case names (tokens/s per GPU, model TFLOP/s per GPU, a whole run's GPU-hours
or days), predicted from its setup (`speedmodel.train`); the defaults a source leaves null (layout,
sharding, expert parallelism and its all-to-all overlap, pipeline schedule) are taken here and each is
returned as a note.

Source: narayanan2021
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.speedmodel import train as T
from llmsize.validate_speed_predict import _get, _path_note


def _ep_options(lay: Mapping[str, Any], engine: str, ep: int, notes: list[str]) -> dict[str, Any]:
    """The layout's expert-parallel options: `a2a_overlap` (true | false | null) and `dispatcher` (alltoall |
    deepep | null: alltoall). A null overlap is the engine's default: off for Megatron-Core and the other
    named engines (moe_a2a_overlap defaults to False); on for an in-house stack (`unknown`), since the
    published in-house MoE runs hide their all-to-alls behind compute (DeepSeek-V3's DualPipe, sec. 3.2.1
    of its report: "both all-to-all and PP communication can be fully hidden")."""
    from llmsize.speedmodel.comm import DISPATCHERS

    ov, disp = lay.get("a2a_overlap"), lay.get("dispatcher")
    if ov is not None and not isinstance(ov, bool):
        raise LlmsizeError(f"layout.a2a_overlap must be true, false or null, got {ov!r}")
    if disp is not None and disp not in DISPATCHERS:
        raise LlmsizeError(f"layout.dispatcher must be one of {', '.join(DISPATCHERS)} or null, got {disp!r}")
    if ov is None and ep > 1:
        ov = engine == "unknown"
        notes.append("layout.a2a_overlap not given: the expert all-to-alls " + (
            "overlapped with compute assumed (an in-house stack built for expert parallelism)" if ov else
            f"not overlapped assumed ({engine}'s default)"))
    return {"a2a_overlap": bool(ov), "dispatcher": disp or "alltoall"}


def _default_ep(spec: Any, case: Any, notes: list[str]) -> int:
    """Expert parallelism of a mixture-of-experts run whose layout is not given: the experts spread over
    one node's GPUs (the all-to-all stays on NVLink), as Megatron-Bridge's recipes lay out most MoE runs
    (Qwen3-30B-A3B and Qwen3-235B-A22B on B200, gpt-oss-120b: EP 8); 1 for a dense model.

    ep = min(GPUs per node, experts, GPUs of the run)

    Source: liu2025folding"""
    if spec.moe is None:
        return 1
    ep = max(1, min(case.gpus_per_node, spec.moe.num_experts, case.count or case.gpus_per_node))
    notes.append(f"layout not given for a mixture of experts: expert parallelism {ep} inside a node")
    return ep


# Mixed-precision Adam state per parameter (bf16 weights and gradients, fp32 master, momentum, variance)
ADAM_STATE_BYTES = 16


def _default_shard(spec: Any, gpu: Any, count: int | None, notes: list[str]) -> str:
    """The data-parallel sharding a run whose source gives no layout must have used: full sharding
    (FSDP / ZeRO-3) where one replica's training state cannot fit one GPU, else none; said in a note.

    state = 16 B x params  (ASSUMES the smallest layout that fits: no TP/PP, states sharded over DP)

    Source: rajbhandari2020"""
    from llmsize.params import count as param_count

    state = ADAM_STATE_BYTES * param_count(spec).total
    if state <= gpu.usable:
        return "none"
    notes.append(f"layout not given: training state {state / 2**30:.0f} GiB (16 B/param) exceeds one "
                 f"{gpu.name} ({gpu.usable / 2**30:.0f} GiB): states fully sharded over data parallel (FSDP) assumed")
    if count and state / count > gpu.usable:
        notes.append(f"even fully sharded over {count} GPUs the training state does not fit: the source's run "
                     "must have offloaded or used a layout it does not state")
    return "full"


# engines whose pipeline runs one schedule unless told otherwise: DeepSpeed's PipelineEngine has only 1F1B
# (deepspeed/runtime/pipe/schedule.py TrainSchedule); torchtitan's config defaults to "1F1B"
# (parallelism.pipeline_parallel_schedule)
_ONE_F_ONE_B = ("deepspeed", "torchtitan")


def _default_schedule(spec: Any, engine: str, pp: int, m: int, notes: list[str]) -> str:
    """The pipeline schedule of a case that states neither a schedule nor virtual stages: 1F1B for an engine
    whose pipeline defaults to it (DeepSpeed, torchtitan); else (Megatron-LM, NeMo, a paper's own stack)
    the interleaved schedule with `train.default_virtual_stages` (24 of the 29 Megatron rows of the
    calibration that state theirs interleave, and the Llama 3 paper's 4D parallelism does, sec. 3.3.2;
    at 16 micro-batches on 16 stages 1F1B would idle half of each step)."""
    if pp == 1:
        return "1f1b"
    if engine in _ONE_F_ONE_B or m % pp:
        why = f"{engine}'s default" if engine in _ONE_F_ONE_B else \
            f"Megatron interleaves only when the micro-batches ({m}) divide by PP ({pp})"
        notes.append(f"pipeline schedule not given: 1F1B assumed ({why}), bubble "
                     f"(p − 1)/(m + p − 1) = {pp - 1}/{m + pp - 1}")
        return "1f1b"
    v = T.default_virtual_stages(spec.num_layers, pp)
    notes.append(f"pipeline schedule not given: interleaved 1F1B with {v} virtual stages per rank assumed "
                 f"(what published Megatron-style runs at PP > 1 use), bubble (p − 1)/v over m + (p − 1)/v = "
                 f"{(pp - 1) / v:.3g}/{m + (pp - 1) / v:.4g}")
    return "interleaved"


def train_metric(spec: Any, gpu: Any, case: Any, w: Mapping[str, Any], notes: list[str]) -> tuple[float, list[str]]:
    from llmsize.speedmodel.efficiency import engine_name

    engine = engine_name(case.engine)  # as the table names it: "DeepSpeed", "Megatron-LM" and the like read so
    lay = w.get("layout") or {}
    shard = "full" if lay.get("zero") == 3 or lay.get("fsdp") == "full_shard" else "none"
    if not lay:
        notes.append("layout not given: data parallel only, no pipeline bubble assumed")
        shard = _default_shard(spec, gpu, case.count, notes)
        if not case.count:
            # ASSUMES: a per-GPU rate needs no GPU count unless communication is timed; it is not timed
            notes.append("hardware.count not given: steady-state compute rate per GPU, no communication timed")
    ep = int(lay.get("ep") or 1) if lay else _default_ep(spec, case, notes)
    pp = int(lay.get("pp") or 1)
    dp = int(lay.get("dp") or max((case.count or 1) // (pp * int(lay.get("tp") or 1) * int(lay.get("cp") or 1)), 1))
    dp = max(dp, ep) if not lay else dp  # EP ranks are data-parallel ranks of the dense layers
    micro = int(w.get("micro_batch") or 1)
    gb = w.get("global_batch")
    m = max(int(gb) // (micro * dp), 1) if gb else 1
    if pp > 1 and not gb:
        notes.append("global batch not given: one micro-batch per step assumed for the bubble")
    seq = int(_get(w, "seq", 2048, notes))
    overlap = lay.get("tp_overlap")
    if overlap is not None and not isinstance(overlap, bool):
        raise LlmsizeError(f"layout.tp_overlap must be true, false or null, got {overlap!r}")
    sched = lay.get("schedule") or ("interleaved" if lay.get("virtual_stages") else _default_schedule(
        spec, engine, pp, m, notes))
    if sched == "interleaved" and pp > 1 and lay.get("schedule") and not lay.get("virtual_stages"):
        notes.append(f"virtual_stages not given: {T.default_virtual_stages(spec.num_layers, pp)} per rank assumed "
                     "(about one layer each)")
    r = T.train(spec, gpu, engine=engine, precision=w.get("precision"), seq=seq,
                recompute=_get(w, "recompute", "none", notes), pp=pp, micro_batches=m, schedule=sched,
                virtual_stages=lay.get("virtual_stages"), tp=int(lay.get("tp") or 1), micro_batch=micro,
                gpus_per_node=case.gpus_per_node, dp=dp,
                shard=shard, step_tokens=int(gb) * seq if gb else None, cp=int(lay.get("cp") or 1), ep=ep,
                tp_overlap=bool(overlap), **_ep_options(lay, engine, ep, notes))
    _path_note(gpu, w.get("precision") or "bf16-mixed", r.path, notes)
    metric = case.metric
    if metric == "tokens_per_s_per_gpu":
        return r.tokens_per_s_per_gpu, notes
    if metric == "model_tflops_per_gpu":
        return r.model_tflops_per_gpu, notes
    tokens = w.get("tokens")
    if not tokens:
        raise LlmsizeError(f"{metric} needs workload.tokens (the tokens of the whole run)")
    hours = T.run_gpu_hours(tokens, r.tokens_per_s_per_gpu)
    if metric == "gpu_hours":
        return hours, notes
    if not case.count:
        raise LlmsizeError("days needs hardware.count (GPUs of the run)")
    return hours / case.count / 24, notes
