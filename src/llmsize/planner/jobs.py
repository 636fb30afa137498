"""What the planner is asked to run (a training or a serving job) and the one bridge to the memory
model: `train_breakdown` / `serve_breakdown` turn `llmsize.memory.estimate` (and, for vLLM serving,
`llmsize.memory.device_estimate`) into the per-category bytes that `llmsize.parallel` places on
GPUs. Nothing here re-derives a memory formula: bytes are read off the memory model's terms and phase
peaks, and quantized weights and the KV cache come from llmsize.quant's exact layouts."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from llmsize.bounds import check_all
from llmsize.errors import LlmsizeError
from llmsize.parallel import Breakdown, Layout
from llmsize.planner.serve_job import (  # noqa: F401  (re-exported: the planner's serving vocabulary)
    DEFAULT_UTILIZATION, KV_DTYPES, LLAMACPP_KV, MAX, OWN_MEMORY_ENGINES, SERVE_WEIGHTS, ServeJob,
    positive as _pos)
from llmsize.spec import ModelSpec

TRAIN_PRECISIONS = ("bf16-mixed", "bf16", "fp8-mixed", "fp32")
# ASSUMES: a node of 8 GPUs has the host memory of an NVIDIA DGX H100/H200, "2 TB of DDR5 system memory"
# (NVIDIA DGX BasePOD reference architecture), built from 32 x 64 GB DIMMs (MLCommons v4.1 DGX-H200
# system description), i.e. 2 TiB. Offloaded bytes per node are checked against it (--host-memory).
DEFAULT_HOST_MEMORY = 2 * 2**40  # Source: nvidia-dgx-h100
# ASSUMES: that node's host memory bandwidth, for the host's optimizer step under offload: two Xeon Platinum
# 8480C with 8 DDR5 channels each (Sapphire Rapids), 32 DIMMs = two per channel, which runs them at 4400 MT/s
# (4800 with one per channel): 2 x 8 x 4400e6 x 8 B = 563.2 GB/s, a peak the CPU's Adam does not exceed.
DEFAULT_HOST_BANDWIDTH = 2 * 8 * 4400e6 * 8  # Source: nvidia-dgx-h100


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainJob:
    """A training run: sequences of `seq_len` tokens, `global_batch` sequences per optimizer step,
    `tokens` in all (for time and cost)."""

    seq_len: int = 4096
    micro_batch: int = 1
    global_batch: int = 1024
    tokens: float | None = None
    precision: str = "bf16-mixed"  # bf16 weights + fp32 master + fp32 Adam (DeepSpeed/Megatron/FSDP default)
    optimizer: str = "adamw"
    recompute: bool = True
    lora_rank: int | None = None
    mfu: float | None = None  # None: the achieved efficiency of the layout's engine on the GPU (speedmodel)
    max_days: float | None = None  # slower setups are rejected as "too slow"
    goodput: float | None = None  # share of a run's wall time in training steps (None: speedmodel.train.GOODPUT)
    host_memory: int = DEFAULT_HOST_MEMORY  # host (CPU) memory per node of 8 GPUs, bytes
    nvme: int | None = None  # NVMe capacity per node for ZeRO-Infinity offload, bytes (None: unknown)

    def __post_init__(self) -> None:
        _pos("train job", seq_len=self.seq_len, micro_batch=self.micro_batch, global_batch=self.global_batch,
             tokens=self.tokens, mfu=self.mfu, max_days=self.max_days, lora_rank=self.lora_rank)
        check_all("train job", {"seq_len": (self.seq_len, "context"), "micro_batch": (self.micro_batch, "batch"),
                                "global_batch": (self.global_batch, "global_batch"), "lora_rank": (self.lora_rank, "width")})
        for k in ("host_memory", "nvme"):
            v = getattr(self, k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                raise LlmsizeError(f"train job: {k.replace('_', ' ')} must be a positive whole number of bytes, "
                                   f"got {v!r}")
        from llmsize.speedmodel.train import check_goodput

        check_goodput(self.goodput, "train job: goodput")
        if self.precision not in TRAIN_PRECISIONS:
            raise LlmsizeError(f"train job: precision must be one of {', '.join(TRAIN_PRECISIONS)}")
        if self.optimizer not in ("adamw", "sgd"):
            raise LlmsizeError("train job: optimizer must be adamw or sgd")
        if self.mfu is not None and self.mfu > 1:
            raise LlmsizeError(f"train job: MFU must be at most 1, got {self.mfu}")

    def with_(self, **kw: Any) -> TrainJob:
        return replace(self, **kw)




# -- the bridge to llmsize.memory -----------------------------------------------------------------
#
# Training. The engines the planner lays out (Megatron-LM, DeepSpeed, FSDP with a bf16 param dtype, DDP)
# keep the model itself in the compute dtype (bf16 weights, bf16 gradients, bf16 activations and
# residual stream) and, for "bf16-mixed", an fp32 master copy and fp32 Adam states beside it: the
# ZeRO paper's 2 + 2 + 4 + 8 bytes per parameter. Two runs of the memory model give those bytes:
#
#   model run   Workload(weights_dtype = compute dtype, optimizer "sgd" (no states, no step
#               temporaries), grad_accumulation 2 (gradients live through the whole step, as in every
#               engine's gradient buffer), checkpointing and LoRA as the job says)
#               -> weights, gradients, saved activations and the working set at its peak
#   states run  Workload(weights "fp32" + autocast "bf16" for bf16-mixed, else the compute dtype;
#               the job's optimizer) -> its "master_weights" and "optimizer" terms, which are live in
#               every phase, so the peak holds all of them
#
# The optimizer step's own temporaries (torch's foreach Adam: one extra copy of the states' size) are
# left out: Megatron-LM, DeepSpeed and Apex/TE use fused multi-tensor Adam, and a sharded optimizer's
# temporaries shrink with its shard, which a whole-model byte count cannot say.
# ASSUMES: fp8-mixed (Transformer Engine / torchao float8) keeps bf16 weights, fp32 master weights and
# Adam states as bf16-mixed does, casting to FP8 per GEMM; its memory is bf16-mixed's (the FP8 copies are
# transient and activations saved in FP8 would only lower the peak)
_MODEL_DTYPE = {"bf16-mixed": "bf16", "bf16": "bf16", "fp8-mixed": "bf16", "fp32": "fp32"}
_MIXED = ("bf16-mixed", "fp8-mixed")


def make_job(mode: str = "serve", *, seq: int = 4096, micro_batch: int | str | None = 1, global_batch: int = 1024,
             tokens: float | None = None, precision: str = "bf16-mixed", mfu: float | None = None,
             recompute: bool = True, max_days: float | None = None, goodput: float | None = None,
             host_memory: str | int | None = None,
             nvme: str | int | None = None, prompt: int = 1024, output: int = 256, concurrency: int | str | None = None,
             weights: str = "bf16", kv_dtype: str = "auto", gpu_memory_utilization: float | None = None,
             target_tps: float | None = None, engine: str | None = None, mbu: float | None = None,
             prefill_efficiency: float | None = None, ttft: float | None = None, tpot: float | None = None,
             request_rate: float | None = None,
             host_memory_name: str = "host_memory",
             nvme_name: str = "nvme", flags: bool = False) -> TrainJob | ServeJob:
    """The TrainJob (mode 'train') or ServeJob that `--train`/`--serve` and their options describe. Only
    an absent MFU or host memory takes the default; a given value goes to the job, which refuses bad ones.
    Training-only values given for serving are refused, never dropped. A micro-batch not given is 1; a
    concurrency not given is 1, or with a request rate on a paged-KV engine (vllm, sglang, trt-llm) "max":
    the engine batches what arrives up to its own cap (max sequences, KV capacity), as `vllm bench serve
    --request-rate` runs with no --max-concurrency. Sizes are read with parse_bytes;
    its errors name them `host_memory_name` / `nvme_name`; other errors name CLI flags when `flags`, else
    the JSON fields."""
    micro_batch = 1 if micro_batch is None else micro_batch
    if mode == "train" and micro_batch == "max":
        batch = "--batch" if flags else "batch"
        raise LlmsizeError(f"{batch} max is a serving run's (every request queued at once); a training micro-batch "
                           f"is a whole number of sequences: give {batch} 1 or more ("
                           f"{'`plan --train --find batch`' if flags else 'fit with find batch'} gives the largest "
                           "that fits)")
    if mode == "train":
        given = [k for k, v in (("mbu", mbu), ("prefill_efficiency", prefill_efficiency), ("ttft", ttft),
                                ("tpot", tpot), ("request_rate", request_rate), ("target_tps", target_tps),
                                ("gpu_memory_utilization", gpu_memory_utilization)) if v is not None]
        if engine not in (None, "vllm"):
            given.append("engine")
        if given:
            names = [f"--{k.replace('_', '-')}" if flags else k for k in given]
            raise LlmsizeError(f"{', '.join(names)} appl{'ies' if len(names) == 1 else 'y'} to serving, not training")
    if mode != "train":
        # each rate and limit by the name it was given under (--prefill-efficiency, not prefill_mfu), and only
        # the one that is wrong
        for k, v, share in (("mbu", mbu, True), ("prefill_efficiency", prefill_efficiency, True),
                            ("target_tps", target_tps, False), ("request_rate", request_rate, False),
                            ("ttft", ttft, False), ("tpot", tpot, False),
                            ("gpu_memory_utilization", gpu_memory_utilization, True)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                                  or v <= 0 or share and v > 1):
                name = f"--{k.replace('_', '-')}" if flags else k
                raise LlmsizeError(f"{name} must be {'a share in (0, 1]' if share else 'a positive finite number'}, "
                                   f"got {v!r}")
        given = [k for k, v in (("mfu", mfu), ("max_days", max_days), ("goodput", goodput),
                                ("host_memory", host_memory), ("nvme", nvme)) if v is not None]
        if given:
            names = [f"--{k.replace('_', '-')}" if flags else k for k in given]
            raise LlmsizeError(f"{', '.join(names)} appl{'ies' if len(names) == 1 else 'y'} to training "
                               f"({'--train' if flags else 'mode train'}), not serving")
    if mode == "train":
        from llmsize.catalog.hardware import parse_bytes
        from llmsize.speedmodel.train import check_goodput

        if max_days is not None and tokens is None:
            raise LlmsizeError(f"{'--max-days' if flags else 'max_days'} bounds a run's days, which need its tokens: "
                               f"give {'--tokens' if flags else 'tokens'} (e.g. 1e12)")

        check_goodput(goodput, "--goodput" if flags else "goodput")

        return TrainJob(seq_len=seq, micro_batch=micro_batch, global_batch=global_batch, tokens=tokens,
                        precision=precision, mfu=mfu, recompute=recompute,
                        max_days=max_days, goodput=goodput,
                        host_memory=DEFAULT_HOST_MEMORY if host_memory is None else
                        parse_bytes(host_memory, host_memory_name),
                        nvme=None if nvme is None else parse_bytes(nvme, nvme_name))
    from llmsize.speedmodel.efficiency import engine_weights

    # the engine's own file type of that name (llama.cpp's MXFP4 is MXFP4_MOE), shown as the report's weights
    weights = engine_weights(engine, weights)[0]
    if concurrency is None:
        from llmsize.speedmodel.efficiency import engine_name

        paged = engine_name(engine or "vllm") not in OWN_MEMORY_ENGINES
        concurrency = MAX if request_rate is not None and paged else 1
    return ServeJob(prompt_len=prompt, output_len=output, concurrency=concurrency, weights=weights,
                    kv_dtype=kv_dtype, gpu_memory_utilization=gpu_memory_utilization, min_tokens_per_s=target_tps,
                    engine=engine or "vllm", mbu=mbu, prefill_mfu=prefill_efficiency, max_ttft_s=ttft,
                    request_rate=request_rate,
                    max_tpot_s=None if tpot is None else tpot / 1000)


def make_layout(gpus: int | None = None, *, tp: int = 1, pp: int = 1, cp: int = 1, ep: int = 1, zero: int = 0,
                fsdp: str | None = None, offload_optimizer: str = "none", offload_params: str = "none",
                schedule: str = "1f1b", virtual_stages: int | None = None, layers: int | None = None) -> Layout:
    """The Layout that `--gpus --tp --pp --cp --ep --zero --fsdp --offload-* --schedule --virtual-stages`
    describe: GPUs default to TP x PP x CP, which must divide them; the engine follows from the options
    (FSDP, DeepSpeed for ZeRO or offload, Megatron for TP/PP with data parallelism, else DDP). A schedule
    other than 1F1B needs PP > 1; virtual stages go with the interleaved one only, and default to the model's
    `layers` in chunks of one layer per pipeline rank, as `validate` times an unsaid interleaved layout
    (speedmodel.train.default_virtual_stages)."""
    if schedule not in ("1f1b", "interleaved", "zero-bubble"):
        raise LlmsizeError(f"schedule must be 1f1b, interleaved or zero-bubble, got {schedule!r}")
    if schedule != "1f1b" and pp < 2:
        raise LlmsizeError(f"the {schedule} schedule needs --pp > 1 (got PP {pp})")
    if virtual_stages is not None and schedule != "interleaved":
        raise LlmsizeError("--virtual-stages applies to --schedule interleaved")
    v = 1
    if schedule == "interleaved":
        if virtual_stages is None and layers is None:
            raise LlmsizeError("--schedule interleaved without --virtual-stages needs the model's layers")
        from llmsize.speedmodel.train import default_virtual_stages

        v = virtual_stages if virtual_stages is not None else \
            default_virtual_stages(layers, pp)  # type: ignore[arg-type]
    n = tp * pp * cp if gpus is None else gpus
    if n % (tp * pp * cp):
        raise LlmsizeError(f"TP {tp} × PP {pp} × CP {cp} = {tp * pp * cp} does not divide {n} GPUs")
    dp = n // (tp * pp * cp)
    if ep > 1 and (dp * cp) % ep:
        # EP splits the experts over data-parallel (x CP) ranks: without enough GPUs there are none to split over
        raise LlmsizeError(f"EP {ep} splits the experts over data-parallel ranks and must divide DP × CP, which "
                           f"is {dp * cp} on {n} GPU{'s' * (n > 1)} over TP {tp} × PP {pp} × CP {cp}; give "
                           f"--gpus {tp * pp * cp * ep} (or a multiple) with --ep {ep}")
    oo, op = offload_optimizer, offload_params
    engine = "fsdp" if fsdp else ("deepspeed" if zero or oo != "none" or op != "none" else
                                  "megatron" if tp * pp > 1 and n > tp * pp else "ddp")
    z = {"full_shard": 3, "hybrid_shard": 3, "shard_grad_op": 2, "no_shard": 0}[fsdp] if fsdp else zero
    return Layout(tp=tp, pp=pp, cp=cp, ep=ep, dp=dp, zero=z, engine=engine, fsdp=fsdp,
                  offload_optimizer=oo, offload_params=op, sequence_parallel=engine == "megatron" and tp > 1,
                  virtual_stages=v, zero_bubble=schedule == "zero-bubble")


def _memory() -> Any:
    try:
        import llmsize.memory as m
    except ModuleNotFoundError as e:
        if e.name != "llmsize.memory":
            raise
        m = None
    if m is None or not hasattr(m, "estimate"):
        raise LlmsizeError("the memory model (llmsize.memory) is not installed in this build; the planner "
                           "needs its per-category bytes")
    return m


def by_category(est: Any) -> dict[str, int]:
    """Bytes by category of the terms live at the estimate's peak (MemoryEstimate.terms are exactly those)."""
    out = dict.fromkeys(("weights", "gradients", "optimizer", "master_weights", "activations", "transient",
                         "kv_cache", "device"), 0)
    for t in est.terms:
        out[t.category] = out.get(t.category, 0) + int(t.bytes)
    return out


