"""The planner's speed-ups change no result: `plan_report` with every memo the search relies on disabled (the
slow path) prints the same JSON as with them (the path `bench/bench_plan.py` times), for training setups that
reach each branch of the search: not divisible, one device that cannot be split, does not fit, host offload,
no compute path (fp8 on a GPU without FP8), too slow, priced and unpriced."""
from __future__ import annotations

import json

import pytest

from llmsize.planner import plan_report
from llmsize.planner.jobs import TrainJob

GPUS = ["H100-SXM", "A100-SXM-80GB", "T4", "P40", "RTX-4090", "MI300X", "M2-Ultra", "V100-SXM2-32GB"]
JOBS = {
    "bf16, slow bound": TrainJob(seq_len=2048, global_batch=96, tokens=2e11, max_days=30),
    "fp8, no recompute": TrainJob(seq_len=4096, global_batch=64, tokens=1e11, precision="fp8-mixed",
                                  recompute=False),
    "given mfu": TrainJob(seq_len=1024, global_batch=128, tokens=1e10, mfu=0.35, micro_batch=2),
}
COUNTS = (1, 2, 4, 8, 16, 24, 64)


class _Forgetful(dict):
    """A memo that never remembers: every lookup misses, so each value is computed afresh."""

    def __setitem__(self, key, value) -> None:
        pass


class _EmptyList(list):
    def __setitem__(self, key, value) -> None:
        pass


def _report(spec, job) -> str:
    rep = plan_report(spec, job, gpu_names=GPUS, counts=COUNTS, top=10**6, prices={"H100-SXM": 2.5})
    return json.dumps(rep, sort_keys=True, default=str)


def _slow_path(monkeypatch) -> None:
    import llmsize.planner.search as search
    import llmsize.speedmodel.efficiency as eff
    import llmsize.speedmodel.train as train

    monkeypatch.setattr(search, "_no_path_for", search._no_path_for.__wrapped__)
    monkeypatch.setattr(train, "_FLOPS", _Forgetful())
    monkeypatch.setattr(eff, "_FOUND", _Forgetful(), raising=False)  # the lookup memo, where it has one
    monkeypatch.setattr(eff, "_SHAPE", _EmptyList())


@pytest.mark.parametrize("name", JOBS)
def test_plan_is_the_same_without_the_memos(llama8b, monkeypatch, name):
    job = JOBS[name]
    fast = _report(llama8b, job)
    with monkeypatch.context() as m:
        _slow_path(m)
        slow = _report(llama8b, job)
    assert fast == slow
    assert _report(llama8b, job) == fast  # and again once the memos are warm
    rep = json.loads(fast)
    assert rep["feasible"] > 0


def test_the_jobs_reach_every_branch(llama8b):
    """The comparison above is only as good as its coverage: each rejection kind and reason occurs."""
    from llmsize.planner import jobs, resolve_gpus
    from llmsize.planner.search import plan_train

    cands = [c for job in JOBS.values()
             for c in plan_train(llama8b, job, jobs.train_breakdown(llama8b, job), resolve_gpus(GPUS), counts=COUNTS)]
    assert {"ok", "fit", "divisible", "slow"} <= {c.kind for c in cands}
    reasons = [c.reason or "" for c in cands]
    for what in ("one device", "does not fit", "no FP8 units", "too slow", "not divisible"):
        assert any(what in r for r in reasons), what
    assert any(c.extra.get("offload_slowdown") for c in cands)  # host offload timed


def test_memoised_flops_are_not_shared(llama8b):
    """A caller mutating the per-token FLOPs it was given does not change the next caller's."""
    from llmsize.speedmodel.train import flops_per_token

    first = flops_per_token(llama8b, 4096, "full")
    first["weights"] = -1
    assert flops_per_token(llama8b, 4096, "full")["weights"] > 0


def test_shape_constants_follow_a_swapped_table(monkeypatch):
    """The fit (scripts/fit_speed.py) swaps the table's [train] section: the memo reads the new one."""
    import llmsize.speedmodel.efficiency as eff

    before = eff.train_shape()
    monkeypatch.setitem(eff._table(), "train", {"x_half_tokens": 123.0, "d_half": 7.0, "attention_rel": 0.5})
    assert eff.train_shape() == {"x_half_tokens": 123.0, "d_half": 7.0, "attention_rel": 0.5,
                                 "x_half_expert_tokens": 123.0}
    monkeypatch.undo()
    assert eff.train_shape() == before


@pytest.mark.parametrize("name", JOBS)
def test_tally_matches_the_candidate_list(llama8b, name):
    """`plan_report` tallies the search's rejections as it goes (`planner.tally`): the counts (in the order
    kinds first occur), the first five examples with distinct reasons per kind and the number searched are
    those of the full candidate list `plan_train` returns without a tally."""
    from llmsize.planner import _device_fn, _pricer, jobs, resolve_gpus
    from llmsize.planner.search import plan_train

    job = JOBS[name]
    cands = plan_train(llama8b, job, jobs.train_breakdown(llama8b, job), resolve_gpus(GPUS), counts=COUNTS,
                       device=_device_fn(False), price=_pricer(None))
    counts: dict[str, int] = {}
    examples: dict[str, list[dict]] = {}
    for c in cands:
        if c.kind == "ok":
            continue
        counts[c.kind] = counts.get(c.kind, 0) + 1
        ex = examples.setdefault(c.kind, [])
        if len(ex) < 5 and all(e["reason"] != c.reason for e in ex):
            ex.append({"gpu": c.gpu.name, "gpus": c.gpus, "layout": c.layout.label(), "reason": c.reason})
    rep = plan_report(llama8b, job, gpu_names=GPUS, counts=COUNTS)
    assert rep["searched"] == len(cands)
    assert list(rep["rejected"]["counts"].items()) == list(counts.items())
    assert json.dumps(rep["rejected"]["examples"]) == json.dumps(examples)
    assert rep["feasible"] == sum(c.kind == "ok" for c in cands)
