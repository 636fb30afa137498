"""What the planner is asked to run (a training or a serving job) and the one bridge to the memory
model: `breakdown(...)` turns `llmsize.memory.estimate` into per-category bytes that
`llmsize.parallel` places on GPUs. Nothing here re-derives a memory formula."""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.parallel import Breakdown
from llmsize.perf import DEFAULT_MBU, DEFAULT_MFU, DEFAULT_PREFILL_MFU
from llmsize.spec import ModelSpec

TRAIN_PRECISIONS = ("bf16-mixed", "bf16", "fp32")
SERVE_WEIGHTS = ("bf16", "fp16", "fp8", "int8", "nf4", "gptq-int4", "awq-int4")


def _pos(owner: str, **vals: Any) -> None:
    for k, v in vals.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
            raise LlmsizeError(f"{owner}: {k} must be positive, got {v!r}")


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
    mfu: float = DEFAULT_MFU
    max_days: float | None = None  # slower setups are rejected as "too slow"

    def __post_init__(self) -> None:
        _pos("train job", seq_len=self.seq_len, micro_batch=self.micro_batch, global_batch=self.global_batch,
             tokens=self.tokens, mfu=self.mfu, max_days=self.max_days, lora_rank=self.lora_rank)
        if self.precision not in TRAIN_PRECISIONS:
            raise LlmsizeError(f"train job: precision must be one of {', '.join(TRAIN_PRECISIONS)}")
        if self.optimizer not in ("adamw", "sgd"):
            raise LlmsizeError("train job: optimizer must be adamw or sgd")
        if self.mfu > 1:
            raise LlmsizeError(f"train job: MFU must be at most 1, got {self.mfu}")

    def with_(self, **kw: Any) -> TrainJob:
        return replace(self, **kw)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeJob:
    """Serving: `concurrency` requests at once, each `prompt_len` in and `output_len` out, on vLLM-style
    paged KV memory capped at `gpu_memory_utilization` of each GPU."""

    prompt_len: int = 1024
    output_len: int = 256
    concurrency: int = 1
    weights: str = "bf16"
    kv_dtype: str = "auto"
    gpu_memory_utilization: float = 0.9
    min_tokens_per_s: float | None = None  # output tokens/s the whole deployment must reach
    max_model_len: int | None = None
    prefill_mfu: float = DEFAULT_PREFILL_MFU
    mbu: float = DEFAULT_MBU

    def __post_init__(self) -> None:
        _pos("serve job", prompt_len=self.prompt_len, output_len=self.output_len, concurrency=self.concurrency,
             min_tokens_per_s=self.min_tokens_per_s, max_model_len=self.max_model_len)
        if not 0 < self.gpu_memory_utilization <= 1:
            raise LlmsizeError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")

    @property
    def context(self) -> int:
        return self.max_model_len or self.prompt_len + self.output_len

    def with_(self, **kw: Any) -> ServeJob:
        return replace(self, **kw)


# -- the bridge to llmsize.memory -----------------------------------------------------------------
_CATEGORIES = ("weights", "gradients", "optimizer", "master_weights", "activations", "transient", "kv_cache")


def _from_estimate(est: Any) -> dict[str, int]:
    """Bytes by category of the terms live in the estimate's peak phase."""
    out = dict.fromkeys(_CATEGORIES, 0)
    peak = getattr(est, "peak_phase", None)
    for t in est.terms:
        phase = getattr(t, "phase", None)
        if peak is not None and phase not in (None, peak, "all"):
            continue
        if t.category in out:
            out[t.category] += int(t.bytes)
    return out


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


def train_workload(job: TrainJob, micro_batch: int, seq_len: int) -> Any:
    m = _memory()
    LoRA, Workload = m.LoRA, m.Workload

    weights, autocast, master = {"bf16-mixed": ("bfloat16", None, True), "bf16": ("bfloat16", None, False),
                                 "fp32": ("float32", None, False)}[job.precision]
    lora = LoRA(r=job.lora_rank) if job.lora_rank else None
    return Workload(mode="train", batch=micro_batch, seq_len=seq_len, weights_dtype=weights, autocast=autocast,
                    master_weights=master, optimizer=job.optimizer, grad_checkpointing=job.recompute, lora=lora)


@lru_cache(maxsize=256)
def train_breakdown(spec: ModelSpec, job: TrainJob, micro_batch: int | None = None,
                    seq_len: int | None = None) -> Breakdown:
    """Whole-model bytes by category for one micro-batch of training, from the memory model."""
    est = _memory().estimate(spec, train_workload(job, micro_batch or job.micro_batch, seq_len or job.seq_len))
    c = _from_estimate(est)
    params = max(spec_params(spec), 1)
    return Breakdown(weights=c["weights"], gradients=c["gradients"], optimizer=c["optimizer"],
                     master_weights=c["master_weights"], activations=c["activations"], transient=c["transient"],
                     weight_bytes_per_param=c["weights"] / params, grad_bytes_per_param=c["gradients"] / params)


@lru_cache(maxsize=256)
def serve_breakdown(spec: ModelSpec, job: ServeJob, concurrency: int | None = None,
                    context: int | None = None) -> Breakdown:
    """Whole-model bytes for `concurrency` sequences of `context` tokens: weights in the job's format,
    the KV cache in its dtype, the activation peak of a prefill."""
    m = _memory()
    Workload, estimate = m.Workload, m.estimate
    ctx = context or job.context
    w = Workload(mode="generate", batch=concurrency or job.concurrency, seq_len=max(ctx - job.output_len, 1),
                 new_tokens=min(job.output_len, ctx), weights_format=job.weights, kv_dtype=job.kv_dtype)
    c = _from_estimate(estimate(spec, w))
    return Breakdown(weights=c["weights"], activations=c["activations"], transient=c["transient"],
                     kv_cache=c["kv_cache"], weight_bytes_per_param=c["weights"] / max(spec_params(spec), 1))


@lru_cache(maxsize=64)
def spec_params(spec: ModelSpec) -> int:
    from llmsize.params import count

    return count(spec).total


def device_bytes(gpu: Any, *, gpus: int, serving: bool, utilization: float | None = None) -> int:
    """Per-GPU runtime overhead outside PyTorch's tensors (CUDA context, allocator reserve, NCCL),
    from the memory model's device estimate."""
    d = _memory().device_estimate(gpu=gpu, gpus=gpus, engine="vllm" if serving else "torch",
                        gpu_memory_utilization=utilization)
    return int(getattr(d, "bytes", getattr(d, "peak_bytes", 0)))
