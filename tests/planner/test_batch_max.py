"""`--batch max`: an offline max-throughput run (issue 11, "a max-throughput mode: every request queued,
bounded by KV capacity and max sequences"), the mode `validate`'s `"concurrency": "max"` cases time, now
asked for from `speed`, `plan`, `cost`, `export` and the API with one word of the shared vocabulary."""
from __future__ import annotations

import json

import pytest
from test_cli_plan import run

from llmsize.catalog import hardware as hw
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.planner.jobs import ServeJob, make_job
from llmsize.speedmodel.serving import serve


def _speed(*flags: str) -> dict:
    r = run("speed", "--json", *flags)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_batch_is_what_max_sequences_or_the_kv_cache_hold_and_it_is_the_saturated_rate():
    spec, g = load("Llama-3.1-8B").spec, hw.get_gpu("A100-SXM-80GB")
    kw = dict(engine="vllm", weights="bf16", kv_dtype="auto", output=256)
    short = serve(spec, g, prompt=1024, concurrency="max", **kw)
    # 1,280-token requests: the KV cache would hold more than vLLM's 256 sequences (its default on an A100),
    # so its cap binds; on an H100 vLLM's default is 1024 and the KV cache binds first
    assert short.batch_limit == "max_seqs" and short.batch == 256
    assert serve(spec, hw.get_gpu("H100"), prompt=1024, concurrency="max", **kw).batch_limit == "kv"
    assert short.kv_capacity_tokens >= 256 * 1280
    long = serve(spec, g, prompt=32768, concurrency="max", **kw)
    # 33,024-token requests: as many as the KV cache holds, and not one more
    assert long.batch_limit == "kv"
    assert long.batch * 33024 <= long.kv_capacity_tokens < (long.batch + 1) * 33024
    # every request queued is what any fixed concurrency reaches at most, and what a huge one reaches
    for c in (1, 16, 64, 255):
        assert serve(spec, g, prompt=1024, concurrency=c, **kw).output_tokens_per_s <= short.output_tokens_per_s
    assert serve(spec, g, prompt=1024, concurrency=60000, **kw).output_tokens_per_s == short.output_tokens_per_s


def test_the_job_sizes_memory_for_one_request_and_refuses_what_max_cannot_mean():
    job = make_job("serve", concurrency="max")
    assert job.offline and job.sequences == 1 and job.concurrency == "max"
    # with a request rate, max is no cap of its own: the engine's max sequences and the KV cache bound the batch
    assert not make_job("serve", concurrency="max", request_rate=2.0).offline
    with pytest.raises(LlmsizeError, match="llama.cpp serves a fixed number of sequences"):
        ServeJob(concurrency="max", engine="llama.cpp")
    with pytest.raises(LlmsizeError, match="TTFT limit needs requests that arrive over time"):
        ServeJob(concurrency="max", max_ttft_s=1.0)
    with pytest.raises(LlmsizeError, match="concurrency must be a positive finite number"):
        ServeJob(concurrency="many")


@pytest.mark.parametrize("engine, cap", [("vllm", "max"), ("sglang", "max"), ("trt-llm", "max"), ("llama.cpp", 1),
                                         ("transformers", 1)])
def test_a_request_rate_without_a_batch_is_capped_by_the_engine_not_by_one_request(engine, cap):
    # vllm bench serve --request-rate runs with no --max-concurrency: the engine batches what arrives; llama.cpp
    # and transformers serve a fixed number of sequences (1 unless given)
    assert make_job("serve", engine=engine, request_rate=5.0).concurrency == cap
    assert make_job("serve", engine=engine).concurrency == 1
    if engine == "transformers":  # generate() runs a fixed batch: arrivals over time are served one at a time
        with pytest.raises(LlmsizeError, match="a request rate takes batch 1, not 8"):
            make_job("serve", engine=engine, request_rate=5.0, concurrency=8)
    else:
        assert make_job("serve", engine=engine, request_rate=5.0, concurrency=8).concurrency == 8  # given: kept
    # `plan` at 5 requests/s of 2,000-token prompts: 8 H100s keep up, as the batch grows to what arrives
    if engine == "vllm":
        rep = json.loads(run("plan", "Llama-3.1-70B", "--gpu", "H100", "--request-rate", "5", "--seq-len", "2000",
                             "--max-gpus", "8", "--json").stdout)
        assert rep["job"]["concurrency"] == "max" and rep["setups"]
        assert all(r["gpus"] == 8 and r["tokens_per_s"] == pytest.approx(5 * 256) for r in rep["setups"])


