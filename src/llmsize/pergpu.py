"""Training memory per GPU for a layout: the one function `train`, `plan`, `fit` and the exports call.

Two routes, chosen by the layout, never by the caller:
  * replayed (exact): pure data parallelism with FSDP (FSDP2 `fully_shard`: full_shard, shard_grad_op,
    hybrid_shard) or DDP, and PyTorch tensor parallelism (DTensor, Hugging Face's tp_plan) under DDP or
    FSDP2 (2-D: each TP rank's local model sharded over the data-parallel ranks);
    full fine-tuning, no offload. The single-device replay's tensors and lifetimes with FSDP's buffers
    (`llmsize.memory.fsdp`), each TP rank's local shapes (`llmsize.memory.tp`), DDP's buckets.
  * placed: everything else (ZeRO, tensor / pipeline / context / expert parallelism, offload, LoRA):
    the single-device bytes by category placed on GPUs by the exact parameter fractions
    (`llmsize.parallel.per_gpu`).

Source: pytorch-fsdp2
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.errors import LlmsizeError
from llmsize.parallel import GpuMemory, Layout, per_gpu
from llmsize.params import Term
from llmsize.spec import ModelSpec

# FSDP2's MixedPrecisionPolicy for a job trained in bf16 with fp32 master weights (accelerate and
# torchtitan's recipe): bf16 all-gather and compute, fp32 reduce-scatter.
MP_REDUCE = "fp32"


def route(layout: Layout, wl, spec: ModelSpec | None = None) -> str:
    """Which model covers `layout` for workload `wl`: "fsdp", "ddp", "tp" (replayed) or "placed"."""
    plain = (layout.pp == layout.cp == layout.ep == 1 and layout.offload_optimizer == "none"
             and layout.offload_params == "none" and wl.lora is None)
    if not plain:
        return "placed"
    if layout.tp > 1:
        from llmsize.memory.tp import tp_spec

        if layout.sequence_parallel:
            return "placed"
        try:
            if spec is not None:
                tp_spec(spec, layout.tp)
        except LlmsizeError:
            return "placed"  # a model the TP replay does not cover (experts, MLA, fused projections)
    if layout.engine == "fsdp" and layout.fsdp != "no_shard":
        return "fsdp"  # with tp > 1: FSDP2 over the data-parallel mesh dimension of each TP rank's model
    if layout.engine == "ddp":
        return "ddp" if layout.tp == 1 else "tp"
    return "placed"


def fsdp_setup(layout: Layout, wl, rank: int = 0):
    """The FSDP2 job one rank of `layout` runs: shard group, reshard_after_forward of the decoder layers
    (full_shard and hybrid_shard: True unless the layout says otherwise; shard_grad_op: False), and the
    mixed-precision policy (autocast in the workload = fp32 master, param_dtype = the autocast dtype,
    reduce in fp32)."""
    from llmsize.memory.fsdp import FsdpSetup

    group = layout.shard
    raf = layout.reshard_after_forward
    if raf is None:
        raf = layout.fsdp != "shard_grad_op"
    amp = wl.autocast
    return FsdpSetup(world=group, rank=rank, reshard_after_forward=raf, param_dtype=amp,
                     reduce_dtype=MP_REDUCE if amp else None, replicas=layout.dp // group)


def _ddp(spec: ModelSpec, wl, layout: Layout) -> GpuMemory:
    """DDP (over TP ranks when tp > 1): the rank's replayed peak + DDP's gradient buckets (a second
    copy of every local gradient unless gradient_as_bucket_view=True; none with one replica) + the
    input ids.

    M = M_rank + G_local·[dp > 1] + b·s·8

    Source: pytorch-ddp"""
    from llmsize.memory import estimate
    from llmsize.memory.tp import tp_peak, tp_spec
    from llmsize.memory.weights import weights

    ids = wl.batch * wl.seq_len * 8
    if layout.tp > 1:
        r = tp_peak(spec, wl, layout.tp)
        terms = [Term(name=n, value=v, formula=_FORMULA.get(n, n), source="pytorch-tp") for n, v in r.parts]
        peak, phase, where, local = r.peak_bytes, r.phase, r.where, tp_spec(spec, layout.tp)
    else:
        est = estimate(spec, wl)
        terms = [Term(name=t.name, value=t.bytes, formula=t.formula, source=t.source) for t in est.terms]
        terms.append(Term(name="input ids", value=ids, formula="b·s·8", source="pytorch-ddp"))
        peak, phase, where, local = est.peak_bytes + ids, est.peak_phase, est.peak_phase, spec
    g = weights(local, wl).trainable_bytes if layout.dp > 1 else 0
    terms.append(Term(name="DDP gradient buckets", value=g, formula="Σ local gradients (gradient_as_bucket_view="
                      "False)", source="pytorch-ddp"))
    total = peak + g
    return GpuMemory(layout=layout, peak_bytes=total, stage=0, terms=tuple(x for x in terms if x.value),
                     per_stage=(total,), phase=phase, where=where, rank=0)


_FORMULA = {
    "sharded parameters": "Σ ⌈d0/W⌉·(numel/d0)·master bytes (dim-0 shards padded to W)",
    "optimizer states": "optimizer states of this rank's rows (AdamW: 2·local·s + 4·tensors)",
    "sharded gradients": "Σ ⌈d0/W⌉·(numel/d0)·master bytes (views of the reduce-scatter output)",
    "root unsharded": "root group (embeddings, final norm, head) all-gathered: Σ W·⌈d0/W⌉·(numel/d0)·compute "
                      "bytes (views into padded all-gather outputs)",
    "layers unsharded": "decoder layers all-gathered: Σ W·⌈d0/W⌉·(numel/d0)·compute bytes",
    "all gather buffers": "flat all-gather outputs: Σ W·⌈d0/W⌉·(numel/d0)·compute bytes",
    "reduce scatter buffers": "flat reduce-scatter inputs: Σ W·⌈d0/W⌉·(numel/d0)·reduce bytes (+ output)",
    "root gradients": "root group's unsharded gradients (compute dtype) until its post-backward",
    "saved activations": "tensors saved for backward (single-device replay)",
    "held": "held by the model body (embeddings, masks)",
    "working set": "tensors alive at this moment of the replay",
    "input ids": "b·s·8",
    "buffers": "rotary inv_freq buffers",
    "optimizer step temporaries": "foreach step temporaries of this rank's rows",
    "loss": "fp32 loss scalar",
    "reduce scatter cast": "reduce-scatter output cast to the master dtype",
}


def _fsdp(spec: ModelSpec, wl, layout: Layout, rank: int | None) -> GpuMemory:
    from llmsize.memory.fsdp import fsdp2_peak

    group = layout.shard
    ranks = [rank] if rank is not None else sorted({0, group - 1})
    if layout.tp > 1:  # 2-D: each TP rank's local model (`memory.tp`), sharded by FSDP2 over the DP ranks
        from llmsize.memory.tp import tp_spec

        spec = tp_spec(spec, layout.tp)
    peaks = [fsdp2_peak(spec, wl, fsdp_setup(layout, wl, r)) for r in ranks]
    best = max(peaks, key=lambda p: p.peak_bytes)
    terms = tuple(Term(name=n, value=v, formula=_FORMULA.get(n, n), source="pytorch-fsdp2") for n, v in best.parts)
    notes = tuple(f"{k}: {v:,} B" for k, v in best.phases.items())
    return GpuMemory(layout=layout, peak_bytes=best.peak_bytes, stage=0, terms=terms, per_stage=(best.peak_bytes,),
                     notes=notes, phase=best.phase, where=best.where, rank=best.rank)


def train_memory(spec: ModelSpec, wl, layout: Layout, *, rank: int | None = None) -> GpuMemory:
    """Bytes on the most loaded GPU (or on `rank` of the shard group, replayed route only) training
    `wl` (one micro-batch; its grad_accumulation = micro-batches per step) under `layout`.

    Source: pytorch-fsdp2"""
    if wl.mode != "train":
        raise LlmsizeError("train_memory() needs a training workload")
    if layout.grad_accum != wl.grad_accumulation or layout.micro_batch != wl.batch:
        layout = replace(layout, grad_accum=wl.grad_accumulation, micro_batch=wl.batch)
    way = route(layout, wl, spec)
    if way == "fsdp":
        return _fsdp(spec, wl, layout, rank)
    if rank is not None:
        raise LlmsizeError("--rank applies to FSDP layouts without TP, PP, CP, EP or offload (the other "
                           "replayed layouts are the same on every rank)")
    if way in ("ddp", "tp"):
        return _ddp(spec, wl, layout)
    return job_memory(spec, job_of(wl), layout, micro_batch=wl.batch, seq_len=wl.seq_len)


def job_of(wl):
    """The planner's TrainJob for a training workload (precision and optimizer it can place)."""
    from llmsize.planner.jobs import TrainJob

    if wl.autocast == "bf16" and wl.weights_dtype == "fp32":
        prec = "bf16-mixed"
    elif wl.autocast is None and wl.weights_dtype in ("bf16", "fp32"):
        prec = wl.weights_dtype
    else:
        raise LlmsizeError("this layout is placed by parameter fractions, which know bf16, fp32 and bf16 "
                           "autocast over fp32 weights: use --precision bf16-mixed, bf16 or fp32")
    opt = {"adamw": "adamw", "adam": "adamw", "sgd": "sgd"}.get(wl.opt)
    if opt is None:
        raise LlmsizeError(f"this layout is placed by parameter fractions, which know adamw and sgd, not {wl.opt}")
    return TrainJob(seq_len=wl.seq_len, micro_batch=wl.batch, precision=prec, optimizer=opt,
                    recompute=wl.grad_checkpointing, lora_rank=wl.lora.r if wl.lora else None)