def _lora(job: TrainJob) -> Any:
    return _memory().LoRA(r=job.lora_rank) if job.lora_rank else None


def train_workload(job: TrainJob, micro_batch: int, seq_len: int) -> Any:
    """The model run: the compute-dtype model with its gradients kept across micro-batches, no optimizer."""
    return _memory().Workload(mode="train", batch=micro_batch, seq_len=seq_len,
                              weights_dtype=_MODEL_DTYPE[job.precision], optimizer="sgd",
                              grad_checkpointing=job.recompute, grad_accumulation=2, lora=_lora(job))


def states_workload(job: TrainJob) -> Any:
    """The states run: fp32 master weights under bf16 autocast for bf16-mixed (LoRA adapters are fp32
    already, so a LoRA job has no master copy), the job's optimizer. Shapes do not change states."""
    mixed = job.precision in _MIXED and not job.lora_rank
    return _memory().Workload(mode="train", batch=1, seq_len=1, weights_dtype="fp32" if mixed else
                              _MODEL_DTYPE[job.precision], autocast="bf16" if mixed else None,
                              optimizer=job.optimizer, lora=_lora(job))


@lru_cache(maxsize=512)
def _train_bytes(spec: ModelSpec, precision: str, optimizer: str, recompute: bool, lora_rank: int | None,
                 micro_batch: int, seq_len: int) -> tuple[int, int, int, int, int, int]:
    """(weights, gradients, optimizer, master_weights, activations, transient), whole model, one device.
    Cached per model, precision and (micro-batch, sequence): the search never re-runs the memory model."""
    m = _memory()
    job = TrainJob(precision=precision, optimizer=optimizer, recompute=recompute, lora_rank=lora_rank)
    est = m.estimate(spec, train_workload(job, micro_batch, seq_len))
    c = by_category(est)
    w = c["weights"]
    g = est.phases["optimizer step"] - w  # the SGD step holds the weights and every gradient, nothing else
    a, t = c["activations"], c["transient"]
    if c["gradients"] > g:
        # ASSUMES: the memory model counts this micro-batch's gradients on top of the accumulated ones
        # during backward (torch accumulates into .grad in place), so a backward peak with more than the
        # accumulated gradients is not the engines' peak. Then the forward peak is used: weights +
        # gradients + everything the forward holds, all placed as activations.
        fwd = est.phases["forward"] - w - g
        if fwd > a + t:
            a, t = fwd, 0
    st = by_category(m.estimate(spec, states_workload(job)))
    return w, g, st["optimizer"], st["master_weights"], a, t


