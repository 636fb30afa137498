"""Inverse questions: the fewest GPUs, the largest batch, the longest context, the most concurrent
requests (vLLM: KV blocks left under gpu_memory_utilization), the cheapest setup meeting a target."""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmsize.bounds import MAX_CONTEXT
from llmsize.engines.llamacpp import MAX_N_CTX
from llmsize.engines.llamacpp import MAX_SEQ as LLAMACPP_SLOTS
from llmsize.errors import LlmsizeError
from llmsize.parallel import Breakdown, Layout, check_layout, per_gpu, placement
from llmsize.pergpu import job_memory
from llmsize.planner import jobs, serve_memory
from llmsize.planner.jobs import ServeJob, TrainJob, profile_run
from llmsize.planner.serve_memory import share as engine_share
from llmsize.recurrent import recurrent_state
from llmsize.spec import ModelSpec

VLLM_BLOCK = 16  # tokens per KV block (vLLM's default --block-size on CUDA)


def _largest(lo: int, hi: int, fits: Callable[[int], bool]) -> int | None:
    """The largest n in [lo, hi] with fits(n) (fits is monotone); None when none fits."""
    if not fits(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _budget(gpu: Any, layout: Layout, job: TrainJob | ServeJob, device: Callable[[Any, int], int] | None = None,
            mem: Any = None) -> int:
    """What each GPU may hold: all of it for training, the serving engine's share (`serve_memory.budget`, for
    the setup's memory `mem` where given: SGLang's share holds only the weights and KV), less the per-GPU
    runtime bytes `device` gives."""
    dev = device(gpu, layout.gpus) if device else 0
    return (serve_memory.budget(job, gpu, layout, mem, dev) if isinstance(job, ServeJob) else gpu.usable) - dev


def _holds(gpu: Any, layout: Layout, job: TrainJob | ServeJob,
           device: Callable[[Any, int], int] | None = None) -> Callable[[Any], bool]:
    """Whether a setup's per-GPU memory fits its `_budget`."""
    return lambda mem: mem.peak_bytes <= _budget(gpu, layout, job, device, mem)


def llamacpp_slots(job: ServeJob) -> int | None:
    """The most parallel slots of the job's context one llama-server takes (-np at most LLAMA_MAX_SEQ, -c = slots ×
    context within llmsize's bound); None for other engines."""
    return min(LLAMACPP_SLOTS, MAX_N_CTX // job.context) if job.engine == "llama.cpp" else None


def largest_batch(spec: ModelSpec, job: TrainJob | ServeJob, gpu: Any, layout: Layout, *,
                  breakdown: Callable[..., Breakdown] | None = None, limit: int = 1 << 16,
                  device: Callable[[Any, int], int] | None = None) -> int | None:
    """Largest micro-batch (training) or number of concurrent sequences (serving) that fits each GPU;
    None when not even one does."""
    check_layout(spec, layout)
    serving = isinstance(job, ServeJob)
    holds = _holds(gpu, layout, job, device)
    cap = llamacpp_slots(job) if serving else None  # type: ignore[arg-type]
    if cap is not None:
        limit = min(limit, cap)

    def fits(b: int) -> bool:
        if breakdown is None:
            if serving:
                return holds(serve_memory.serve_memory(spec, job, layout, b, gpu=gpu))  # type: ignore[arg-type]
            return holds(job_memory(spec, job, layout, micro_batch=b))
        return holds(per_gpu(spec, breakdown(spec, job, b), layout))

    return _largest(1, limit, fits)


def longest_context(spec: ModelSpec, job: TrainJob | ServeJob, gpu: Any, layout: Layout, *,
                    breakdown: Callable[..., Breakdown] | None = None, limit: int | None = None,
                    device: Callable[[Any, int], int] | None = None) -> int | None:
    """Longest sequence (training) or context (serving) that fits each GPU, up to `limit` (default: the
    model's max_position_embeddings × 8, so a RoPE-scaled window can still be explored); None when not even the
    shortest one does."""
    check_layout(spec, layout)
    serving = isinstance(job, ServeJob)
    holds = _holds(gpu, layout, job, device)
    hi = limit or min(spec.max_position_embeddings * 8, MAX_CONTEXT)  # never past llmsize's context bound
    if serving and job.engine == "llama.cpp":
        hi = min(hi, MAX_N_CTX // job.sequences)  # type: ignore[union-attr]

    def fits(s: int) -> bool:
        if breakdown is None:
            if serving:
                return holds(serve_memory.serve_memory(spec, job, layout, None, s, gpu=gpu))  # type: ignore[arg-type]
            return holds(job_memory(spec, job, layout, seq_len=s))
        return holds(per_gpu(spec, breakdown(spec, job, None, s), layout))

    step = 2 * layout.cp if layout.cp > 1 else 1
    n = _largest(1, hi // step, lambda k: fits(k * step))
    return None if n is None else n * step


@dataclass(frozen=True, slots=True, kw_only=True)
class KvBudget:
    """vLLM's KV arithmetic on one GPU of a TP × PP replica."""

    budget_bytes: int  # usable × gpu_memory_utilization
    weights_bytes: int
    activation_bytes: int
    device_bytes: int
    kv_bytes: int  # what is left for KV blocks
    bytes_per_token: int  # KV bytes one token takes on this GPU
    blocks: int
    block_size: int
    max_tokens: int
    max_concurrency: int  # sequences of the job's context length that fit at once
    rule: str = "vllm"  # whose rule left kv_bytes: vllm (u of the total), trt-llm (u of the free), sglang (static)
    share: float = 0.9  # u: the engine's share of the GPU
    share_origin: str = "default"  # given (--gpu-memory-utilization), default (0.9), or SGLang's default


def non_kv_bytes(spec: ModelSpec, bd: Breakdown, layout: Layout) -> tuple[int, int]:
    """(weights, peak) of one GPU before any KV cache: what vLLM logs as "model weights" (the loaded
    tensors and its rotary cos/sin cache, `bd.device`), and those plus the profiled activation peak.

    Source: kwon2023"""
    no_kv = Breakdown(weights=bd.weights, activations=bd.activations, transient=bd.transient, device=bd.device,
                      weight_bytes_per_param=bd.weight_bytes_per_param)
    mem = per_gpu(spec, no_kv, layout)
    return sum(t.value for t in mem.terms if t.name in ("weights", "device")), mem.peak_bytes


def kv_free_bytes(spec: ModelSpec, job: ServeJob, gpu: Any, layout: Layout, device_bytes: int) -> int:
    """The bytes of one GPU a paged-KV engine gives to its KV cache (the speed model's batch limit), by each
    engine's own rule for its share u (the one given; else SGLang's own default for the GPU and layout,
    `serve_memory.share`; else 0.9):
      vLLM:          KV = u·usable − W_gpu − rotary cache − A_peak − device   (`kv_budget`; u of the total)
      TensorRT-LLM:  KV = u·(usable − W_gpu − A_peak − device)               (u of what is free after loading)
      SGLang:        KV = min(u·usable − W_gpu, usable − W_gpu − A_peak − device)  (--mem-fraction-static:
                     weights and KV pool; activations and runtime outside it, in what the GPU has left)

    Source: kwon2023"""
    w, peak = _non_kv(spec, job, layout, profile_run(job, gpu))
    if job.engine == "trt-llm":  # Source: trtllm-kv-fraction
        kv = job.utilization * (gpu.usable - peak - device_bytes)
    elif job.engine == "sglang":  # Source: sglang-mem-fraction
        u, _ = engine_share(job, gpu, layout)  # SGLang's own default for this GPU and layout unless one is given
        kv = min(gpu.usable * u - w, gpu.usable - peak - device_bytes)
    else:
        kv = gpu.usable * job.utilization - peak - device_bytes
    return max(int(kv), 0)


@functools.lru_cache(maxsize=1024)
def _non_kv(spec: ModelSpec, job: ServeJob, layout: Layout, profile: tuple[int, int]) -> tuple[int, int]:
    """`non_kv_bytes` of the job's one-sequence breakdown with the profile run `profile` (`jobs.profile_run`
    of a GPU), memoised: the planner asks it for each GPU type."""
    return non_kv_bytes(spec, jobs.serve_breakdown(spec, job, 1, job.context, profile=profile), layout)


def kv_budget(spec: ModelSpec, job: ServeJob, gpu: Any, layout: Layout, *, device_bytes: int = 0,
              block_size: int = VLLM_BLOCK) -> KvBudget:
    """KV space vLLM leaves after weights, the profiled activation peak and non-torch memory, in blocks.

    KV = usable·u − W_gpu − rotary cache − A_peak − (non_torch + CUDA graphs: `device_bytes`);
    blocks = ⌊KV / (block · kv_tok)⌋;  max concurrency = ⌊blocks · block / context⌋

    Source: kwon2023"""
    check_layout(spec, layout)
    if job.engine == "llama.cpp":
        raise LlmsizeError("--find concurrency is vLLM's KV-block arithmetic; llama.cpp allocates -np slots of "
                           "the context up front: --find batch gives the most slots that fit")
    bd = jobs.serve_breakdown(spec, job, 1, job.context, gpu)
    w, peak = _non_kv(spec, job, layout, profile_run(job, gpu))
    act = peak - w
    u, origin = engine_share(job, gpu, layout)
    budget = int(gpu.usable * u)
    # the engine's own rule (`kv_free_bytes`: vLLM's, TensorRT-LLM's share of what is free, SGLang's static
    # share), so the concurrency here is the batch `speed` times
    left = kv_free_bytes(spec, job, gpu, layout, device_bytes)
    P = placement(spec, layout.tp, layout.pp, layout.ep)
    share = max(P.layers) / spec.num_layers * P.kv_fraction
    state = recurrent_state(spec, 1).total  # state-space layers: a fixed state per sequence, not per token
    per_tok = round((bd.kv_cache - state) / max(job.context, 1) * share)
    if per_tok <= 0:
        raise LlmsizeError(f"{spec.name}: the memory model gives no KV cache for this job" + (
            f" (no attention layer: its cache is a fixed {state:,} B recurrent state per sequence)" if state else ""))
    blocks = max(left, 0) // (block_size * per_tok)
    tokens = blocks * block_size
    seqs = tokens // job.context if not state else max(left, 0) // (job.context * per_tok + round(state * share))
    return KvBudget(rule=job.engine if job.engine in ("trt-llm", "sglang") else "vllm", share=u, share_origin=origin,
                    budget_bytes=budget, weights_bytes=w, activation_bytes=act, device_bytes=device_bytes,
                    kv_bytes=max(left, 0), bytes_per_token=per_tok, blocks=blocks, block_size=block_size,
                    max_tokens=tokens, max_concurrency=seqs)
