"""Bad input to the planner commands: one clear line and exit status 2."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("args, msg", [
    (("export", "vllm", "m", "--gpu-memory-utilization", "0.9", "--gpus", "8", "--tp", "3"), "does not divide"),
    (("export", "vllm", "m", "--gpus", "8", "--tp", "2"), "one replica"),
    (("fit", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--gpu", "H10"), "did you mean"),
    (("plan", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--price", "H100=0"), "positive"),
    (("plan", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--price", "H100=-3"), "positive"),
    (("plan", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--price", "H100"), "GPU=USD"),
    (("speed", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--gpu", "H100", "--tp", "3"),
     "not divisible by TP 3"),
])
def test_bad_input_exits_2(args, msg):
    r = run(*args)
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr and r.stderr.count("\n") == 1


def test_gpus_json():
    r = run("gpus", "H100", "--json")
    assert r.returncode == 0
    names = [g["name"] for g in json.loads(r.stdout)["gpus"]]
    assert "H100-SXM" in names


def test_export_deepspeed_json():
    r = run("export", "deepspeed", "m", "--gpus", "8", "--zero", "3", "--offload-optimizer", "cpu",
            "--micro-batch", "2", "--grad-accum", "4")
    cfg = json.loads(r.stdout)
    assert cfg["zero_optimization"]["stage"] == 3 and cfg["train_batch_size"] == 64