def train_breakdown(spec: ModelSpec, job: TrainJob, micro_batch: int | None = None,
                    seq_len: int | None = None) -> Breakdown:
    """Whole-model bytes by category for one micro-batch of training, from the memory model."""
    w, g, o, mw, a, t = _train_bytes(spec, job.precision, job.optimizer, job.recompute, job.lora_rank,
                                     micro_batch or job.micro_batch, seq_len or job.seq_len)
    params = max(spec_params(spec), 1)
    return Breakdown(weights=w, gradients=g, optimizer=o, master_weights=mw, activations=a, transient=t,
                     weight_bytes_per_param=w / params, grad_bytes_per_param=g / params)


# Serving is vLLM's: weights as stored (quantized formats at their exact bytes from llmsize.quant, the
# same bytes `llmsize quant` and `design` feed the memory model), a KV cache of every sequence's whole
# context in vLLM's layout (MLA as its latent), vLLM's profiled activation peak as the working set and
# its rotary cos/sin cache as a per-GPU buffer (llmsize.memory.device_estimate's vLLM view).
_QUANT = {"fp8": "fp8", "int8": "int8", "nf4": "nf4", "gptq-int4": "gptq-int4-g128", "awq-int4": "awq-int4-g128"}
_DEQUANTIZING = ("nf4",)  # bitsandbytes dequantizes a whole weight to 16 bits per matmul (quant.memory_bridge)
_NOMINAL_GPU = 1 << 50  # the vLLM terms read below do not depend on the GPU's size


