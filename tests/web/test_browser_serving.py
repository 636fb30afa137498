"""GPU planning and Cost time serving with the engine chosen on the page (issue 11): every weight format
of `quant` (GGUF types included) and llama.cpp's cache types plan with llama.cpp, first-token and
per-token limits reject slower setups, and each answer is the CLI's for the same flags. The page used to
plan vLLM only and refused Q4_K_M and q8_0 as not vLLM's."""
from __future__ import annotations

import re

import pytest

from .conftest import cli_json
from .test_browser import browser, server  # noqa: F401  (fixtures; skips without chromium)
from .test_browser_v2 import ctx, load, pg  # noqa: F401  (fixtures)

LLAMA_CPP = "?m=Llama-3.1-8B&tab=plan&w.gpu=RTX-4090&w.n=2&w.weights=Q4_K_M&w.runtime=llamacpp&w.kv=q8_0"
# the page's serving defaults: 8,192 prompt tokens, 512 out, one sequence
CLI = ["plan", "Llama-3.1-8B", "--serve", "--seq-len", "8192", "--new-tokens", "512", "--batch", "1",
       "--max-gpus", "2", "--top", "60"]


def _feasible(p) -> int:
    return int(re.match(r"[\d,]+", p.get_by_test_id("plan-feasible").inner_text()).group().replace(",", ""))


def test_a_gguf_with_a_llama_cpp_cache_plans_with_llama_cpp_as_the_cli(pg):  # noqa: F811
    load(pg, LLAMA_CPP)
    pg.get_by_test_id("plan-single").wait_for()
    # the runtime is llama.cpp, so its serving engine is too, and the choice says so
    assert pg.get_by_role("radio", name="llama.cpp").first.is_checked()
    cli = cli_json(*CLI, "--engine", "llama.cpp", "--weights", "Q4_K_M", "--kv-cache-dtype", "q8_0")
    assert _feasible(pg) == cli["feasible"] > 0
    best = cli["setups"][0]
    assert pg.get_by_test_id("plan-best").inner_text().startswith(f"{best['gpus']} × {best['gpu']}")
    assert "timed with llama.cpp's measured efficiencies" in pg.locator("#panel-plan").inner_text()
    # the export card writes llama.cpp's command for it
    assert "llama-server" in pg.get_by_test_id("export").inner_text()


def test_choosing_another_engine_replans_and_a_cache_it_lacks_is_said(pg):  # noqa: F811
    load(pg, LLAMA_CPP.replace("&w.kv=q8_0", ""))
    pg.get_by_test_id("plan-single").wait_for()
    llama = pg.locator("#panel-plan").inner_text()
    pg.get_by_role("radio", name="SGLang").check()
    pg.wait_for_function("() => document.querySelector('#panel-plan').innerText.includes(\"SGLang's measured\")")
    pg.get_by_test_id("plan-single").wait_for()
    assert "w.serve_engine=sglang" in pg.url
    cli = cli_json(*CLI, "--engine", "sglang", "--weights", "Q4_K_M")
    assert _feasible(pg) == cli["feasible"]
    assert pg.locator("#panel-plan").inner_text() != llama
    # SGLang keeps no q8_0 cache: the page says why it cannot plan, and how to
    load(pg, LLAMA_CPP + "&w.serve_engine=sglang")
    text = pg.locator("#panel-plan").inner_text()
    assert "q8_0 is a llama.cpp cache type: choose llama.cpp as the serving engine" in text


@pytest.mark.parametrize("field, flag, scale", [("tpot", "--tpot", 1), ("ttft", "--ttft", 1e-3)])
def test_latency_limits_reject_slower_setups_as_the_cli(pg, field, flag, scale):  # noqa: F811
    q = "?m=Llama-3.1-8B&tab=plan&w.gpu=H100-SXM&w.n=2&w.batch=16"
    cli = cli_json(*CLI[:-6], "--batch", "16", "--max-gpus", "2", "--top", "60")
    key = f"{field}_s"
    vals = sorted(s[key] for s in cli["setups"])
    ms = int((vals[0] + vals[-1]) / 2 * 1000)  # between the fastest and the slowest setup
    load(pg, f"{q}&w.{field}={ms}")
    pg.get_by_test_id("plan-single").wait_for()
    capped = cli_json(*CLI[:-6], "--batch", "16", "--max-gpus", "2", "--top", "60", flag, repr(ms * scale))
    assert 0 < _feasible(pg) == capped["feasible"] < cli["feasible"]
    assert pg.get_by_label({"tpot": "Per-token limit (ms)", "ttft": "First-token limit (ms)"}[field], exact=True).input_value() == str(ms)


