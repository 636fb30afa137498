"""The web API's serving job takes the CLI's serving options (issue 11): `engine`, `mbu`,
`prefill_efficiency`, `request_rate`, `ttft`, `tpot`, and llama.cpp's cache types with engine llama.cpp;
each answer is the CLI's `--json` for the same flags (one vocabulary, docs/vocabulary.md)."""
from __future__ import annotations

import pytest

from llmsize.load import load
from llmsize.planner.jobs import make_job, serve_breakdown
from llmsize.quant.kv import kv_cache_bytes
from tests.web.conftest import cli_json

LLAMA = {"preset": "Llama-3.1-8B"}
SPEED = ["speed", "Llama-3.1-8B", "--serve"]


def _post(client, path, body, status=200):
    r = client.post(f"/api/v1/{path}", json=body)
    assert r.status_code == status, r.text
    return r.json()


@pytest.mark.parametrize("job, flags", [
    ({"engine": "llama.cpp", "weights": "Q4_K_M", "kv_cache_dtype": "q8_0", "batch": 8},
     ["--engine", "llama.cpp", "--weights", "Q4_K_M", "--kv-cache-dtype", "q8_0", "--batch", "8"]),
    ({"engine": "sglang", "batch": 32}, ["--engine", "sglang", "--batch", "32"]),
    ({"engine": "trt-llm", "weights": "fp8", "mbu": 0.5, "prefill_efficiency": 0.4},
     ["--engine", "trt-llm", "--weights", "fp8", "--mbu", "0.5", "--prefill-efficiency", "0.4"]),
    ({"request_rate": 2, "batch": 64}, ["--request-rate", "2", "--batch", "64"]),
    ({"batch": "max"}, ["--batch", "max"]),
    ({"batch": "max", "engine": "sglang", "request_rate": 5}, ["--batch", "max", "--engine", "sglang",
                                                               "--request-rate", "5"]),
    # a request rate with no batch: the engine's own cap on both sides, as `make_job` decides it
    ({"request_rate": 5}, ["--request-rate", "5"]),
    ({"engine": "llama.cpp", "weights": "Q4_K_M", "request_rate": 0.2}, ["--engine", "llama.cpp", "--weights",
                                                                         "Q4_K_M", "--request-rate", "0.2"]),
])
def test_api_speed_is_the_cli_speed_for_the_same_serving_options(client, job, flags):
    gpu = "RTX-4090" if job.get("engine") == "llama.cpp" else "H100-SXM"
    api = _post(client, "speed", {"model": LLAMA, "gpu": gpu, "job": job})
    assert api == cli_json(*SPEED, "--gpu", gpu, *flags)
    assert api["engine"] == job.get("engine", "vllm")
    if "batch" not in job:
        assert api["concurrency"] == ("max" if "request_rate" in job and api["engine"] != "llama.cpp" else 1)


def test_the_engine_changes_the_timing_and_names_its_table_key(client):
    body = {"model": LLAMA, "gpu": "H100-SXM", "job": {"batch": 64}}
    vllm = _post(client, "speed", body)
    sglang = _post(client, "speed", {**body, "job": {"batch": 64, "engine": "sglang"}})
    assert vllm["efficiency"]["key"].startswith("vllm/") and sglang["efficiency"]["key"].startswith("sglang/")
    assert sglang["tpot_s"] != vllm["tpot_s"]
    # a given bandwidth utilisation replaces the engine's: the decode is memory-bound, so TPOT grows
    slow = _post(client, "speed", {**body, "job": {"batch": 64, "mbu": 0.3}})
    assert slow["tpot_s"] > vllm["tpot_s"]


def test_llama_cpp_cache_types_size_the_kv_cache_exactly(client):
    """q8_0 stores 34 bytes per 32 values: the planner's KV term is quant's exact cache, the rest as f16."""
    spec = load("Llama-3.1-8B").spec
    q8 = make_job("serve", engine="llama.cpp", weights="Q4_K_M", kv_dtype="q8_0", prompt=8192, output=256,
                  concurrency=4)
    f16 = make_job("serve", engine="llama.cpp", weights="Q4_K_M", kv_dtype="f16", prompt=8192, output=256,
                   concurrency=4)
    a, b = serve_breakdown(spec, q8), serve_breakdown(spec, f16)
    assert a.kv_cache == kv_cache_bytes(spec, 8448, "q8_0", batch=4) == 2_353_004_544
    assert b.kv_cache == kv_cache_bytes(spec, 8448, "fp16", batch=4) == 4 * 8448 * 32 * 2 * 8 * 128 * 2
    assert (a.weights, a.transient, a.device) == (b.weights, b.transient, b.device)
    body = {"model": LLAMA, "gpu": ["RTX-4090"], "max_gpus": 1,
            "job": {"engine": "llama.cpp", "weights": "Q4_K_M", "seq_len": 8192, "batch": 4}}
    rows = {kv: _post(client, "plan", {**body, "job": {**body["job"], "kv_cache_dtype": kv}})["setups"][0]
            for kv in ("f16", "q8_0")}
    assert rows["f16"]["memory_per_gpu_bytes"] - rows["q8_0"]["memory_per_gpu_bytes"] == b.kv_cache - a.kv_cache


