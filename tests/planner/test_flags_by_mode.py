"""A flag given for the other mode, or for a command that does not use it, is refused with one line and exit
status 2, never dropped; the targets `plan` rejects setups by are judged by `speed` on its one setup; cost's
training rows are the planner's best fitting layout; an engine is planned only on hardware it has a build for."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.catalog.hardware import engine_problem, get_gpu


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True)


M = ("Llama-3.1-8B", "--gpu", "H100")
TRAIN = ("--train", "--tokens", "1e11")


@pytest.mark.parametrize("args, msg", [
    (("speed", *M, "--global-batch", "8"), "--global-batch applies to training (--train), not serving"),
    (("speed", *M, "--precision", "fp8-mixed"), "--precision applies to training"),
    (("speed", *M, "--tokens", "1e9"), "--tokens applies to training"),
    (("speed", *M, "--no-grad-checkpointing"), "applies to training"),
    (("speed", *M, "--cp", "2"), "--cp applies to a training layout"),
    (("speed", *M, "--zero", "3"), "--zero applies to a training layout"),
    (("speed", *M, "--fsdp", "full_shard"), "--fsdp applies to a training layout"),
    (("speed", *M, *TRAIN, "--kv-cache-dtype", "fp8"), "--kv-cache-dtype applies to serving, not training"),
    (("speed", *M, *TRAIN, "--new-tokens", "64"), "--new-tokens applies to serving"),
    (("speed", *M, *TRAIN, "--target-tps", "100"), "--target-tps applies to serving"),
    (("speed", *M, "--price", "H100=5"), "speed prints no cost"),
    (("plan", "Llama-3.1-8B", "--train", "--max-days", "10"), "give --tokens"),
    (("cost", "Llama-3.1-8B", "--count", "8", "--count", "8"), "given more than once"),
    (("cost", "Llama-3.1-8B", "--price", "H100=3", "--price", "H100-SXM=4"), "given twice"),
    (("fit", *M, "--train", "--find", "concurrency"), "is a serving question"),
    (("speed", "Llama-3.1-8B", "--gpu", "MI300X", "--engine", "trt-llm"), "trt-llm has no build for AMD hardware"),
    # llama.cpp splits layers over its GPUs: the way out of a misfit is more of them with --pp, not --tp
    (("speed", "Llama-3.1-70B", "--gpu", "RTX-4090", "--engine", "llama.cpp", "--weights", "Q4_K_M"),
     "--gpus 2 --pp 2 (llama.cpp's layer split) holds one request"),
    # the positions a generation needs, with the arithmetic shown: 200,000 + 256 − 1
    (("speed", *M, "--seq-len", "200000"), "--seq-len 200,000 + 256 new tokens − 1 (the last is not fed back): "
                                           "200,255 positions exceed"),
    (("export", "vllm", "Qwen3-30B-A3B", "--gpu", "H100", "--gpus", "2", "--ep", "2"),
     "expert-parallel serving (DP2 EP2) is not planned"),
    # accelerate's FSDP config and the DeepSpeed JSON have no expert parallelism
    (("export", "fsdp", "Qwen3-30B-A3B", "--gpu", "H100", "--gpus", "8", "--ep", "8", "--zero", "3", "--fsdp",
      "full_shard"), "fsdp export: its config has no expert parallelism (--ep 8)"),
    (("export", "deepspeed", "Qwen3-30B-A3B", "--gpu", "H100", "--gpus", "8", "--ep", "8", "--zero", "3"),
     "deepspeed export: its config has no expert parallelism"),
    (("speed", *M, "--engine", "transformers", "--request-rate", "0.5", "--batch", "8"),
     "a request rate takes batch 1, not 8"),
])
def test_unused_flags_are_refused(args, msg):
    r = run(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert msg in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_speed_judges_every_target_it_is_given():
    r = run("speed", *M, "--batch", "64", "--ttft", "0.001", "--tpot", "1", "--target-tps", "99999", "--json")
    t = json.loads(r.stdout)["targets"]
    assert t["tokens_per_s"] == 99999 and t["ttft_s"] == 0.001 and t["tpot_s"] == 0.001
    assert "(--ttft)" in t["missed"] and "(--tpot)" in t["missed"] and "(--target-tps)" in t["missed"]
    ok = json.loads(run("speed", *M, "--batch", "64", "--target-tps", "1", "--json").stdout)["targets"]
    assert ok["missed"] is None
    tr = json.loads(run("speed", *M, *TRAIN, "--gpus", "8", "--zero", "3", "--max-days", "1", "--json").stdout)
    assert tr["targets"]["max_days"] == 1 and tr["days"] > 1 and "(--max-days)" in tr["targets"]["missed"]


def test_cost_training_rows_are_the_planners_best_fitting_layout():
    """8 H100s cannot hold an 8B's plain data-parallel states; cost prices the layout `plan` ranks first
    at 8 H100s (sharded), at the same time and cost, and --max-days turns a too-slow count into its reason."""
    cost = json.loads(run("cost", "Llama-3.1-8B", "--train", "--tokens", "1e12", "--gpu", "H100", "--count", "8",
                          "--json").stdout)["rows"][0]
    plan = json.loads(run("plan", "Llama-3.1-8B", "--train", "--tokens", "1e12", "--gpu", "H100", "--max-gpus", "8",
                          "--json").stdout)
    best8 = next(s for s in plan["setups"] if s["gpus"] == 8)
    assert cost["layout"] == best8["layout"] != "DP8"
    assert cost["usd"] == pytest.approx(best8["usd"]) and cost["days"] == pytest.approx(best8["seconds"] / 86400)
    assert cost["memory_per_gpu_bytes"] <= best8["budget_bytes"]
    slow = json.loads(run("cost", "Llama-3.1-8B", "--train", "--tokens", "1e12", "--gpu", "H100", "--count", "8",
                          "--max-days", "30", "--json").stdout)["rows"][0]
    assert slow.get("usd") is None and slow["note"].startswith("too slow:")


def test_fit_cheapest_stays_on_the_gpu_asked():
    r = json.loads(run("fit", *M, "--find", "cheapest", "--target-tps", "10000", "--json").stdout)
    assert r["cheapest"]["gpu"] == "H100-SXM"


def test_engine_support_by_vendor():
    assert engine_problem("trt-llm", get_gpu("H100")) is None
    assert "no build for AMD" in engine_problem("trt-llm", get_gpu("MI300X"))
    assert "no build for Google" in engine_problem("llama.cpp", get_gpu("TPU-v5p"))
    assert engine_problem("llama.cpp", get_gpu("M2-Ultra")) is None
    assert engine_problem("vllm", get_gpu("MI300X")) is None
    plan = json.loads(run("plan", "Llama-3.1-8B", "--engine", "trt-llm", "--gpu", "MI300X", "--gpu", "H100",
                          "--json").stdout)
    assert {s["gpu"] for s in plan["setups"]} == {"H100-SXM"}
    assert plan["rejected"]["counts"]["engine"] > 0


def test_serving_table_says_its_batch():
    r = json.loads(run("plan", "Llama-3.1-8B", "--gpu", "H100", "--json").stdout)
    assert r["note"].startswith("batch 1: 1 request in flight per replica")
    c = json.loads(run("cost", "Llama-3.1-8B", "--gpu", "H100", "--batch", "4", "--json").stdout)
    assert "batch 4: 4 requests in flight per replica" in c["note"]


def test_fsdp_export_checkpoints_activations_as_planned():
    r = run("export", "fsdp", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "64")
    assert r.returncode == 0 and "fsdp_activation_checkpointing: true" in r.stdout
    off = run("export", "fsdp", "Llama-3.1-8B", "--gpus", "8", "--fsdp", "full_shard")
    assert "fsdp_activation_checkpointing: false" in off.stdout


def test_exports_write_what_the_moe_plan_assumed():
    """plan ranks FSDP + EP first for a 30B-A3B; the fsdp export, which cannot write EP, takes the best layout
    without it; the megatron export of an EP layout writes the grouped GEMMs and the all-to-all dispatch."""
    r = run("export", "fsdp", "Qwen3-30B-A3B", "--gpu", "H100", "--gpus", "16")
    assert r.returncode == 0, r.stderr
    assert "planner's best fsdp layout" in r.stderr and "EP" not in r.stderr.split("layout on")[1].split(",")[0]
    m = run("export", "megatron", "Qwen3-30B-A3B", "--gpu", "H100", "--gpus", "8")
    assert m.returncode == 0, m.stderr
    assert "--expert-model-parallel-size" in m.stdout and "--moe-token-dispatcher-type alltoall" in m.stdout
    assert "--moe-grouped-gemm" in m.stdout