def test_a_request_rate_times_the_queue_as_the_cli(pg):  # noqa: F811
    """Requests/s at each replica (`--request-rate`): the planner's setups, TTFT with its queue, as the CLI."""
    load(pg, "?m=Llama-3.1-8B&tab=plan&w.gpu=H100-SXM&w.n=2&w.batch=64&w.rate=2.5")
    pg.get_by_test_id("plan-single").wait_for()
    cli = cli_json(*CLI[:-6], "--batch", "64", "--max-gpus", "2", "--top", "60", "--request-rate", "2.5")
    assert _feasible(pg) == cli["feasible"] > 0
    best = cli["setups"][0]
    assert pg.get_by_test_id("plan-best").inner_text().startswith(f"{best['gpus']} × {best['gpu']}")
    field = pg.get_by_label("Request rate (req/s)", exact=True)
    assert field.input_value() == "2.5"
    # a decimal comma, as Spanish writes it, is the same rate; a rate that is not a number is said beside
    # the field, and nothing is sent
    field.fill("2,5")
    pg.get_by_test_id("plan-single").wait_for()
    msg = pg.locator("#w-rate-msg")
    assert msg.count() == 0 or "is not a number" not in msg.inner_text()
    assert pg.get_by_test_id("plan-best").inner_text().startswith(f"{best['gpus']} × {best['gpu']}")
    field.fill("2;5")
    assert "is not a number" in pg.locator("#w-rate-msg").inner_text()


def test_a_request_rate_with_concurrency_left_alone_is_capped_by_the_engine_as_the_cli(pg):  # noqa: F811
    """Concurrent sequences untouched: the rate's batch is the engine's own cap, as the CLI without --batch
    (one request in flight would leave every 70B setup overloaded at 3 requests/s of 8K-token prompts; at 5
    even the engine's cap is not enough on 8 GPUs once each request's prefill holds its slot)."""
    load(pg, "?m=Llama-3.1-70B&tab=plan&w.gpu=H100-SXM&w.n=8&w.rate=3")
    pg.get_by_test_id("plan-single").wait_for()
    cli = cli_json("plan", "Llama-3.1-70B", *CLI[2:-6], "--max-gpus", "8", "--top", "60", "--request-rate", "3")
    assert cli["job"]["concurrency"] == "max" and _feasible(pg) == cli["feasible"] > 0


def test_an_offline_run_plans_batch_max_as_the_cli_and_exports_the_cap_it_assumed(pg):  # noqa: F811
    """The Offline run box is `--batch max`: every request queued, the batch the KV cache and vLLM's
    max sequences hold; the note says what memory and TTFT mean then, and the export writes that cap."""
    load(pg, "?m=Llama-3.1-8B&tab=plan&w.gpu=H100-SXM&w.n=2&w.offline=1")
    pg.get_by_test_id("plan-single").wait_for()
    cli = cli_json(*CLI[:-6], "--batch", "max", "--max-gpus", "2", "--top", "60")
    assert _feasible(pg) == cli["feasible"] > 0
    best = cli["setups"][0]
    assert pg.get_by_test_id("plan-best").inner_text().startswith(f"{best['gpus']} × {best['gpu']}")
    assert pg.locator("#w-offline").is_checked()
    assert "batch max: every request queued at once" in pg.locator("#panel-plan").inner_text()
    pg.wait_for_function("() => document.querySelector('[data-testid=export]').innerText.includes('--max-num-seqs')")
    assert "--max-num-seqs 1024" in pg.get_by_test_id("export").inner_text()  # vLLM V1 default on an H100