def job_workload(job, micro_batch: int, seq_len: int, grad_accum: int = 1):
    """The workload one GPU runs for a planner job: bf16-mixed = fp32 master weights with a bf16
    compute dtype (FSDP2 MixedPrecisionPolicy / autocast), bf16 and fp32 as themselves; fp8-mixed holds
    what bf16-mixed does (its FP8 casts are per-GEMM temporaries)."""
    from llmsize.memory import LoRA, Workload

    mixed = job.precision in ("bf16-mixed", "fp8-mixed")
    return Workload(mode="train", batch=micro_batch, seq_len=seq_len, weights_dtype="fp32" if mixed else job.precision,
                    autocast="bf16" if mixed else None, optimizer=job.optimizer, grad_checkpointing=job.recompute,
                    grad_accumulation=grad_accum, lora=LoRA(r=job.lora_rank) if job.lora_rank else None)


def job_memory(spec: ModelSpec, job, layout: Layout, *, breakdown=None, micro_batch: int | None = None,
               seq_len: int | None = None) -> GpuMemory:
    """Per-GPU training memory of a planner job on `layout`: `train_memory` of the job's workload when
    the replay covers the layout, else the job's breakdown (or `breakdown`) placed by `per_gpu` — the
    same numbers `train --gpus` prints for that layout.

    Source: pytorch-fsdp2"""
    mb, s = micro_batch or job.micro_batch, seq_len or job.seq_len
    wl = job_workload(job, mb, s, layout.grad_accum)
    if breakdown is None and route(layout, wl, spec) != "placed":
        return train_memory(spec, wl, layout)
    if breakdown is None:
        from llmsize.planner import jobs

        breakdown = jobs.train_breakdown(spec, job, micro_batch, seq_len)
    return per_gpu(spec, breakdown, layout)


