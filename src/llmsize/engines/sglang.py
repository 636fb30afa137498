"""SGLang's default --mem-fraction-static, as its server arguments pick it when the user gives none.

python/sglang/srt/server_args.py (ServerArgs._handle_gpu_memory_settings) at
sgl-project/sglang@469c63e5: the GPU's total memory (nvidia-smi's memory.total, MiB) picks the chunked
prefill size C and the CUDA-graph batch limit G, and those the memory left outside the static share:

    memory (MiB)    C        G (tp < 4)   G (tp ≥ 4)
    < 20,480        2,048    8            8
    < 35,840        2,048    24           80
    < 61,440        4,096    32           160
    < 92,160        8,192    256          512
    < 163,840       8,192    256          512
    ≥ 163,840       16,384   512          512

    R = 512 + 1.5·max(C, 2048) + 2·G + tp·pp/8 · 1024                       (MiB)
        + 3·G·dp  [+ 1.5·G·dp where G > 300]   with DP attention
    R = max(R, 10,240) on a GPU of more than 61,440 MiB
    u = round((M − R)/M, 3)

u is the share of the GPU the weights and the KV pool may take ("the fraction of the memory used for
static allocation"); activations and CUDA graphs live in the rest."""
from __future__ import annotations

from dataclasses import dataclass

from llmsize.errors import LlmsizeError

SGLANG_SOURCE = ("sgl-project/sglang python/sglang/srt/server_args.py @469c63e54e7d94591617ef9590c6aa26d54dc1bb "
                 "(ServerArgs._handle_gpu_memory_settings)")
_MIB = 2**20
# (memory below this many MiB, chunked prefill size, CUDA-graph max batch at tp < 4, at tp ≥ 4)
_TIERS = ((20 * 1024, 2048, 8, 8), (35 * 1024, 2048, 24, 80), (60 * 1024, 4096, 32, 160),
          (90 * 1024, 8192, 256, 512), (160 * 1024, 8192, 256, 512))
_LARGEST = (16384, 512, 512)


@dataclass(frozen=True, slots=True, kw_only=True)
class SglangShare:
    """SGLang's default static share of one GPU, each term as server_args.py names it (MiB as it counts)."""

    gpu_mem_mib: float
    chunked_prefill_size: int
    cuda_graph_max_bs: int
    reserved_mib: float
    fraction: float


def default_mem_fraction(gpu_bytes: int, tp: int = 1, pp: int = 1, *, dp_attention: bool = False,
                         dp: int = 1) -> SglangShare:
    """SGLang's --mem-fraction-static when none is given, for a GPU of `gpu_bytes` total memory.

    R = 512 + 1.5·max(C, 2048) + 2·G + tp·pp·1024/8 (+ 3·G·dp, + 1.5·G·dp if G > 300, with DP attention);
    R = max(R, 10240) above 60 GiB;  u = round((M − R)/M, 3), M in MiB

    Source: sglang-mem-fraction"""
    if gpu_bytes <= 0 or tp < 1 or pp < 1 or dp < 1:
        raise LlmsizeError(f"SGLang's memory share needs a GPU memory and tp, pp, dp of at least 1, got "
                           f"{gpu_bytes} B, tp {tp}, pp {pp}, dp {dp}")
    # ASSUMES: M, nvidia-smi's memory.total, is the catalog's usable bytes (CUDA's total_memory); nvidia-smi
    # reads about 0.6% more on an H100 (81,559 against 81,104 MiB), which moves u by under 0.001
    # ASSUMES: a text-only model: SGLang lowers the share again for a multimodal one whose vision tower it
    #          loads (adjust_mem_fraction_for_vlm), which llmsize does not model
    m = gpu_bytes / _MIB
    c, g_small, g_large = next(((c, a, b) for top, c, a, b in _TIERS if m < top), _LARGEST)
    g = g_small if tp < 4 else g_large
    r = 512 + max(c, 2048) * 1.5 + g * 2 + tp * pp / 8 * 1024
    if dp_attention:
        r += g * dp * 3 + (g * dp * 1.5 if g > 300 else 0)
    if m > 60 * 1024:
        r = max(r, 10 * 1024)
    return SglangShare(gpu_mem_mib=m, chunked_prefill_size=c, cuda_graph_max_bs=g, reserved_mib=r,
                       fraction=round((m - r) / m, 3))
