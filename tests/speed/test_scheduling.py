"""How an engine schedules a new prompt beside the running decodes (speedmodel/scheduling.py): mixed into
their pass (TRT-LLM, vLLM with chunked prefill, llama.cpp) or as a pass of its own that stalls them (SGLang,
vLLM's V0 engine without chunked prefill), and what that does to TTFT and TPOT."""
from __future__ import annotations

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.catalog.presets import get_preset
from llmsize.load import load
from llmsize.errors import LlmsizeError
from llmsize.perf import forward_flops
from llmsize.speedmodel.efficiency import serve_shape
from llmsize.speedmodel.prompt_passes import separate_passes
from llmsize.speedmodel.scheduling import mixed_prefill
from llmsize.speedmodel.serving import serve
from llmsize.validate_speed import parse_case, predict_case

L31 = load("Llama-3.1-8B").spec  # 128K context: vLLM V0 chunked it by default from PR 6666 on
L3 = load("Meta-Llama-3-8B").spec  # 8K context: vLLM V0 did not


@pytest.mark.parametrize("engine, spec, version, date, mixed", [
    ("sglang", L31, "v0.2.7", "2024-07", False),
    ("sglang", L31, None, None, False),  # today's SGLang: enable_mixed_chunk still off
    ("trt-llm", L3, "v0.13", "2024-10", True),
    ("llama.cpp", L3, "b6100", None, True),
    ("vllm", L31, "v0.5.2", "2024-07", False),  # before PR 6666
    ("vllm", L31, "vLLM v0.6.0", "2024-09", True),  # long context: chunked by default
    ("vllm", L31, "vLLM v0.6.0 (--max_model_len 4096)", "2024-09", False),  # the run capped the context
    ("vllm", L31, "vLLM v0.6.3 --max-model-len 32k", None, False),  # 32,000 tokens: not past 32K
    ("vllm", L31, "vLLM v0.6.3 --max-model-len 64K", None, True),
    ("vllm", L3, "0.7.3", None, False),
    ("vllm", L3, "0.8.0", None, True),  # V1: always chunks
    ("vllm", L3, "VLLM_USE_V1=1 vllm 0.7.3", None, True),
    ("vllm", L3, "VLLM_USE_V1=0 vllm 0.8.5", None, False),
    ("vllm", L31, "CUDA 12.4, vLLM 0.6.3", None, True),  # 12.4 is CUDA's, not vLLM's: V0, long context
    ("vllm", L3, "CUDA 12.4, vLLM 0.6.3", None, False),
    ("vllm", L3, "--gpu-memory-utilization 0.95 vLLM 0.6.3", None, False),
    ("vllm", L31, "nightly 2024-06-01", None, False),  # a date in the version text: before PR 6666
    ("vllm", L3, "--max-model-len 2048", "2024-09", False),  # 2048 is a length, not a year: the date decides
    ("vllm", L31, None, "2024", True),  # a year alone reads as its December (as builds.py reads llama.cpp's)
    ("vllm", L3, None, "2024", False),
    ("vllm", L3, None, "2025-06", True),
    ("vllm", L3, None, None, True),  # no version or date: today's vLLM
    ("vllm", L3, "v0.6.3 --enable-chunked-prefill", None, True),
    ("vllm", L31, "v0.6.3 --no-enable-chunked-prefill", None, False),
    ("vllm", L31, "v0.6.3 --enable-chunked-prefill=false", None, False),
    ("unknown", L3, None, None, True),
])
def test_which_engines_mix_a_prompt_into_the_decode_pass(engine, spec, version, date, mixed):
    assert mixed_prefill(engine, spec, version, date) is mixed


def test_a_given_setting_wins_over_the_default():
    assert mixed_prefill("vllm", L3, "0.6.0", chunked_prefill=True)
    assert not mixed_prefill("vllm", L31, "0.6.0", chunked_prefill=False)
    assert not mixed_prefill("vllm", L31, "0.6.0", max_model_len=8192)
    assert mixed_prefill("vllm", L3, "0.8.1", chunked_prefill=False)  # V1 has no switch
    # multi-step scheduling refused chunked prefill until v0.6.2 (vllm#8274, PR 8378)
    assert not mixed_prefill("vllm", L31, "0.6.0", scheduler_steps=10)
    assert mixed_prefill("vllm", L31, "0.6.3", scheduler_steps=10)
    assert not mixed_prefill("vllm", load("gemma-2-9b").spec, "0.6.3", max_model_len=65536)  # sliding window


def test_prompt_passes_by_hand():
    # k = 1 + 4·0.05 = 1.2 prompts a pass; pass = 0.01 + 1.2·0.04 = 0.058 s; ρ = 4·0.058/1.2
    t = separate_passes(t_d=0.02, t_p=0.05, t_c=0.04, b=5, output=100, fixed_s=0.001, request_rate=4.0)
    rho = 4 * 0.058 / 1.2
    assert t.prompts_per_pass == pytest.approx(1.2) and t.stall == pytest.approx(rho)
    assert t.tpot_s == pytest.approx(0.02 / (1 - rho))
    busy = (1 - rho) * 0.02 + rho * 0.058  # what an arrival finds running, half of it left
    assert t.ttft_s == pytest.approx(busy / 2 + 0.058 + 0.001)
    assert t.ttft_p90_s == pytest.approx(0.9 * busy + 0.058 + 0.001)


