"""vLLM's KV-cache budget as its V1 GPU worker computes it, term by term.

vllm/v1/worker/gpu_worker.py (Worker.init_device, determine_available_memory,
compile_or_warm_up_model) at vllm-project/vllm@35d5cda1 (V1 engine, the 0.2x/0.3x line):

    requested       = total_memory · gpu_memory_utilization            (init_snapshot after NCCL init)
    profile_run()   : one dummy forward of max_num_batched_tokens tokens (chunked-prefill budget),
                      plus the sampler over max_num_seqs rows, under memory_profiling():
        weights             = model_runner.model_memory_usage  ("Model loading took X GiB")
        torch_peak_increase = peak torch allocation during the profile run (activations)
        non_torch_increase  = CUDA context growth outside torch (NCCL buffers, cuBLAS workspace)
    cuda_graphs     = the CUDA-graph pool estimated by profiling a few capture sizes
                      ("Estimated CUDA graph memory: X GiB total"; counted by default since v0.21,
                      VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0 turns it off)
    available_kv    = requested − (weights + torch_peak_increase + non_torch_increase [+ cuda_graphs])

The KV manager splits `available_kv` into blocks of `block_size` tokens (16 on CUDA). A hybrid model
(sliding-window + full layers) is grouped by attention type into KV-cache groups of equal layer count
(vllm/v1/core/kv_cache_utils.py _get_kv_cache_groups_uniform_page_size: "10 full attention layers and 20
sliding window attention layers ... 3 kv_cache_groups, each of which contains 10 layers"); all groups
share one pool of blocks of page_size x layers-per-group bytes, and a sliding-window group holds only
the window's blocks per request (_max_concurrency, max_memory_usage_bytes)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.spec import ModelSpec

VLLM_SOURCE = ("vllm-project/vllm vllm/v1/worker/gpu_worker.py @35d5cda123ec28581759b6d34cde8052314fb1e6 "
               "(determine_available_memory, compile_or_warm_up_model); vllm/v1/core/kv_cache_utils.py")
BLOCK_SIZE = 16
# ASSUMES: SGLang and TensorRT-LLM (whose KV rules llmsize.planner.fit applies) have no profile run of this
# shape modelled; a 16,384-token pass over 256 sequences stands in for their activation peak
STAND_IN_PROFILE = (16384, 256)


def batch_defaults(gpu: Any = None, max_model_len: int | None = None) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) that `vllm serve` takes on `gpu` when neither is given, and so
    the size of the profile run whose activation peak comes off the KV budget: 2,048 tokens and 256
    sequences, or 8,192 and 1,024 on a GPU of at least 70 GiB that is not an A100 (the engine table's
    `vllm` entry); None for `gpu`: the smaller pair. The token budget is capped at what max_num_seqs
    sequences of max_model_len hold, and the sequences at the token budget:

    T = min(T_gpu, n_gpu·max_model_len);  n = min(n_gpu, T)

    Source: vllm-batch-defaults"""
    from llmsize.speedmodel.efficiency import engine_default

    seqs, tokens = engine_default("vllm", "max_seqs", gpu), engine_default("vllm", "max_batched_tokens", gpu)
    assert seqs is not None and tokens is not None  # both in the engine table
    if max_model_len:
        tokens = min(tokens, seqs * max_model_len)
    return tokens, min(seqs, tokens)


@dataclass(frozen=True, slots=True, kw_only=True)
class VllmBudget:
    """vLLM's KV arithmetic on one GPU, each term as vLLM names it in its log."""

    requested: int  # total · gpu_memory_utilization
    weights: int
    torch_peak_increase: int
    non_torch_increase: int
    cuda_graphs: int
    available_kv: int
    kv_bytes_per_token: int  # this GPU's share, all layers (full-attention layers)
    block_size: int
    num_blocks: int
    max_tokens: int

    def terms(self) -> list[tuple[str, int]]:
        return [("requested (total x utilization)", self.requested), ("weights", self.weights),
                ("torch peak increase (profile run)", self.torch_peak_increase),
                ("non-torch increase", self.non_torch_increase), ("CUDA graph estimate", self.cuda_graphs),
                ("available KV cache memory", self.available_kv)]


def vllm_budget(spec: ModelSpec, *, total_memory: int, gpu_memory_utilization: float, weights: int,
                torch_peak_increase: int, non_torch_increase: int, cuda_graphs: int, kv_bytes_per_token: int,
                block_size: int = BLOCK_SIZE, estimate_cuda_graphs: bool = True) -> VllmBudget:
    """available_kv = total·u − (weights + torch_peak + non_torch [+ cuda_graphs]);
    blocks = ⌊available_kv / (block_size · kv_bytes_per_token)⌋; max tokens = blocks · block_size.

    Source: vllm-worker"""
    if not 0 < gpu_memory_utilization <= 1:
        raise LlmsizeError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
    for name, v in (("total_memory", total_memory), ("weights", weights), ("torch_peak_increase", torch_peak_increase),
                    ("non_torch_increase", non_torch_increase), ("cuda_graphs", cuda_graphs)):
        if v < 0:
            raise LlmsizeError(f"vLLM budget: {name} must be >= 0, got {v}")
    if kv_bytes_per_token <= 0 or block_size <= 0:
        raise LlmsizeError(f"{spec.name}: KV bytes per token and block size must be positive")
    requested = int(total_memory * gpu_memory_utilization)
    graphs = cuda_graphs if estimate_cuda_graphs else 0
    avail = requested - weights - torch_peak_increase - non_torch_increase - graphs
    blocks = max(avail, 0) // (block_size * kv_bytes_per_token)
    return VllmBudget(requested=requested, weights=weights, torch_peak_increase=torch_peak_increase,
                      non_torch_increase=non_torch_increase, cuda_graphs=graphs, available_kv=avail,
                      kv_bytes_per_token=kv_bytes_per_token, block_size=block_size, num_blocks=blocks,
                      max_tokens=blocks * block_size)
