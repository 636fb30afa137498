"""Which decode-attention kernel a serving engine's build runs for grouped-query attention, as far as it
changes the bytes a decode step reads.

A grouped kernel (TensorRT-LLM's XQA, FlashInfer, FlashAttention, vLLM's and SGLang's backends of today)
loads each KV head once for all the query heads that share it. TensorRT-LLM's masked multi-head
attention kernel, its only generation kernel for GQA before XQA became the default (v0.8, 2024-03;
the v0.6 docs call XQA experimental and opt-in), runs one thread block per query head, so each of the
g = n_heads/n_kv query heads of a group reads its KV head again; the L2 cache serves some of those
re-reads. NVIDIA's XQA blog measures Llama-70B at 128 in / 2,048 out 2.4x (1 H200) and 1.9x (8 H200)
faster with XQA than without.

KV bytes of a decode step × (1 + (g − 1)·m),  m the share of re-reads that miss L2 (fitted)

Source: trtllm-xqa
"""
from __future__ import annotations

import re
from typing import Any

from llmsize.speedmodel.efficiency import engine_name
from llmsize.speedmodel.scheduling import Version, build_month, built_since, version_in

TRTLLM_XQA: tuple[Version, str] = ((0, 8, 0), "2024-03")
# v1.0 made the PyTorch backend the default (the TensorRT engine backend became legacy, later removed)
TRTLLM_PYTORCH: tuple[Version, str] = ((1, 0, 0), "2025-09")
_TRT_VERSION = re.compile(r"(?:tensorrt[-_ ]?llm|trt[-_ ]?llm)[\s:=_/-]*v?(\d+)\.(\d+)(?:\.(\d+))?", re.I)


def grouped_decode_attention(engine: str, engine_version: str | None = None, date: str | None = None) -> bool:
    """Whether the engine's build loads each KV head once for its group of query heads in a decode step:
    every engine but a TensorRT-LLM build from before v0.8 (its version in the text, else its month; a
    build with neither is today's).

    Source: trtllm-xqa"""
    if engine_name(engine) != "trt-llm":
        return True
    return built_since(version_in(engine_version, (_TRT_VERSION,)), build_month(None, date), TRTLLM_XQA)


def compiled_prompt_pass(engine: str, engine_version: str | None = None, date: str | None = None) -> bool:
    """Whether the engine's build runs a prompt's pass as one compiled engine issued from C++ (TensorRT-LLM's
    TensorRT engines, its only backend before v1.0 made the PyTorch one the default, and NIM's builds of
    them), rather than layer by layer from Python (vLLM, SGLang, TensorRT-LLM's PyTorch backend) or
    llama.cpp's C++ loop over graph nodes; a TensorRT-LLM build with neither version nor month is today's.

    Source: trtllm-backends"""
    if engine_name(engine) != "trt-llm":
        return False
    return not built_since(version_in(engine_version, (_TRT_VERSION,)), build_month(None, date), TRTLLM_PYTORCH)


def kv_read_factor(spec: Any, grouped: bool, miss: float) -> float:
    """How many times a decode step reads its KV bytes: 1 with a grouped kernel, else each of the g query
    heads of a group re-reads its KV head and a share `miss` of those re-reads reaches HBM.

    f = 1 + (g − 1)·m,  g = n_heads/n_kv

    Source: trtllm-xqa"""
    if grouped:
        return 1.0
    a = spec.attention
    return 1 + (a.num_heads / a.num_kv_heads - 1) * miss


def gemm_s(t_read: float, t_math: float, unhidden: float) -> float:
    """A pass's GEMMs, which stream the weights and run the math in the same kernels: the longer of the
    two, and a share u of the shorter that the longer does not hide. Far from the ridge point (one row;
    thousands of rows) the shorter is small and this is the roofline; at a few hundred rows, where the
    two are close, the pass takes up to (1 + u) times it.

    t = max(t_read, t_math) + u·min(t_read, t_math)

    Source: williams2009"""
    return max(t_read, t_math) + unhidden * min(t_read, t_math)
