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
    (("export", "vllm", "m", "--gpus", "8", "--cp", "2"), "context parallelism"),
    (("fit", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--gpu", "H10"), "did you mean"),
    (("plan", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--price", "H100=0"), "positive"),
    (("plan", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--price", "H100=-3"), "positive"),
    (("plan", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--price", "H100"), "GPU=USD"),
    (("speed", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--gpu", "H100", "--tp", "3"),
     "not divisible by TP 3"),
    (("plan", "Llama-3.1-8B", "--train", "--tokens", "nan"), "positive finite"),
    (("plan", "Llama-3.1-8B", "--train", "--tokens", "inf"), "positive finite"),
    (("plan", "Llama-3.1-8B", "--target-tps", "nan"), "positive finite"),
    (("plan", "Llama-3.1-8B", "--train", "--mfu", "0"), "positive finite"),
    (("plan", "Llama-3.1-8B", "--weights", "q4"), "serving weight format"),
    (("plan", "Llama-3.1-8B", "--kv-dtype", "q8_0"), "KV cache dtype"),
    (("speed", "Llama-3.1-8B", "--train", "--tokens", "1e11", "--gpu", "H100", "--schedule", "zero-bubble"), "needs --pp > 1"),
    (("speed", "Llama-3.1-8B", "--train", "--tokens", "1e11", "--gpu", "H100", "--pp", "2", "--virtual-stages", "4"),
     "applies to --schedule interleaved"),
    (("speed", "Llama-3.1-8B", "--train", "--tokens", "1e11", "--gpu", "A100-SXM-80GB", "--precision", "fp8-mixed"), "FP8"),
])
def test_bad_input_exits_2(args, msg):
    r = run(*args)
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr and r.stderr.count("\n") == 1


def test_speed_schedules_order_the_pipeline_bubble():
    """--schedule on one pipelined layout: zero-bubble > interleaved > 1F1B tokens/s, the bubble shown."""
    rates = {}
    for sched in ("1f1b", "interleaved", "zero-bubble"):
        r = run("speed", "Llama-3.1-8B", "--train", "--tokens", "1e11", "--gpu", "H100", "--pp", "4", "--gpus", "8", "--global-batch",
                "64", "--schedule", sched, "--json")
        assert r.returncode == 0, r.stderr
        rates[sched] = json.loads(r.stdout)["tokens_per_s"]
    assert rates["zero-bubble"] > rates["interleaved"] > rates["1f1b"]


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


def test_export_vllm_names_the_presets_repo():
    r = run("export", "vllm", "Llama-3.1-8B", "--tp", "2")
    assert r.returncode == 0 and r.stdout.startswith("vllm serve meta-llama/Llama-3.1-8B --tensor-parallel-size 2")


@pytest.mark.parametrize("args", [
    ("plan", "Llama-3.1-70B", "--train", "--tokens", "1e12"),
    ("plan", "Llama-3.1-8B", "--serve", "--concurrency", "32", "--weights", "gptq-int4", "--kv-dtype", "fp8"),
    ("fit", "Llama-3.1-8B", "--gpu", "H100"),
    ("fit", "Llama-3.1-8B", "--gpu", "H100", "--train", "--tokens", "1e11", "--gpus", "8", "--zero", "3"),
    ("speed", "Llama-3.1-8B", "--gpu", "H100"),
    ("cost", "Llama-3.1-8B", "--gpu", "H100"),
])
def test_real_presets_end_to_end(args):
    r = run(*args, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["model"] == args[1]


def test_export_refuses_a_layout_the_engine_would_refuse():
    """64 heads cannot be split over TP 3: vLLM would refuse it, so the export does, with the reason."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "export", "vllm",
                        "Llama-3.1-70B", "--tp", "3"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "attention heads (64) not divisible by TP 3" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