@pytest.mark.parametrize("job, says", [
    ({"kv_cache_dtype": "q8_0"}, "KV cache dtype q8_0 is a llama.cpp cache type (--engine llama.cpp); vllm takes"),
    ({"engine": "llama.cpp", "kv_cache_dtype": "fp8"}, "KV cache dtype fp8 is not a llama.cpp cache type"),
    ({"engine": "llama.cpp", "kv_cache_dtype": "q9_0"}, "unknown llama.cpp KV cache dtype"),
    ({"mode": "train", "engine": "sglang"}, "engine applies to serving, not training"),
    ({"mode": "train", "ttft": 1, "tpot": 20}, "ttft, tpot apply to serving, not training"),
    ({"engine": "exllama"}, "job.engine"),
    ({"mbu": 1.5}, "job.mbu"),
    ({"ttft": 0}, "job.ttft"),
])
def test_bad_serving_options_are_one_line_422s(client, job, says):
    detail = _post(client, "speed", {"model": LLAMA, "gpu": "H100-SXM", "job": job}, status=422)["detail"]
    assert says in detail and "\n" not in detail


def test_latency_targets_reject_slower_setups_as_the_cli_does(client):
    body = {"model": LLAMA, "gpu": ["H100-SXM"], "max_gpus": 2, "top": 50, "job": {"batch": 16}}
    free = _post(client, "plan", body)["setups"]
    tpots = sorted(s["tpot_s"] for s in free)
    bound = (tpots[0] + tpots[-1]) / 2 * 1000  # ms: some setups above it, some below
    capped = _post(client, "plan", {**body, "job": {"batch": 16, "tpot": bound}})
    assert {(s["gpus"], s["layout"]) for s in capped["setups"]} == \
        {(s["gpus"], s["layout"]) for s in free if s["tpot_s"] * 1000 <= bound}
    assert capped["rejected"]["counts"].get("slow", 0) == len(free) - len(capped["setups"]) > 0
    cli = cli_json("plan", "Llama-3.1-8B", "--serve", "--gpu", "H100-SXM", "--max-gpus", "2", "--top", "50",
                   "--batch", "16", "--tpot", repr(bound))
    assert cli == capped
    ttfts = sorted(s["ttft_s"] for s in free)
    quick = _post(client, "plan", {**body, "job": {"batch": 16, "ttft": (ttfts[0] + ttfts[-1]) / 2}})
    assert 0 < len(quick["setups"]) < len(free)


def test_a_request_rate_no_setup_keeps_up_with_is_said_as_the_reason(client):
    """A rate past what every layout serves is a speed limit ("slow", not "fit"), and a cost row with no
    feasible setup says the planner's own reason (it said "does not fit" whatever the cause)."""
    job = {"request_rate": 50, "batch": 64}
    plan = _post(client, "plan", {"model": LLAMA, "gpu": ["RTX-4090"], "max_gpus": 2, "job": job})
    assert plan["rejected"]["counts"] == {"fit": 1, "slow": 2} and not plan["setups"]
    assert all(e["reason"].startswith("overloaded: 50 requests/s exceeds") for e in plan["rejected"]["examples"]["slow"])
    cost = _post(client, "cost", {"model": LLAMA, "gpu": ["RTX-4090"], "counts": [1, 8], "job": job})
    notes = {r["gpus"]: r["note"] for r in cost["rows"]}
    assert notes[1].startswith("does not fit: needs 27.8 GiB per GPU") and notes[8].startswith("overloaded: 50")


@pytest.mark.parametrize("job, msg", [
    ({"batch": "max", "mode": "train", "tokens": 1e9}, "batch max is a serving run's"),
    ({"batch": "max", "engine": "llama.cpp", "weights": "Q4_K_M"}, "paged-KV engine's run"),
    ({"batch": "max", "ttft": 1}, "TTFT limit needs requests that arrive over time"),
    ({"batch": "maximum"}, "Input should be 'max'"),
])
def test_batch_max_where_it_means_nothing_is_a_422_that_says_why(client, job, msg):
    r = client.post("/api/v1/speed", json={"model": LLAMA, "gpu": "H100-SXM", "job": job})
    assert r.status_code == 422 and msg in r.json()["detail"], r.text


def test_fit_without_find_asks_what_applies_to_the_engine(client):
    # as `llmsize fit` without --find: llama.cpp's slots are `batch`'s answer, vLLM's KV blocks are not asked
    job = {"engine": "llama.cpp", "weights": "Q4_K_M"}
    rep = _post(client, "fit", {"model": LLAMA, "gpu": "RTX-4090", "job": job})
    assert "kv_budget" not in rep and rep["largest_batch"] > 1
    assert rep == cli_json("fit", "Llama-3.1-8B", "--serve", "--engine", "llama.cpp", "--weights", "Q4_K_M",
                           "--gpu", "RTX-4090")