def compute_dtype(spec: ModelSpec, weights: str) -> str:
    if weights in ("bf16", "fp16"):
        return weights
    return "fp16" if str(spec.dtype).lower() in ("float16", "fp16") else "bf16"


def weight_override(spec: ModelSpec, weights: str) -> tuple[int | None, float | None]:
    """(exact weight bytes, bits per weight where bitsandbytes dequantizes per matmul) of a serving format
    other than bf16/fp16 (None, None for those): `llmsize.quant.weight_plan`, as `quant` and `design` use."""
    if weights in ("bf16", "fp16"):
        return None, None
    from llmsize.quant import weight_plan

    plan = weight_plan(spec, _QUANT.get(weights, weights))
    return plan.bytes, float(plan.bits_per_weight) if weights in _DEQUANTIZING else None


@lru_cache(maxsize=512)
def _serve_bytes(spec: ModelSpec, weights: str, kv_dtype: str, utilization: float, concurrency: int,
                 context: int, profile: tuple[int, int]) -> tuple[int, int, int, int, int]:
    """(weights, activations, transient, kv_cache, per-GPU buffers) for `concurrency` sequences of `context`,
    the working set that of a profile run of `profile` = (tokens, sequences)."""
    from llmsize.quant.kv import kv_cache_bytes

    m = _memory()
    c = compute_dtype(spec, weights)
    override, bits = weight_override(spec, weights)
    # the cache's own type (llama.cpp's q8_0 ... in ggml blocks); the memory model's working set in the
    # compute dtype, or fp8 for vLLM's fp8 cache
    kv = c if kv_dtype == "auto" else kv_dtype
    wl = m.Workload(mode="generate", batch=concurrency, seq_len=context, new_tokens=1, weights_dtype=c,
                    kv_cache_dtype="fp8" if kv.startswith("fp8") else c)
    est = m.estimate(spec, wl, weights_bytes_override=override, weight_bits=bits)
    cat = by_category(est)
    kv_bytes = kv_cache_bytes(spec, context, kv, batch=concurrency)
    if not hasattr(m, "device_estimate"):  # the HF prefill's working set stands in for vLLM's profile
        return cat["weights"], cat["activations"], cat["transient"], kv_bytes, 0
    d = m.device_estimate(est, "vllm", _NOMINAL_GPU, spec=spec, gpu_memory_utilization=utilization,
                          seq_tokens=context, batch=concurrency, compute_bytes=2 if c != "fp32" else 4,
                          max_num_batched_tokens=profile[0], max_num_seqs=profile[1])
    dc = by_category(d)
    buffers = dc["weights"] - est.weights_bytes  # rotary cos/sin cache, whole on every GPU
    return cat["weights"], 0, dc["activations"], kv_bytes, buffers


