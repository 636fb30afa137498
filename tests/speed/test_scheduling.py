"""How an engine schedules a new prompt beside the running decodes (speedmodel/scheduling.py): mixed into
their pass (TRT-LLM, vLLM with chunked prefill, llama.cpp) or as a pass of its own that stalls them (SGLang,
vLLM's V0 engine without chunked prefill), and what that does to TTFT and TPOT."""
from __future__ import annotations

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.catalog.presets import get_preset
from llmsize.load import load
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
    ("vllm", L3, "0.7.3", None, False),
    ("vllm", L3, "0.8.0", None, True),  # V1: always chunks
    ("vllm", L3, None, "2024", False),  # a year alone reads as its December: V0
    ("vllm", L3, None, "2025-06", True),
    ("vllm", L3, None, None, True),  # no version or date: today's vLLM
    ("vllm", L3, "v0.6.3 --enable-chunked-prefill", None, True),
    ("unknown", L3, None, None, True),
])
def test_which_engines_mix_a_prompt_into_the_decode_pass(engine, spec, version, date, mixed):
    assert mixed_prefill(engine, spec, version, date) is mixed


def test_a_given_setting_wins_over_the_default():
    assert mixed_prefill("vllm", L3, "0.6.0", chunked_prefill=True)
    assert not mixed_prefill("vllm", L31, "0.6.0", chunked_prefill=False)
    assert not mixed_prefill("vllm", L31, "0.6.0", max_model_len=8192)
    assert mixed_prefill("vllm", L3, "0.8.1", chunked_prefill=False)  # V1 has no switch


H100 = get_gpu("H100-SXM")
KW = dict(engine="vllm", weights="bf16", kv_dtype="bf16", prompt=1024, output=128, concurrency="max")


@pytest.mark.parametrize("rate", [1.0, 4.0, 8.0])
def test_separate_prompt_passes_stall_decodes_more_as_the_rate_grows(rate):
    alone = serve(L3, H100, request_rate=rate, mixed_prefill=False, **KW)
    assert alone.tpot_s > alone.step_s  # the others' prompt passes stretch a request's tokens
    lo, hi = (serve(L3, H100, request_rate=r, mixed_prefill=False, **KW) for r in (rate / 2, rate))
    assert hi.tpot_s > lo.tpot_s


def test_a_separate_prompt_pass_waits_for_the_decode_step_in_progress():
    s = serve(L3, H100, request_rate=8.0, mixed_prefill=False, **KW)
    assert s.batch > 1
    assert s.ttft_s >= s.prefill_s + s.step_s / 2


def test_prompt_passes_cannot_hide_under_memory_bound_decodes():
    kw = KW | {"concurrency": 16}  # 16 decodes: the step reads the weights with compute to spare
    mixed, alone = serve(L3, H100, **kw), serve(L3, H100, mixed_prefill=False, **kw)
    assert mixed.bound == "memory"
    assert alone.output_tokens_per_s < mixed.output_tokens_per_s
    big = KW | {"concurrency": 4096}  # compute-bound decodes: the prompts' FLOPs add up either way
    assert serve(L3, H100, mixed_prefill=False, **big).output_tokens_per_s == pytest.approx(
        serve(L3, H100, **big).output_tokens_per_s)


def _case(extra: dict, version: str) -> dict:
    assert get_preset("Meta-Llama-3-8B") is not None
    return {"id": "sched", "kind": "speed", "category": "serve_latency", "model": "Meta-Llama-3-8B",
            "hardware": {"gpu": "H100-SXM", "count": 1}, "engine": "vllm",
            "workload": {"task": "serve", "prompt": 1024, "output": 128, "request_rate": 4.0, "tp": 1, **extra},
            "measured": {"metric": "tpot_s"}, "source": {"engine_version": version}}


def test_validate_reads_the_runs_chunked_prefill_setting_and_says_when_prompts_stall():
    v0 = predict_case(parse_case(_case({}, "v0.6.0"), 1, "x"))
    on = predict_case(parse_case(_case({"chunked_prefill": True}, "v0.6.0"), 1, "x"))
    assert v0.predicted > on.predicted
    assert any("pass of its own" in n for n in v0.notes) and not any("pass of its own" in n for n in on.notes)
    assert not any("not used" in n for n in on.notes)
    bad = _case({"chunked_prefill": "yes"}, "v0.6.0")
    with pytest.raises(Exception, match="chunked_prefill must be true, false or null"):
        predict_case(parse_case(bad, 1, "x"))


@pytest.mark.parametrize("engine, mode, words", [("sglang", "separate", "sglang runs each new prompt as a pass"),
                                                 ("vllm", "mixed", "new prompts ride in the running decodes' pass")])
def test_the_speed_report_says_where_prompts_run(engine, mode, words):
    from llmsize.planner.jobs import ServeJob, make_layout
    from llmsize.planner.reports import speed_report

    rep = speed_report(L31, ServeJob(engine=engine, prompt_len=512, output_len=128), "H100-SXM", make_layout(1))
    assert rep["prompt_scheduling"] == mode and words in rep["note"]
