"""The batch a paged-KV engine holds is one number everywhere: `speed`/`plan` time the batch `fit --find
concurrency` and `export` say fits, each engine by its own rule for its memory share (vLLM: u of the total
less weights, activations and runtime; TensorRT-LLM: u of what is free after loading; SGLang: its static
share less the weights). transformers' generate() serves a fixed batch; a request rate that keeps every slot
busy is overloaded, not an infinite TTFT."""
from __future__ import annotations

import math

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.load import load_preset
from llmsize.parallel import Layout
from llmsize.planner import fit
from llmsize.planner.jobs import ServeJob, device_bytes, serve_breakdown
from llmsize.planner.reports import fit_report, speed_report
from llmsize.planner.serve_search import paged_kv_bytes

L8 = load_preset("Llama-3.1-8B").spec


@pytest.mark.parametrize("engine", ["vllm", "sglang", "trt-llm"])
@pytest.mark.parametrize("gpu", ["RTX-4090", "H100"])
def test_speed_batch_max_is_fits_concurrency(engine, gpu):
    job = ServeJob(prompt_len=2000, output_len=500, concurrency="max", engine=engine)
    sp = speed_report(L8, job, gpu, Layout())
    f = fit_report(L8, job.with_(concurrency=1), gpu, Layout(), find=("concurrency",))
    assert sp["batch_limit"] == "kv"
    assert sp["batch"] == f["kv_budget"]["max_concurrency"]


def test_each_engines_rule_by_hand():
    g, lay = get_gpu("H100"), Layout()
    dev = device_bytes(serving=True, engine="vllm")
    # vLLM profiles what `vllm serve` defaults to on the GPU (8,192 tokens, 1,024 sequences on an H100);
    # TensorRT-LLM and SGLang keep the stand-in profile of 16,384 tokens over 256 sequences
    w, peak = fit.non_kv_bytes(L8, serve_breakdown(L8, ServeJob(), 1, ServeJob().context, g), lay)
    trt = ServeJob(engine="trt-llm")
    w_trt, peak_trt = fit.non_kv_bytes(L8, serve_breakdown(L8, trt, 1, trt.context, g), lay)
    assert w_trt == w and peak - peak_trt == (8192 - 16384) * (3 * 14336 + 2 * 4096) * 2 + 3 * (1024 - 256) * 128256 * 4
    u = 0.9
    assert paged_kv_bytes(L8, ServeJob(engine="vllm"), g, lay) == int(u * g.usable - peak - dev)
    assert paged_kv_bytes(L8, trt, g, lay) == int(u * (g.usable - peak_trt - dev))
    # SGLang's own default share on an H100 at TP 1 (engines.sglang): (M − 13,440 MiB)/M, to 3 decimals
    u_sgl = round((g.usable / 2**20 - 13440) / (g.usable / 2**20), 3)
    assert u_sgl == 0.834
    assert paged_kv_bytes(L8, ServeJob(engine="sglang"), g, lay) == int(u_sgl * g.usable - w)
    assert paged_kv_bytes(L8, ServeJob(engine="sglang", gpu_memory_utilization=0.9), g, lay) == int(u * g.usable - w)
    assert paged_kv_bytes(L8, ServeJob(engine="llama.cpp", kv_dtype="f16"), g, lay) is None
    assert 0 < peak - w < 4 * 2**30 and w > 14 * 2**30  # activations a few GiB, 8B bf16 weights ~15 GiB


def test_transformers_serves_a_fixed_batch():
    """64 prompts of 1,024 tokens in one eager pass: at least 2N·64·1024 FLOPs at the H100's dense peak."""
    job = ServeJob(prompt_len=1024, output_len=256, concurrency=64, engine="transformers")
    sp = speed_report(L8, job, "H100", Layout())
    floor = 2 * 8.0e9 * 64 * 1024 / get_gpu("H100").peak_flops("bf16")
    assert sp["prompt_scheduling"] == "static" and sp["ttft_s"] > floor
    assert sp["output_tokens_per_s"] == pytest.approx(64 * 256 / (sp["ttft_s"] + 256 * sp["tpot_s"]), rel=1e-9)
    one = speed_report(L8, job.with_(concurrency=1), "H100", Layout())
    assert one["ttft_s"] < sp["ttft_s"] / 10


