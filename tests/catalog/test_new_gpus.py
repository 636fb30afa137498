"""Every GPU class of the widened catalog works through the speed model as the calibration schema names it
(llama.cpp decode/prefill, vLLM serving, training), `llmsize gpus --json`, the planner without a price, and
Apple chips planned as one device each."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.speedmodel.efficiency import arch_of, efficiency
from llmsize.validate_speed import parse_case, predict_case

# one GPU per class that had no catalogued GPU before (or a new generation of one), with its class
ONE_PER_CLASS = [("RTX-3060", "geforce"), ("RTX-2080-Ti", "geforce"), ("RTX-5080", "geforce"),
                 ("RTX-A5000", "workstation"), ("RTX-4000-Ada", "workstation"), ("P40", "pascal"),
                 ("P100", "pascal"), ("A40", "ampere-pcie"), ("A30", "ampere"), ("L40", "ada-dc"), ("H20", "hopper"),
                 ("GH200", "hopper"), ("MI210", "cdna"), ("MI355X", "cdna3"), ("RX 7900 XTX", "rdna"),
                 ("RX 6900 XT", "rdna2"), ("M1 Max", "apple"), ("M4 Max 32-core", "apple")]


def _case(gpu: str, workload: dict, engine: str = "llama.cpp", metric: str = "tokens_per_s", count: int = 1) -> dict:
    return {"id": f"{gpu}-{workload['task']}", "kind": "speed", "model": "Llama-2-7b-hf",
            "hardware": {"gpu": gpu, "count": count, "gpus_per_node": 8}, "engine": engine,
            "workload": workload, "measured": {"metric": metric, "value": 1.0}}


@pytest.mark.parametrize("gpu,cls", ONE_PER_CLASS)
def test_llama_cpp_decode_and_prefill_on_every_new_class(gpu, cls):
    g = get_gpu(gpu)
    assert arch_of(g) == cls
    dec = predict_case(parse_case(_case(gpu, {"task": "decode", "weights": "Q4_0", "kv_dtype": "f16", "batch": 1,
                                              "context": 0, "tokens": 128}), 1, "d")).predicted
    pre = predict_case(parse_case(_case(gpu, {"task": "prefill", "weights": "Q4_0", "batch": 1, "tokens": 512}),
                                  2, "p")).predicted
    # Q4_0 of Llama-2-7B reads ~3.6 GB per token: decode is bounded by the roofline bandwidth / bytes
    assert 0 < dec < g.bandwidth / 3.5e9
    # prefill of 512 tokens at 2 x 6.7 GFLOP per token is bounded by the fastest listed rate
    assert dec < pre < max(g.flops.values()) / (2 * 6.7e9)


@pytest.mark.parametrize("gpu", ["RTX-4090", "A40", "MI210", "P40", "RX 7900 XTX"])
def test_vllm_serving_and_training_run_on_new_gpus(gpu):
    serve = _case(gpu, {"task": "serve", "weights": "fp16", "kv_dtype": "fp16", "prompt": 512, "output": 128,
                        "concurrency": 8, "request_rate": None, "tp": 1, "pp": 1, "dp": 1}, "vllm",
                  "output_tokens_per_s")
    assert predict_case(parse_case(serve, 1, "s")).predicted > 0
    train = _case(gpu, {"task": "train", "precision": "bf16-mixed", "seq": 2048, "micro_batch": 1, "global_batch": 64,
                        "recompute": "full", "layout": {"dp": 8, "tp": 1, "pp": 1, "fsdp": "full_shard"},
                        "tokens": None}, "fsdp", "tokens_per_s_per_gpu", count=8)
    tps = predict_case(parse_case(train, 2, "t")).predicted
    g = get_gpu(gpu)
    peak = g.peak_flops("bf16") if g.has("bf16") else g.peak_flops("fp32")
    assert 0 < tps < peak / (6 * 6.7e9)  # never above the model-FLOPs roofline


def test_a_class_without_calibration_rows_takes_the_engine_value():
    # no fp16 llama.cpp decode row on a CDNA card (its scoreboard rows are quantized)
    cdna = efficiency("llama.cpp", get_gpu("MI100"), "decode", path="fp16")
    assert cdna.key == "llama.cpp/*/decode" and cdna.rows > 0
    pascal = efficiency("vllm", get_gpu("P40"), "serve", path="fp32")
    assert pascal.key.split("/")[1] in ("@nvidia", "*")  # its vendor's GPUs or every GPU: no pascal rows


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True)


def test_gpus_json_names_class_and_the_16_bit_rate_it_times():
    rows = {g["name"]: g for g in json.loads(_cli("gpus", "--json").stdout)["gpus"]}
    assert len(rows) >= 100
    assert (rows["P40"]["arch"], rows["P40"]["sixteen_bit_path"], rows["P40"]["sixteen_bit_flops"]) == \
        ("pascal", "fp32", 12e12)
    assert (rows["T4"]["sixteen_bit_path"], rows["RTX-4090"]["sixteen_bit_path"]) == ("fp16", "bf16")
    assert rows["M1-Max"]["arch"] == "apple" and rows["M1-Max"]["usd_per_gpu_hour"] is None
    # the dense FP4 rate where the GPU has one (NVFP4 W4A4 is timed on it), none on Hopper
    assert (rows["B200"]["fp4_flops"], rows["H100-SXM"]["fp4_flops"]) == (9e15, None)


def test_a_gpu_without_a_price_is_planned_with_no_cost():
    r = _cli("plan", "Llama-3.1-8B", "--gpu", "RX-7900-XTX", "--json")
    assert r.returncode == 0, r.stderr
    setups = json.loads(r.stdout)["setups"]
    assert setups and all(s["gpu"] == "RX-7900-XTX" for s in setups)
    assert all(s["usd"] is None and s["usd_per_1m_input"] is None for s in setups)
    priced = json.loads(_cli("plan", "Llama-3.1-8B", "--gpu", "RTX-3090", "--json").stdout)["setups"]
    assert priced[0]["usd"] > 0


def test_an_apple_chip_plans_as_one_device():
    rep = json.loads(_cli("plan", "Llama-3.1-70B", "--gpu", "M3-Ultra", "--json").stdout)
    assert rep["setups"] and {s["gpus"] for s in rep["setups"]} == {1}
    assert any("one device" in e["reason"] for e in rep["rejected"]["examples"]["fit"])


def test_cost_without_gpus_compares_the_gpus_with_a_price():
    rows = json.loads(_cli("cost", "Llama-3.1-8B", "--json").stdout)["rows"]
    shown = {r["gpu"] for r in rows}
    assert {"A40", "GH200", "H100-SXM", "RTX-3090"} <= shown  # priced, new and old
    assert not shown & {"M1-Max", "RX-7900-XTX", "V100-SXM2-32GB"}  # no published price
    assert all(r["usd_per_gpu_hour"] for r in rows)
    named = json.loads(_cli("cost", "Llama-3.1-8B", "--gpu", "RX-7900-XTX", "--json").stdout)["rows"]
    assert {r["gpu"] for r in named} == {"RX-7900-XTX"} and named[0]["usd_per_gpu_hour"] is None
