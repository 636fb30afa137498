"""Every serving case the speed-case schema allows is predicted (a case that raises is a failed case):
concurrency an integer or "max", a request rate or none, tp / pp / dp, every weight family (16-bit, fp8,
weight-only int4, GGUF) and KV dtype, or fields left null."""
from __future__ import annotations

import itertools

import pytest

from llmsize.validate_speed import parse_case, predict_case

_WEIGHTS = ["bf16", "fp16", "fp8", "awq-int4", "gptq-int4", "Q4_K_M", "Q8_0", None]
_KV = ["bf16", "fp16", "fp8", "auto", "f16", None]


def _row(workload: dict, gpu: str = "H100-SXM", engine: str = "vllm", metric: str = "output_tokens_per_s",
         model: str = "Llama-3.1-8B") -> dict:
    return {"id": "shape", "kind": "speed", "category": "serve_throughput", "model": model,
            "hardware": {"gpu": gpu, "count": None, "gpus_per_node": 8}, "engine": engine,
            "workload": dict({"task": "serve"}, **workload), "measured": {"metric": metric, "value": None}}


def _predict(row: dict) -> float:
    return predict_case(parse_case(row, 1, row["id"])).predicted


@pytest.mark.parametrize("weights, kv", list(itertools.product(_WEIGHTS, _KV)))
def test_every_weight_format_and_kv_dtype(weights, kv):
    w = {"weights": weights, "kv_dtype": kv, "prompt": 1000, "output": 200, "concurrency": 32, "request_rate": None,
         "tp": 1, "pp": 1, "dp": 1}
    for metric in ("output_tokens_per_s", "ttft_s", "tpot_s"):
        assert _predict(_row(w, metric=metric)) > 0


@pytest.mark.parametrize("concurrency, rate", [("max", None), (1, None), (64, None), (None, 2.0), (256, 1.5),
                                               (None, None)])
@pytest.mark.parametrize("tp, pp, dp", [(1, 1, 1), (2, 1, 1), (4, 2, 1), (1, 1, 4), (2, 2, 2), (None, None, None)])
def test_load_and_layout_shapes(concurrency, rate, tp, pp, dp):
    w = {"weights": "bf16", "kv_dtype": "bf16", "prompt": 512, "output": 128, "concurrency": concurrency,
         "request_rate": rate, "tp": tp, "pp": pp, "dp": dp}
    for metric in ("output_tokens_per_s", "ttft_s", "tpot_s"):
        assert _predict(_row(w, metric=metric)) > 0


@pytest.mark.parametrize("engine", ["vllm", "sglang", "trt-llm", "llama.cpp", "transformers", "unknown"])
@pytest.mark.parametrize("gpu", ["A100-SXM-80GB", "L40S", "H200-SXM", "MI300X", "B200", "RTX-4090", "T4"])
def test_engines_and_gpus(engine, gpu):
    w = {"weights": "Q4_K_M" if engine == "llama.cpp" else "awq-int4", "kv_dtype": None, "prompt": 256,
         "output": 256, "concurrency": "max", "request_rate": None, "tp": 1, "pp": 1, "dp": 1}
    assert _predict(_row(w, gpu=gpu, engine=engine)) > 0


def test_moe_and_fp8_tensor_parallel():
    w = {"weights": "fp8", "kv_dtype": "fp8", "prompt": 1000, "output": 1000, "concurrency": "max",
         "request_rate": None, "tp": 2, "pp": 1, "dp": 1}
    assert _predict(_row(w, model="Mixtral-8x7B-v0.1")) > 0