def serve_breakdown(spec: ModelSpec, job: ServeJob, concurrency: int | None = None,
                    context: int | None = None, gpu: Any = None, *,
                    profile: tuple[int, int] | None = None) -> Breakdown:
    """Whole-model bytes for `concurrency` sequences of `context` tokens: weights in the job's format,
    the KV cache in its dtype, vLLM's profiled activation peak (its profile run as `vllm serve` sizes it on
    `gpu`: `profile_run`, or the (tokens, sequences) `profile` given), the per-GPU rotary cache; for
    llama.cpp and transformers what they allocate themselves (`serve_memory.engine_breakdown`)."""
    if job.engine in OWN_MEMORY_ENGINES:
        from llmsize.planner import serve_memory

        return serve_memory.engine_breakdown(spec, job, concurrency, context)
    w, a, t, kv, buf = _serve_bytes(spec, job.weights, job.kv_dtype, job.utilization,
                                    concurrency or job.sequences, context or job.context,
                                    profile or profile_run(job, gpu))
    return Breakdown(weights=w, activations=a, transient=t, kv_cache=kv, device=buf,
                     weight_bytes_per_param=w / max(spec_params(spec), 1))


def profile_run(job: ServeJob, gpu: Any = None) -> tuple[int, int]:
    """(tokens, sequences) of the profile run whose activation peak a paged-KV engine keeps out of its KV
    cache: vLLM's defaults on `gpu` (`engines.vllm.batch_defaults`; the smaller pair where no GPU is named);
    SGLang and TensorRT-LLM: `engines.vllm.STAND_IN_PROFILE`."""
    from llmsize.engines.vllm import STAND_IN_PROFILE, batch_defaults

    return batch_defaults(gpu, job.context) if job.engine == "vllm" else STAND_IN_PROFILE


@lru_cache(maxsize=64)
def spec_params(spec: ModelSpec) -> int:
    from llmsize.params import count

    return count(spec).total


def device_bytes(*, serving: bool, engine: str | None = None) -> int:
    """Per-GPU memory outside PyTorch's tensors, from llmsize.memory.device: vLLM's non-torch memory and
    CUDA graphs when serving, the CUDA context when training (measured constants, the same on every GPU);
    none for llama.cpp and transformers, whose CUDA context is a term of their own breakdown
    (`planner.serve_memory`)."""
    if serving and engine in OWN_MEMORY_ENGINES:
        return 0
    try:
        from llmsize.memory import device as dm
    except ImportError:
        raise LlmsizeError("llmsize.memory.device is not built yet: no per-GPU runtime overhead") from None
    if serving:
        return int(dm.VLLM_NON_TORCH + dm.VLLM_CUDA_GRAPHS)
    return int(dm.CUDA_CONTEXT)