def test_speed_batch_max_times_validates_offline_mode_and_says_what_ttft_means():
    rep = _speed("Llama-3.1-70B", "--gpu", "H100", "--tp", "4", "--batch", "max")
    from llmsize.parallel import Layout
    from llmsize.planner.jobs import ServeJob
    from llmsize.planner.serve_search import paged_kv_bytes

    spec, g = load("Llama-3.1-70B").spec, hw.get_gpu("H100")
    # the KV the engine's own rule leaves (what speed times: fit --find concurrency's batch)
    kv = paged_kv_bytes(spec, ServeJob(prompt_len=1024, output_len=256, concurrency="max"), g, Layout(tp=4))
    s = serve(spec, g, engine="vllm", weights="bf16", kv_dtype="auto", prompt=1024, output=256,
              concurrency="max", tp=4, kv_free_bytes=kv)
    assert rep["offline"] is True and rep["concurrency"] == "max"
    assert (rep["batch"], rep["batch_limit"]) == (s.batch, s.batch_limit)
    assert rep["output_tokens_per_s"] == pytest.approx(s.output_tokens_per_s, rel=1e-12)
    assert "once it is admitted plus its wait in the queue" in rep["note"]
    text = " ".join(run("speed", "Llama-3.1-70B", "--gpu", "H100", "--tp", "4", "--batch", "max").stdout.split())
    assert "every request queued at once (batch max)" in text and "time to first token once admitted" in text
    # a request rate with batch max: a stable queue at the engine's own cap, timed as any rate
    rated = _speed("Llama-3.1-8B", "--gpu", "H100", "--batch", "max", "--request-rate", "2")
    assert rated["offline"] is False and rated["batch_limit"] == "request_rate"


def test_plan_cost_and_export_take_batch_max():
    plan = json.loads(run("plan", "Llama-3.1-8B", "--gpu", "H100", "--batch", "max", "--max-gpus", "2",
                          "--json").stdout)
    assert plan["job"]["concurrency"] == "max" and plan["feasible"] > 0 and "batch max" in plan["note"]
    # more replicas serve more of the queue: two GPUs beat one in tokens/s
    one = max(r["tokens_per_s"] for r in plan["setups"] if r["gpus"] == 1)
    two = max(r["tokens_per_s"] for r in plan["setups"] if r["gpus"] == 2)
    assert two > 1.5 * one
    cost = json.loads(run("cost", "Llama-3.1-8B", "--gpu", "H100", "--batch", "max", "--json").stdout)
    eight = next(r for r in cost["rows"] if r["gpus"] == 8)
    assert eight["replicas"] == 8  # every replica has requests to serve
    # export writes the max sequences the plan assumed, so the run batches as it was timed
    out = run("export", "vllm", "Llama-3.1-8B", "--gpu", "H100", "--gpus", "1", "--batch", "max")
    assert out.returncode == 0, out.stderr
    assert "--max-num-seqs 1024" in out.stdout  # vLLM V1's default on a GPU of 70 GiB or more, not an A100


@pytest.mark.parametrize("args, msg", [
    (("speed", "Llama-3.1-8B", "--gpu", "H100", "--batch", "mux"), "or max"),
    (("speed", "Llama-3.1-8B", "--gpu", "H100", "--batch", "0"), "or max"),
    # digits str.isdigit takes but int() does not, and more digits than int() converts: refused, not crashed
    (("speed", "Llama-3.1-8B", "--gpu", "H100", "--batch", "\u00b2"), "from 1 to 65,536"),
    (("speed", "Llama-3.1-8B", "--gpu", "H100", "--batch", "9" * 5000), "from 1 to 65,536"),
    (("plan", "Llama-3.1-8B", "--batch", "65537"), "from 1 to 65,536"),
    (("speed", "Llama-3.1-8B", "--gpu", "RTX-4090", "--batch", "max", "--engine", "llama.cpp",
      "--weights", "Q4_K_M"), "paged-KV engine's run"),
    (("speed", "Llama-3.1-8B", "--gpu", "H100", "--batch", "max", "--engine", "transformers"), "paged-KV"),
    (("plan", "Llama-3.1-8B", "--batch", "max", "--ttft", "1"), "TTFT limit needs requests"),
    (("plan", "Llama-3.1-8B", "--train", "--batch", "max"), "--find batch"),
    (("fit", "Llama-3.1-8B", "--gpu", "RTX-4090", "--find", "ngl", "--batch", "max"), "-np slots"),
    (("export", "deepspeed", "Llama-3.1-8B", "--gpus", "8", "--batch", "max"), "give --batch 1 or more"),
    (("export", "llamacpp", "m.gguf", "--batch", "max"), "paged-KV"),
])
def test_batch_max_where_it_means_nothing_exits_2(args, msg):
    r = run(*args)
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("flag, value, says", [("--mbu", "2", "--mbu must be a share in (0, 1], got 2.0"),
                                               ("--prefill-efficiency", "0", "--prefill-efficiency must be a share"),
                                               ("--target-tps", "0", "--target-tps must be a positive finite number"),
                                               ("--request-rate", "0", "--request-rate must be a positive finite number"),
                                               ("--ttft", "-1", "--ttft must be a positive finite number")])
def test_a_bad_serving_rate_or_limit_is_named_by_its_flag(flag, value, says):
    # not by the job's field (prefill_mfu, min_tokens_per_s) nor beside the rates that were not given
    r = run("speed", "Llama-3.1-8B", "--gpu", "H100", flag, value)
    assert r.returncode == 2 and says in r.stderr and "None" not in r.stderr and "Traceback" not in r.stderr
