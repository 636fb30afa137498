"""plan, speed and cost agree on one setup; user-given values are never silently ignored."""
from __future__ import annotations

import pytest

from llmsize.errors import LlmsizeError
from llmsize.planner import plan_report
from llmsize.planner.jobs import ServeJob, TrainJob, make_layout
from llmsize.planner.reports import cost_report, speed_report


def test_train_rate_same_in_plan_speed_cost(llama8b):
    job = TrainJob(tokens=1e11, global_batch=8)
    rep = plan_report(llama8b, job, gpu_names=["H100"], counts=[8], top=200)
    rows = {r["layout"]: r for r in rep["setups"]}
    pp8 = next(r for r in rep["setups"] if r["pp"] == 8 and r["tp"] == 1 and "zero-bubble" not in r["layout"]
               and "interleaved" not in r["layout"])  # 1F1B, as --pp alone asks
    sp = speed_report(llama8b, job, "H100", make_layout(pp=8))
    assert sp["tokens_per_s"] == pytest.approx(pp8["tokens_per_s"])
    assert sp["seconds"] == pytest.approx(pp8["seconds"])
    # engines reach different efficiencies now (the calibration table): compare the same engine
    z3 = next(r for r in rows.values() if r["dp"] == 8 and r["engine"] == "deepspeed" and r["zero"] == 3
              and r["offload_optimizer"] == "none")
    sp = speed_report(llama8b, job, "H100", make_layout(8, zero=3))
    assert sp["tokens_per_s"] == pytest.approx(z3["tokens_per_s"])
    # cost prices the layout plan ranks first at that count, at plan's rate and time
    best = rep["setups"][0]
    c = cost_report(llama8b, job, ["H100"], [8])["rows"][0]
    assert c["layout"] == best["layout"]
    assert c["tokens_per_s"] == pytest.approx(best["tokens_per_s"])
    assert c["days"] * 86400 == pytest.approx(best["seconds"])


def test_speed_train_refuses_indivisible_global_batch(llama8b):
    job = TrainJob(tokens=1e11, global_batch=3, micro_batch=2)
    with pytest.raises(LlmsizeError, match="not divisible"):
        speed_report(llama8b, job, "H100", make_layout(2))


@pytest.mark.parametrize("gpus, tp, ep, fix", [(None, 1, 2, "--gpus 2"), (6, 2, 2, "--gpus 4"), (8, 1, 3, "--gpus 3")])
def test_an_ep_without_data_parallel_ranks_to_split_over_says_how_many_gpus(gpus, tp, ep, fix):
    # --ep alone (one GPU) or GPUs that leave DP indivisible by EP: the message names the --gpus that works
    with pytest.raises(LlmsizeError, match=f"{fix} \\(or a multiple\\) with --ep {ep}"):
        make_layout(gpus, tp=tp, ep=ep)
    assert make_layout(int(fix.split()[1]), tp=tp, ep=ep).ep == ep


def test_speed_serve_counts_data_parallel_replicas(llama8b):
    job = ServeJob(concurrency=8)
    one = speed_report(llama8b, job, "H100", make_layout(1))
    four = speed_report(llama8b, job, "H100", make_layout(4))
    assert four["replicas"] == 4 and one["replicas"] == 1
    assert four["decode_tokens_per_s"] == pytest.approx(4 * one["decode_tokens_per_s"])
    assert four["tpot_s"] == pytest.approx(one["tpot_s"])


def test_speed_serve_matches_plan(llama8b):
    job = ServeJob(concurrency=8)
    rep = plan_report(llama8b, job, gpu_names=["H100"], max_gpus=8, top=100)
    for tp, pp in ((1, 1), (2, 1), (2, 2)):
        row = next(r for r in rep["setups"] if r["tp"] == tp and r["pp"] == pp)
        sp = speed_report(llama8b, job, "H100", make_layout(tp=tp, pp=pp))
        assert sp["decode_tokens_per_s"] == pytest.approx(row["tokens_per_s"])
        assert sp["ttft_s"] == pytest.approx(row["ttft_s"])


@pytest.mark.parametrize("flag, value", [("--mfu", "0.5"), ("--max-days", "3"), ("--host-memory", "1TiB"),
                                         ("--nvme", "30TB")])
