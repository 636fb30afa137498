"""The kernels of a serving build (speedmodel/kernels.py): TensorRT-LLM before v0.8 decoded grouped-query
attention with its masked MHA kernel, one thread block per query head, so each query head of a group
re-reads its KV head; XQA (v0.8 on) and today's engines read it once. TensorRT-LLM before v1.0 ran a prompt's
pass as one TensorRT engine, with its own fixed cost per layer."""
from __future__ import annotations

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.load import load
from llmsize.speedmodel.efficiency import serve_shape
from llmsize.speedmodel.kernels import compiled_prompt_pass, grouped_decode_attention, kv_read_factor
from llmsize.speedmodel.serving import serve

L70 = load("Llama-2-70b-hf").spec  # 64 query heads, 8 KV heads
L7 = load("Llama-2-7b-hf").spec  # multi-head: nothing to re-read


@pytest.mark.parametrize("engine, version, date, grouped", [
    ("trt-llm", "TensorRT-LLM v0.5 (gptSessionBenchmark, static batch)", "2023-10", False),
    ("trt-llm", "TensorRT-LLM v0.6.1 (gptSessionBenchmark, static batch)", "2023-12", False),
    ("trt-llm", "TensorRT-LLM v0.13.0 (C++ runtime)", "2024-10", True),
    ("trt-llm", "TensorRT-LLM v1.0 (PyTorch backend)", "2025-09", True),
    ("trt-llm", "NIM 1.8.0", "2025-01", True),  # NIM's version is not TensorRT-LLM's: its date decides
    ("trt-llm", None, "2023-11", False),
    ("trt-llm", None, None, True),  # today's build
    ("vllm", "v0.5.2", "2024-07", True),
    ("sglang", None, "2023-11", True),
])
def test_which_builds_group_query_heads(engine, version, date, grouped):
    assert grouped_decode_attention(engine, version, date) is grouped


def test_the_kv_read_factor():
    m = serve_shape()["ungrouped_kv_miss"]
    assert 0 < m <= 1
    assert kv_read_factor(L70, True, m) == 1.0
    assert kv_read_factor(L70, False, m) == pytest.approx(1 + 7 * m)
    assert kv_read_factor(L7, False, m) == 1.0


def test_an_ungrouped_kernel_slows_long_gqa_decodes_only():
    h100 = get_gpu("H100-SXM")
    kw = dict(engine="trt-llm", weights="fp8", kv_dtype=None, prompt=128, concurrency=64, tp=2)
    long_g, long_u = (serve(L70, h100, output=2048, grouped_attention=g, **kw) for g in (True, False))
    short_g, short_u = (serve(L70, h100, output=16, grouped_attention=g, **kw) for g in (True, False))
    assert long_u.output_tokens_per_s < 0.75 * long_g.output_tokens_per_s
    assert short_u.output_tokens_per_s / short_g.output_tokens_per_s > \
        long_u.output_tokens_per_s / long_g.output_tokens_per_s
    mha = [serve(L7, h100, output=2048, grouped_attention=g, **(kw | {"tp": 1})).output_tokens_per_s
           for g in (True, False)]
    assert mha[0] == mha[1]


@pytest.mark.parametrize("engine, version, date, compiled", [
    ("trt-llm", "TensorRT-LLM v0.5 (gptSessionBenchmark, batch 1)", "2023-12", True),
    ("trt-llm", "TensorRT-LLM v0.13.0 (C++ runtime)", "2024-10", True),
    ("trt-llm", "NVIDIA NIM 1.8.0 (fp8 TP2 profile)", "2025-06", True),  # NIM's date decides
    ("trt-llm", "TensorRT-LLM v1.0 (PyTorch backend)", "2025-09", False),
    ("trt-llm", "TensorRT-LLM release/1.2 (PyTorch backend)", "2025-12", False),
    ("trt-llm", None, None, False),  # today's build: the PyTorch backend
    ("vllm", None, "2023-11", False),
    ("llama.cpp", None, None, False),
])
def test_which_builds_run_a_prompt_as_one_compiled_engine(engine, version, date, compiled):
    assert compiled_prompt_pass(engine, version, date) is compiled


def test_a_compiled_prompt_pass_pays_its_own_fixed_cost_per_layer():
    a100 = get_gpu("A100-SXM-80GB")
    kw = dict(engine="trt-llm", weights="fp16", kv_dtype=None, prompt=128, output=1, concurrency=1)
    py, compiled = (serve(L7, a100, compiled_prompt=c, **kw) for c in (False, True))
    shape = serve_shape()
    assert compiled.prefill_s - py.prefill_s == pytest.approx(
        L7.num_layers * (shape["prompt_layer_overhead_compiled_s"] - shape["prompt_layer_overhead_s"]))
    assert compiled.step_s == py.step_s  # decode iterations do not move
