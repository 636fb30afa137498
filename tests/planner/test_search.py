"""The search: reasons for rejection and ranking (its time budget is bench/bench_plan.py's, not a unit test's)."""
from __future__ import annotations

from llmsize.parallel import Breakdown
from llmsize.params import count
from llmsize.planner import plan_report
from llmsize.planner.jobs import ServeJob, TrainJob


def _train_bd(spec):
    p = count(spec).total
    return Breakdown(weights=2 * p, gradients=2 * p, master_weights=4 * p, optimizer=8 * p,
                     activations=2 * spec.num_layers * 4096 * spec.hidden_size * 2, transient=4096 * 128256 * 4,
                     weight_bytes_per_param=2, grad_bytes_per_param=2)


def test_70b_plan_explains_rejections(llama70b):
    rep = plan_report(llama70b, TrainJob(tokens=1e12, max_days=60), breakdown=_train_bd(llama70b))
    assert rep["feasible"] > 0
    assert {"fit", "divisible", "slow"} <= set(rep["rejected"]["counts"])
    assert any("does not fit" in e["reason"] for e in rep["rejected"]["examples"]["fit"])
    assert any("too slow" in e["reason"] for e in rep["rejected"]["examples"]["slow"])
    costs = [r["usd"] for r in rep["setups"] if r["usd"] is not None]
    assert costs == sorted(costs)
    for r in rep["setups"]:
        assert r["memory_per_gpu_bytes"] <= r["budget_bytes"]


def test_serve_plan_meets_target_and_prices(llama70b):
    p = count(llama70b).total
    bd = Breakdown(weights=2 * p, kv_cache=320 * 1024 * 1280 * 16, activations=2 * 2**30, weight_bytes_per_param=2)
    rep = plan_report(llama70b, ServeJob(concurrency=16, min_tokens_per_s=2000), gpu_names=["H100", "A100-80GB"],
                      breakdown=bd, prices={"H100-SXM": 2.0})
    best = rep["setups"][0]
    assert best["tokens_per_s"] >= 2000
    assert best["usd"] is not None and best["usd_per_1m_input"] < best["usd"]
    assert any("not divisible" in e["reason"] or "does not fit" in e["reason"]
               for ex in rep["rejected"]["examples"].values() for e in ex)


def test_training_search_tries_pipeline_schedules_and_fp8(llama70b):
    """Pipelined Megatron layouts come in 1F1B, interleaved (one layer per virtual stage, as validate) and
    zero-bubble forms; the bubble multiplies the compute-only rate, so on one layout with few micro-batches
    zero-bubble > interleaved > 1F1B. FP8 training runs at the FP8 peak on Hopper and is refused (with its
    reason) where there is none."""
    from llmsize.catalog.hardware import get_gpu
    from llmsize.planner.search import plan_train, schedule, train_tokens_per_s

    h100, a100 = get_gpu("H100-SXM"), get_gpu("A100-SXM-80GB")
    # interleaving trades the bubble for 2v pipeline sends per micro-batch (not overlapped, comm.py): at
    # one layer per chunk (v = 20 here) and 128 micro-batches the sends outweigh the bubble it saves
    many = {schedule(c.layout): c.tokens_per_s for c in plan_train(llama70b, TrainJob(tokens=1e12, global_batch=256),
                                                                  _train_bd(llama70b), [h100], counts=(64,))
            if c.kind == "ok" and c.layout.tp == 8 and c.layout.pp == 4}
    assert many["zero-bubble"] > many["1f1b"] > many["interleaved"]
    job = TrainJob(tokens=1e12, global_batch=64)  # 32 micro-batches: the bubble matters
    cands = [c for c in plan_train(llama70b, job, _train_bd(llama70b), [h100], counts=(64,))
             if c.kind == "ok" and c.layout.tp == 8 and c.layout.pp == 4]
    by = {schedule(c.layout): c.tokens_per_s for c in cands}
    assert set(by) == {"1f1b", "interleaved", "zero-bubble"}
    assert by["zero-bubble"] > by["interleaved"] > by["1f1b"]
    lay = next(c.layout for c in cands if schedule(c.layout) == "1f1b")
    fp8 = job.with_(precision="fp8-mixed")
    # fp8 GEMMs at twice the bf16 peak, at the efficiency fitted on the FP8 rows (llm-foundry, torchtitan):
    # 1.17x here, with attention on bf16 and the TP all-reduces unchanged
    assert train_tokens_per_s(llama70b, fp8, h100, lay) > 1.1 * train_tokens_per_s(llama70b, job, h100, lay)
    rej = [c for c in plan_train(llama70b, fp8, _train_bd(llama70b), [a100], counts=(64,)) if c.kind != "ok"]
    assert rej and all(c.kind != "ok" for c in rej) and any("FP8" in (c.reason or "") for c in rej)


def test_an_unbounded_training_plan_names_its_fastest_setup(llama70b):
    """Linear scaling prices most GPU counts alike, so the cheapest training setup is the fewest GPUs however
    long it runs; without --max-days the report says how long that is and which feasible setup is fastest
    (and what it costs more), and a time bound takes the note away."""
    bd = _train_bd(llama70b)
    rep = plan_report(llama70b, TrainJob(tokens=1e12), gpu_names=["H100"], breakdown=bd,
                      prices={"H100-SXM": 2.0}, top=1000)
    first, rows = rep["setups"][0], rep["setups"]
    fast = min(rows, key=lambda r: (r["seconds"], r["gpus"]))
    assert first["seconds"] > 10 * fast["seconds"] and first["gpus"] < fast["gpus"]
    note = rep["note"]
    assert note.startswith("no time bound: ranked by cost") and "(--max-days)" in note
    assert f"the fastest here {fast['seconds'] / 86400:,.1f} days ({fast['gpus']} × H100-SXM {fast['layout']}, " in note
    assert f"{(fast['usd'] / first['usd'] - 1) * 100:+.1f}% cost)" in note
    bounded = plan_report(llama70b, TrainJob(tokens=1e12, max_days=60), gpu_names=["H100"], breakdown=bd)
    assert "note" not in bounded and all(r["seconds"] <= 60 * 86400 for r in bounded["setups"])
    assert "no time bound" not in str(plan_report(llama70b, TrainJob(), gpu_names=["H100"], breakdown=bd).get("note"))