def test_training_only_flags_refused_when_serving(flag, value):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "speed", "Llama-3.1-8B",
                        "--gpu", "H100", flag, value], capture_output=True, text=True)
    assert r.returncode == 2 and f"{flag} applies to training (--train)" in r.stderr, r.stderr


def test_training_only_fields_are_422_when_serving():
    from fastapi.testclient import TestClient

    from llmsize.web.app import create_app

    client = TestClient(create_app())
    r = client.post("/api/v1/speed", json={"model": {"preset": "Llama-3.1-8B"}, "gpu": "H100",
                                           "job": {"mode": "serve", "mfu": 0.5}})
    assert r.status_code == 422 and "mfu applies to training (mode train)" in r.json()["detail"], r.text


@pytest.mark.parametrize("engine, extra, msg", [
    ("deepspeed", ("--gpus", "4", "--tp", "2", "--zero", "1"), "no TP/PP/CP in plain DeepSpeed"),
    ("deepspeed", ("--gpus", "2", "--tp", "2"), "no TP/PP/CP in plain DeepSpeed"),
    ("deepspeed", ("--gpus", "2", "--pp", "2"), "no TP/PP/CP in plain DeepSpeed"),
    ("vllm", ("--zero", "3"), "--zero"),
    ("vllm", ("--fsdp", "full_shard"), "--fsdp"),
    ("llamacpp", ("--zero", "3", "--offload-params", "cpu"), "--offload-params"),
    ("llamacpp", ("--zero", "2", "--offload-optimizer", "cpu"), "--offload-optimizer"),
    ("llamacpp", ("--gpus", "4", "--tp", "2"), "must span all 4 GPUs"),
])
def test_export_refuses_what_the_engine_would_drop(engine, extra, msg):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "export", engine, "m", *extra],
                       capture_output=True, text=True)
    assert r.returncode == 2 and msg in r.stderr, r.stderr


def test_llamacpp_tp_is_row_split():
    from llmsize.export import engine_setup, export
    from llmsize.export.flags import LLAMACPP_FLAGS
    from llmsize.export.parse import parse_llamacpp

    cmd = export("llamacpp", engine_setup("llamacpp", "m.gguf", make_layout(tp=2)))
    assert "-sm row -ts 1,1" in cmd and "row" in LLAMACPP_FLAGS["-sm"][2]
    parse_llamacpp(cmd)
    assert "-sm layer" in export("llamacpp", engine_setup("llamacpp", "m.gguf", make_layout(pp=2)))


def test_cost_serve_reports_used_gpus_and_pays_for_all(llama70b):
    from llmsize.cost import usd_per_million_tokens

    r = cost_report(llama70b, ServeJob(), ["H100"], [5])["rows"][0]
    assert r["gpus"] == 5 and r["used_gpus"] < 5 and r["used_gpus"] % 2 == 0
    assert "idle" in r["idle_note"]
    assert r["usd_per_1m_output"] == pytest.approx(
        usd_per_million_tokens(r["output_tokens_per_s"], 5, r["usd_per_gpu_hour"]))


def test_fit_says_does_not_fit_instead_of_zero(llama70b):
    import subprocess
    import sys

    from llmsize.planner.reports import fit_report

    rep = fit_report(llama70b, TrainJob(), "L4", make_layout(1), find=("batch", "context"))
    assert rep["largest_batch"] is None and rep["longest_context"] is None
    r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "fit", "Llama-3.1-70B",
                        "--train", "--gpu", "L4", "--find", "batch", "--find", "context"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "largest batch: does not fit (even batch 1)" in r.stdout
    assert "longest context: does not fit (even context 1)" in r.stdout


def test_dead_code_gone_and_speed_runs_off_the_event_loop():
    import inspect

    import llmsize.planner as planner
    from llmsize.planner import fit, jobs

    assert not hasattr(planner, "default_layout")
    assert list(inspect.signature(jobs.device_bytes).parameters) == ["serving", "engine"]
    assert "serving" not in inspect.signature(fit._budget).parameters
    pytest.importorskip("fastapi")
    from llmsize.web.routes import SLOW

    assert "speed" in SLOW