def infer_memory(spec: ModelSpec, wl, layout: Layout) -> GpuMemory:
    """Inference per GPU of a TP × PP replica. TP alone on a model the TP replay covers: the
    replay of one rank's local model (heads, KV heads and FFN / t; embeddings and head replicated).
    Otherwise the single-device estimate's weights, KV cache and activations placed by the exact
    parameter, layer and KV-head fractions (`parallel.per_gpu`), as `plan --serve` places vLLM's.

    Source: shoeybi2019"""
    from llmsize.memory import estimate
    from llmsize.parallel import Breakdown

    if wl.mode == "train":
        raise LlmsizeError("infer_memory() needs an inference workload")
    if layout.pp == 1:
        from llmsize.memory.tp import tp_spec

        try:
            local = tp_spec(spec, layout.tp)
        except LlmsizeError:
            local = None
        if local is not None:  # each TP rank runs the model with its local heads and FFN: replay that
            est = estimate(local, wl)
            terms = tuple(Term(name=t.name, value=t.bytes, formula=t.formula, source=t.source) for t in est.terms)
            return GpuMemory(layout=layout, peak_bytes=est.peak_bytes, stage=0, terms=terms,
                             per_stage=(est.peak_bytes,), phase=est.peak_phase, where=est.peak_phase, rank=0)
    cat = estimate(spec, wl).by_category()
    w = cat.get("weights", 0) + cat.get("master_weights", 0)
    from llmsize.planner.jobs import spec_params

    bd = Breakdown(weights=w, activations=cat.get("activations", 0), transient=cat.get("transient", 0),
                   kv_cache=cat.get("kv_cache", 0), weight_bytes_per_param=w / max(spec_params(spec), 1))
    return per_gpu(spec, bd, layout)
