"""Which llama.cpp build a measurement ran, as far as it changes the model: CUDA graphs in a decode step,
and the kernels of a quantized prompt's matrix products.

Since llama.cpp PR 6766 (merged 2024-05-08) a CUDA decode step replays the kernels of a token as one CUDA
graph instead of launching each kernel from the CPU, which removes most of the fixed cost every layer adds
to a step (the PR's own tables: Llama 2 7B Q4_0 tg on an RTX 3090 116 -> 128 tokens/s, RTX 4090 138 -> 147;
NVIDIA's issue 6763: H100 PCIe Q4_K_M 143 -> 164). ggml enables the graphs on Ampere and newer GPUs only
(Volta and Turing followed in 2026, PR 25749; Pascal is still excluded), and not on Metal or ROCm builds
(HIP graphs are a build option, GGML_HIP_GRAPHS, off by default).

Until June 2024 llama.cpp multiplied a quantized prompt's matrices on GPUs with FP16 tensor cores by
dequantising each weight matrix to fp16 and calling cuBLAS; PR 8075 (2024-06-24) made its own MMQ kernels,
which run int8 tensor-core products on the quantized blocks (PR 7860), the default there. A prompt of a
GGUF-quantized model runs on the fp16 path before that and on the int8 path after.

A calibration row says its build in ``source.engine_version`` (``b6100``, ``build 93bc3839 (3622)``) or only
its month in ``source.date``; a setup with neither is today's llama.cpp, which has the graphs.

Source: llamacpp-graphs
"""
from __future__ import annotations

import re
from typing import Any


def _nvidia(gpu: Any) -> bool:
    return str(getattr(gpu, "vendor", "")).upper() == "NVIDIA"


def ampere_or_newer(gpu: Any) -> bool:
    """An NVIDIA GPU of compute capability 8.0 or newer: the first with bf16 (the catalog has no compute
    capability field; bf16 tensor rates begin with Ampere).

    Source: llamacpp-graphs"""
    # ASSUMES: Volta and Turing never replay graphs (the builds after PR 25749 that do have no rows here)
    return _nvidia(gpu) and bool(gpu.flops.get("bf16"))


def fp16_tensor_cores(gpu: Any) -> bool:
    """An NVIDIA GPU with FP16 tensor cores: Ampere or newer, or a Volta/Turing whose fp16 rate is 4x its
    fp32 (Pascal's packed fp16 is at most 2x: P100)."""
    volta_turing = gpu.flops.get("fp16", 0) >= 3.9 * gpu.flops.get("fp32", float("inf"))
    return ampere_or_newer(gpu) or _nvidia(gpu) and volta_turing


# ASSUMES: builds are numbered by commit count; b1786 was built in 2024-01 and b3622 in 2024-08 (rows of
#          tests/data/speed_calib.jsonl), about 260 builds a month, which puts the 2024-05-08 merge near b2850
GRAPHS_BUILD = 2850
GRAPHS_MONTH = "2024-05"  # ASSUMES: a row dated in the month of the merge ran a build from before it
MMQ_BUILD = 3250  # ASSUMES: by the same rate, the 2024-06-24 merge of PR 8075
MMQ_MONTH = "2024-06"

_BUILD = (re.compile(r"\bb(\d{3,5})\b"), re.compile(r"\((\d{3,5})\)"))
_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?")


def build_number(engine_version: str | None) -> int | None:
    """The llama.cpp build number a version string names (``b6100`` or git describe's ``(3622)``)."""
    for pat in _BUILD:
        m = pat.search(engine_version or "")
        if m:
            return int(m.group(1))
    return None


def _after(engine_version: str | None, date: str | None, build: int, month: str) -> bool:
    """Whether a build (its number, else its month; neither: today's) is from after a change merged in
    `month` as build `build`."""
    n = build_number(engine_version)
    if n is not None:
        return n >= build
    m = _MONTH.match(str(date or "").strip())
    if m:
        return f"{m.group(1)}-{m.group(2) or '12'}" > month
    return True


def llamacpp_graphs(gpu: Any, engine_version: str | None = None, date: str | None = None) -> bool:
    """Whether a llama.cpp decode step on `gpu` replays CUDA graphs: a CUDA GPU of compute capability 8.0
    or newer and a build from after PR 6766.

    Source: llamacpp-graphs"""
    return ampere_or_newer(gpu) and _after(engine_version, date, GRAPHS_BUILD, GRAPHS_MONTH)


def llamacpp_mmq(gpu: Any, engine_version: str | None = None, date: str | None = None) -> bool:
    """Whether llama.cpp multiplies a quantized prompt with its MMQ kernels on `gpu` (int8 products on
    the blocks), rather than dequantising to fp16 for cuBLAS: always on GPUs without FP16 tensor cores
    (and off NVIDIA), on the others from PR 8075 on.

    Source: llamacpp-graphs"""
    return not fp16_tensor_cores(gpu) or _after(engine_version, date, MMQ_BUILD, MMQ_MONTH)
