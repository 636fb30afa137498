"""One run time everywhere (issue 11): `speed`, `cost`, `plan` and the web API divide a run's steady-state
time by the same goodput `validate` uses for whole-run GPU-hours (0.9, Llama 3 paper sec. 3.3.4), print it
as a named term with its source, and take `--goodput` / `job.goodput` to change it."""
from __future__ import annotations

import pytest

from llmsize.speedmodel.train import GOODPUT, run_gpu_hours, run_seconds
from tests.web.conftest import cli_json

LLAMA = {"preset": "Llama-3.1-8B"}
TRAIN = ["Llama-3.1-8B", "--train", "--tokens", "1e11"]


def test_speed_days_divide_by_the_goodput_and_match_the_api(client):
    rep = cli_json("speed", *TRAIN, "--gpu", "H100-SXM", "--gpus", "8")
    assert rep["goodput"]["value"] == GOODPUT == 0.9 and "dubey2024" in rep["goodput"]["source"]
    assert rep["seconds"] == pytest.approx(run_seconds(1e11, rep["tokens_per_s"]))
    assert rep["seconds"] == pytest.approx(1e11 / rep["tokens_per_s"] / 0.9)
    # validate's whole-run GPU-hours of the same rate are speed's GPU-hours
    assert rep["gpu_hours"] == pytest.approx(run_gpu_hours(1e11, rep["tokens_per_s"] / 8))
    api = client.post("/api/v1/speed", json={"model": LLAMA, "gpu": "H100-SXM", "layout": {"gpus": 8},
                                             "job": {"mode": "train", "tokens": 1e11}}).json()
    assert (api["days"], api["gpu_hours"], api["goodput"]) == (rep["days"], rep["gpu_hours"], rep["goodput"])
    one = cli_json("speed", *TRAIN, "--gpu", "H100-SXM", "--gpus", "8", "--goodput", "1")
    assert one["goodput"] == {**rep["goodput"], "value": 1.0, "given": True, "source": "given (--goodput)"}
    assert one["days"] == pytest.approx(0.9 * rep["days"])


def test_cost_and_plan_days_and_dollars_are_speeds(client):
    """cost's row, plan's best setup of that count and speed of its layout give one time and one $ (all with
    goodput)."""
    cost = cli_json("cost", *TRAIN, "--gpu", "H100-SXM", "--count", "8", "--goodput", "0.8")
    row = cost["rows"][0]
    plan = cli_json("plan", *TRAIN, "--gpu", "H100-SXM", "--max-gpus", "8", "--goodput", "0.8")
    best8 = next(s for s in plan["setups"] if s["gpus"] == 8)
    assert row["layout"] == best8["layout"] == "DP8 FSDP-full_shard"
    speed = cli_json("speed", *TRAIN, "--gpu", "H100-SXM", "--gpus", "8", "--fsdp", "full_shard", "--goodput", "0.8")
    assert cost["goodput"]["value"] == row["goodput"]["value"] == 0.8
    assert row["days"] == pytest.approx(speed["days"]) and row["gpu_hours"] == pytest.approx(speed["gpu_hours"])
    assert row["days"] * 86400 == pytest.approx(best8["seconds"])
    assert row["usd"] == pytest.approx(row["gpu_hours"] * row["usd_per_gpu_hour"])
    api = client.post("/api/v1/cost", json={"model": LLAMA, "gpu": ["H100-SXM"], "counts": [8],
                                            "job": {"mode": "train", "tokens": 1e11, "goodput": 0.8}}).json()
    assert api["rows"][0]["days"] == row["days"] and api["rows"][0]["usd"] == row["usd"]
    plan = cli_json("plan", *TRAIN, "--gpu", "H100-SXM", "--goodput", "0.8", "--top", "500")
    assert plan["goodput"]["value"] == 0.8
    z1 = cli_json("speed", *TRAIN, "--gpu", "H100-SXM", "--gpus", "8", "--zero", "1", "--goodput", "0.8")
    same = [s for s in plan["setups"] if s["gpus"] == 8 and s["layout"] == z1["layout"]]
    assert same and same[0]["seconds"] == pytest.approx(z1["seconds"], rel=1e-9)
    assert same[0]["usd"] == pytest.approx(z1["gpu_hours"] * row["usd_per_gpu_hour"], rel=1e-9)


def test_max_days_bounds_the_run_with_its_goodput():
    """--max-days rejects on the same run time that is printed: a bound between the goodput-1 and the
    goodput-0.9 time keeps the setup at goodput 1 only."""
    fast = cli_json("plan", *TRAIN, "--gpu", "H100-SXM", "--goodput", "1", "--top", "1")["setups"][0]
    days = fast["seconds"] / 86400
    bound = f"{days / 0.95:.6g}"
    kept = cli_json("plan", *TRAIN, "--gpu", "H100-SXM", "--goodput", "1", "--max-days", bound, "--top", "500")
    slow = cli_json("plan", *TRAIN, "--gpu", "H100-SXM", "--max-days", bound, "--top", "500")
    key = (fast["gpu"], fast["gpus"], fast["layout"])
    assert key in {(s["gpu"], s["gpus"], s["layout"]) for s in kept["setups"]}
    assert key not in {(s["gpu"], s["gpus"], s["layout"]) for s in slow["setups"]}


@pytest.mark.parametrize("value", ["0", "0.01", "1.5", "nan"])
def test_goodput_out_of_range_exits_2_and_is_422(client, value):
    import subprocess
    import sys

    cli = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "speed", *TRAIN,
                          "--gpu", "H100-SXM", "--goodput", value], capture_output=True, text=True)
    assert cli.returncode == 2 and "--goodput must be a number from 0.05 to 1" in cli.stderr, cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1
    if value != "nan":
        r = client.post("/api/v1/speed", json={"model": LLAMA, "gpu": "H100-SXM", "layout": {"gpus": 1},
                                               "job": {"mode": "train", "tokens": 1e11, "goodput": float(value)}})
        assert r.status_code == 422 and r.json()["detail"].startswith("job.goodput"), r.text


def test_goodput_is_refused_for_serving():
    import subprocess
    import sys

    cli = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "speed", "Llama-3.1-8B",
                          "--gpu", "H100-SXM", "--goodput", "0.9"], capture_output=True, text=True)
    assert cli.returncode == 2 and "--goodput applies to training" in cli.stderr, cli.stderr