@pytest.mark.parametrize("b, output", [(1, 128), (8, 128), (64, 4), (64, 2048), (512, 256)])
def test_closed_loop_clients_obey_littles_law(b, output):
    t = separate_passes(t_d=0.02, t_p=0.05, t_c=0.04, b=b, output=output, fixed_s=0.001)
    assert t.requests_per_s == pytest.approx(b / (t.ttft_s + output * t.tpot_s), rel=1e-6)
    assert 0 <= t.stall < 1
    if b == 1:  # nobody else: no stalls, nothing running when the request comes
        assert t.tpot_s == 0.02 and t.ttft_s == pytest.approx(0.051)


def test_a_rate_whose_prompts_fill_the_replica_is_refused():
    with pytest.raises(LlmsizeError, match="overloaded"):
        separate_passes(t_d=0.02, t_p=0.05, t_c=0.04, b=8, output=100, request_rate=30.0)


H100 = get_gpu("H100-SXM")
KW = dict(engine="vllm", weights="bf16", kv_dtype="bf16", prompt=1024, output=128, concurrency="max")


@pytest.mark.parametrize("rate", [1.0, 4.0, 8.0])
def test_serve_times_separate_prompts_with_prompt_passes(rate):
    mixed = serve(L3, H100, request_rate=rate, **KW)
    alone = serve(L3, H100, request_rate=rate, mixed_prefill=False, **KW)
    assert not alone.mixed_prefill and mixed.mixed_prefill
    t_c = forward_flops(L3, 1024, 512) / (H100.peak_flops(alone.path) * alone.efficiency.value
                                          * serve_shape()["compute_rel"])
    t = separate_passes(t_d=alone.step_s, t_p=alone.prefill_s, t_c=t_c, b=alone.batch, output=128,
                        fixed_s=serve_shape()["step_overhead_s"] + serve_shape()["seq_overhead_s"],
                        request_rate=rate)
    assert alone.tpot_s == pytest.approx(t.tpot_s)
    assert alone.ttft_s >= t.ttft_s * (1 - 1e-12)  # and the wait for a batch slot at this rate (next to none)
    assert alone.tpot_s > alone.step_s


@pytest.mark.parametrize("concurrency, output", [(8, 128), (64, 128), (64, 4), ("max", 256)])
def test_separate_prompts_closed_loop_throughput_is_littles(concurrency, output):
    s = serve(L3, H100, **(KW | {"concurrency": concurrency, "output": output}), mixed_prefill=False)
    assert s.output_tokens_per_s == pytest.approx(s.batch * output / (s.ttft_s + output * s.tpot_s), rel=1e-6)


def _case(extra: dict, version: str) -> dict:
    assert get_preset("Meta-Llama-3-8B") is not None
    return {"id": "sched", "kind": "speed", "category": "serve_latency", "model": "Meta-Llama-3-8B",
            "hardware": {"gpu": "H100-SXM", "count": 1}, "engine": "vllm",
            "workload": {"task": "serve", "prompt": 1024, "output": 128, "request_rate": 4.0, "tp": 1, **extra},
            "measured": {"metric": "tpot_s"}, "source": {"engine_version": version}}


def test_validate_reads_the_runs_chunked_prefill_setting_and_says_which_rule_decided():
    v0 = predict_case(parse_case(_case({}, "v0.6.0"), 1, "x"))
    on = predict_case(parse_case(_case({"chunked_prefill": True}, "v0.6.0"), 1, "x"))
    # the two rules time the prompts differently (passes that stall the decodes, or rows riding in their
    # iterations, whose overlap with the weight reads is fitted: `serving.gemm_s`), so the TPOTs differ
    assert abs(v0.predicted / on.predicted - 1) > 1e-3
    assert any(n.startswith("prompts run as passes of their own: vLLM V0 chunks prompts by default only past")
               for n in v0.notes)
    assert any(n.startswith("prompts ride in the decode pass: vLLM V0 with chunked prefill on") for n in on.notes)
    assert not any("not used" in n for n in on.notes)


@pytest.mark.parametrize("length, mixed", [(8192, False), (32768, False), (65536, True)])
def test_a_runs_max_model_len_decides_vllm_v0s_default(length, mixed):
    case = _case({"max_model_len": length}, "v0.6.0") | {"model": "Llama-3.1-8B"}
    r = predict_case(parse_case(case, 1, "x"))
    assert any(n.startswith("prompts ride" if mixed else "prompts run as passes") for n in r.notes)


@pytest.mark.parametrize("field, value, words", [("chunked_prefill", "yes", "chunked_prefill must be true, false"),
                                                 ("chunked_prefill", 1, "chunked_prefill must be true, false"),
                                                 ("max_model_len", 0, "max_model_len must be an integer >= 1"),
                                                 ("max_model_len", 4096.5, "max_model_len must be an integer")])
def test_bad_scheduling_fields_are_a_broken_file(field, value, words):
    with pytest.raises(LlmsizeError, match=words):
        parse_case(_case({field: value}, "v0.6.0"), 1, "x")


@pytest.mark.parametrize("engine, mode, words", [("sglang", "separate", "sglang runs each new prompt as a pass"),
                                                 ("vllm", "mixed", "new prompts ride in the running decodes' pass")])
def test_the_speed_report_says_where_prompts_run(engine, mode, words):
    from llmsize.planner.jobs import ServeJob, make_layout
    from llmsize.planner.reports import speed_report

    rep = speed_report(L31, ServeJob(engine=engine, prompt_len=512, output_len=128), "H100-SXM", make_layout(1))
    assert rep["prompt_scheduling"] == mode and words in rep["note"]