def test_a_rate_that_keeps_every_slot_busy_is_overloaded_not_infinite():
    from llmsize.planner import plan_report

    job = ServeJob(prompt_len=8192, output_len=512, concurrency="max", request_rate=5.0)
    rep = plan_report(load_preset("Llama-3.1-70B").spec, job, gpu_names=["H100"], max_gpus=8, top=60)
    assert all(math.isfinite(s["ttft_s"]) for s in rep["setups"])
    assert any(e["reason"].startswith("overloaded") for e in rep["rejected"]["examples"].get("slow", []))


def test_sglang_static_share_never_promises_memory_the_gpu_lacks():
    """On an RTX 4090 a 0.9 SGLang share less the weights leaves 6.3 GiB, but the activations and runtime
    outside the share leave only 4.4 GiB: the KV is the smaller (14 sequences of 2,500 tokens, not 20)."""
    g, lay = get_gpu("RTX-4090"), Layout()
    job = ServeJob(prompt_len=2000, output_len=500, engine="sglang", gpu_memory_utilization=0.9)
    w, peak = fit.non_kv_bytes(L8, serve_breakdown(L8, job, 1, job.context), lay)
    dev = device_bytes(serving=True, engine="sglang")
    kv = paged_kv_bytes(L8, job, g, lay)
    assert kv == int(g.usable - peak - dev) < 0.9 * g.usable - w
    sp = speed_report(L8, job.with_(concurrency="max"), "RTX-4090", lay)
    assert sp["batch"] == 14


def test_sglang_takes_its_own_default_share_by_gpu_and_layout():
    """Without --gpu-memory-utilization SGLang's share is its own default (engines.sglang): 0.834 of an H100
    at TP 1, so 8B's KV is u·usable − W (51 GiB, not the 0.9 share's 56 GiB), and fit says which u."""
    g, lay = get_gpu("H100"), Layout()
    job = ServeJob(prompt_len=2000, output_len=500, engine="sglang")
    w, peak = fit.non_kv_bytes(L8, serve_breakdown(L8, job, 1, job.context), lay)
    kv = paged_kv_bytes(L8, job, g, lay)
    assert kv == int(0.834 * g.usable - w) < paged_kv_bytes(L8, job.with_(gpu_memory_utilization=0.9), g, lay)
    f = fit_report(L8, job.with_(concurrency=1), "H100", lay, find=("concurrency",))
    assert (f["kv_budget"]["share"], f["kv_budget"]["share_origin"]) == (0.834, "SGLang's default")
    assert f["kv_budget"]["kv_bytes"] == kv
    assert speed_report(L8, job.with_(concurrency="max"), "H100", lay)["batch"] == f["kv_budget"]["max_concurrency"]


def test_sglang_plan_fit_and_speed_agree_under_its_static_share():
    """SGLang's share holds the weights and KV only (activations outside it): Qwen2.5-32B on one H100 has 15
    sequences of KV under its 0.834 share, so plan and fit --find gpus take one GPU (they held the whole
    66.9 GiB to the 66.1 GiB share and asked for two)."""
    from llmsize.planner import plan_report

    spec = load_preset("Qwen2.5-32B").spec
    job = ServeJob(engine="sglang")
    f = fit_report(spec, job, "H100", Layout(), find=("concurrency", "gpus"))
    assert f["kv_budget"]["max_concurrency"] == 15 and f["fewest_gpus"]["gpus"] == 1
    rep = plan_report(spec, job, gpu_names=["H100"], max_gpus=1)
    assert rep["feasible"] == 1 and rep["setups"][0]["gpus"] == 1
    assert speed_report(spec, job.with_(concurrency="max"), "H100", Layout())["batch"] == 15
