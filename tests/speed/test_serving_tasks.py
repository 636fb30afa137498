"""A decode or prefill task on a serving engine (vLLM, SGLang, TensorRT-LLM) is timed as that engine's own
iterations (`speedmodel.serving.serve`, fitted on its serving rows), so `validate` and `llmsize speed
--serve` give one time for one setup; llama.cpp's tasks keep llama-bench's model. Before, a vLLM decode of
Llama-3.1-8B on an H100 took llama.cpp's efficiency and per-layer cost: 103.7 tokens/s against the 126.2
of vLLM's own TPOT for the same batch."""
from __future__ import annotations

import json

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.speedmodel import predict as P
from llmsize.speedmodel.serving import serve
from llmsize.validate_speed import parse_speed_cases, predict_case

L8 = load("Llama-3.1-8B").spec
H100 = get_gpu("H100-SXM")


def _case(engine: str, workload: dict, gpu: str = "H100-SXM", count: int = 1) -> object:
    row = {"id": "t", "kind": "speed", "model": "Llama-3.1-8B", "hardware": {"gpu": gpu, "count": count},
           "engine": engine, "workload": workload, "measured": {"metric": "tokens_per_s"}}
    return predict_case(parse_speed_cases([json.dumps(row)])[0])


@pytest.mark.parametrize("engine", ["vllm", "sglang", "trt-llm"])
@pytest.mark.parametrize("batch", [1, 16])
def test_a_decode_task_is_the_engines_decode_step(engine, batch):
    r = _case(engine, {"task": "decode", "weights": "bf16", "kv_dtype": "auto", "batch": batch, "context": 512,
                       "tokens": 128})
    s = serve(L8, H100, engine=engine, weights="bf16", kv_dtype="auto", prompt=512, output=128, concurrency=batch,
              max_seqs=batch)
    assert r.predicted == pytest.approx(batch / s.step_s, rel=1e-12)
    assert any(f"timed as {engine}'s decode iterations" in n for n in r.notes)
    if batch == 1 and engine == "vllm":  # the same time as `llmsize speed --serve` prints for one request
        assert 1 / r.predicted == pytest.approx(serve(L8, H100, engine="vllm", weights="bf16", kv_dtype="auto",
                                                      prompt=512, output=128, concurrency=1).step_s)


def test_a_prefill_task_is_the_engines_prompt_pass_and_a_batch_adds_its_compute():
    one = _case("vllm", {"task": "prefill", "weights": "bf16", "batch": 1, "tokens": 2048})
    s = serve(L8, H100, engine="vllm", weights="bf16", kv_dtype=None, prompt=2048, output=1, concurrency=1)
    assert one.predicted == pytest.approx(2048 / s.prefill_s, rel=1e-12)
    four = _case("vllm", {"task": "prefill", "weights": "bf16", "batch": 4, "tokens": 2048})
    assert four.predicted == pytest.approx(4 * 2048 / (s.prefill_s + 3 * s.prompt_compute_s), rel=1e-12)
    assert one.predicted < four.predicted < 4 * one.predicted  # the weights are read once for the four
    # the FP8 path of TensorRT-LLM on Hopper is faster than its bf16 one
    fp8 = _case("trt-llm", {"task": "prefill", "weights": "fp8", "batch": 1, "tokens": 2048})
    bf16 = _case("trt-llm", {"task": "prefill", "weights": "bf16", "batch": 1, "tokens": 2048})
    assert fp8.predicted > 1.3 * bf16.predicted


def test_llama_cpp_tasks_keep_llama_benchs_model():
    r = _case("llama.cpp", {"task": "decode", "weights": "Q4_0", "kv_dtype": "f16", "batch": 1, "context": 0,
                            "tokens": 128}, gpu="RTX-4090")
    want = P.decode(L8, get_gpu("RTX-4090"), engine="llama.cpp", weights="Q4_0", kv_dtype="f16", batch=1, context=0,
                    tokens=128).value
    assert r.predicted == pytest.approx(want, rel=1e-12)
    assert not any("decode iterations" in n for n in r.notes)


def test_a_batch_past_the_kv_capacity_is_timed_as_run_and_said():
    """A measured batch did fit its run's memory (a higher utilisation, an fp8 cache): it is timed as given,
    with a note, not refused and not shrunk."""
    r = _case("vllm", {"task": "decode", "weights": "bf16", "kv_dtype": "auto", "batch": 64, "context": 32000,
                       "tokens": 128})
    s = serve(L8, H100, engine="vllm", weights="bf16", kv_dtype="auto", prompt=32000, output=128, concurrency=64,
              max_seqs=64, kv_bound=False)
    assert s.batch == 64 and r.predicted == pytest.approx(64 / s.step_s, rel=1e-12)
    assert any("exceed the" in n and "timed at the batch the run held" in n for n in r.notes)
    with pytest.raises(LlmsizeError, match="does not fit"):  # the bound still holds where it is asked for
        serve(L8, H100, engine="vllm", weights="bf16", kv_dtype="auto", prompt=32000, output=128, concurrency=64,
              max_seqs=64, tp=1, gpu_memory_utilization=0.2)
