"""The planner sizes serving as each engine allocates (planner.serve_memory). llama.cpp: one GPU equals
`infer --runtime llamacpp` to the byte, layouts are llama.cpp's layer splits inside a node, the budget is
the GPU less llama.cpp --fit's margin, and its slot limit bounds the inverse questions. transformers: one
GPU equals `infer --runtime torch`, held to the whole GPU."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.catalog.presets import find_preset
from llmsize.engines.offload import FIT_MARGIN
from llmsize.load import load_preset
from llmsize.parallel import Layout
from llmsize.planner import plan_report
from llmsize.planner.jobs import ServeJob
from llmsize.planner.serve_memory import budget, serve_memory


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def spec8b():
    return load_preset(find_preset("Llama-3.1-8B")).spec


def test_one_gpu_equals_infer_runtime_llamacpp_to_the_byte():
    common = ["Llama-3.1-8B", "--weights", "Q4_K_M", "--gpu", "RTX-4090", "--json"]
    plan = json.loads(run("plan", *common, "--serve", "--engine", "llama.cpp", "--prompt", "1024",
                          "--output", "256").stdout)
    infer = json.loads(run("infer", *common, "--runtime", "llamacpp", "--seq-len", "1024",
                           "--new-tokens", "256").stdout)
    one = next(r for r in plan["setups"] if r["gpus"] == 1)
    # weights 4,617,396,224 + KV 167,772,160 + compute 279,451,648 + CUDA context 314,572,800
    assert one["memory_per_gpu_bytes"] == infer["device"]["total_bytes"] == 5_379_192_832
    assert [t["name"] for t in one["terms"]] == ["weights", "kv_cache", "compute buffer", "CUDA context"]
    g = get_gpu("RTX-4090")
    assert one["budget_bytes"] == g.usable - FIT_MARGIN


def test_layouts_are_layer_splits_inside_a_node(spec8b):
    rep = plan_report(spec8b, ServeJob(weights="Q4_K_M", engine="llama.cpp"), gpu_names=["RTX-4090"])
    assert sorted((r["tp"], r["pp"]) for r in rep["setups"]) == [(1, 1), (1, 2), (1, 4), (1, 8)]
    pp2 = next(r for r in rep["setups"] if r["pp"] == 2)
    # the output GPU holds the logits' compute buffer and three more copies of its split's inputs
    assert [t["name"] for t in pp2["terms"]] == ["weights", "kv_cache", "compute buffer", "pipeline input copies",
                                                 "CUDA context"]
    assert rep["breakdown"]["weights"] == 4_617_396_224


def test_a_share_given_is_honoured_and_vllm_keeps_its_default(spec8b):
    g = get_gpu("H100")
    assert budget(ServeJob(engine="llama.cpp", weights="Q4_K_M"), g) == g.usable - FIT_MARGIN
    assert budget(ServeJob(engine="llama.cpp", weights="Q4_K_M", gpu_memory_utilization=0.5), g) == int(g.usable * 0.5)
    assert budget(ServeJob(), g) == int(g.usable * 0.9)


def test_row_split_is_not_sized(spec8b):
    from llmsize.errors import LlmsizeError

    with pytest.raises(LlmsizeError, match="layer split"):
        serve_memory(spec8b, ServeJob(engine="llama.cpp", weights="Q4_K_M"), Layout(tp=2))


def test_slot_limit_bounds_find_batch_and_concurrency_points_there():
    r = run("fit", "Llama-3.1-8B", "--serve", "--engine", "llama.cpp", "--weights", "Q4_K_M", "--gpu", "H100",
            "--find", "batch", "--seq-len", "100")
    assert r.returncode == 0 and "largest batch: 256 sequences" in r.stdout and "LLAMA_MAX_SEQ" in r.stdout
    r = run("fit", "Llama-3.1-8B", "--serve", "--engine", "llama.cpp", "--weights", "Q4_K_M", "--gpu", "H100",
            "--find", "concurrency")
    assert r.returncode == 2 and "--find batch" in r.stderr and "Traceback" not in r.stderr
    r = run("plan", "Llama-3.1-8B", "--serve", "--engine", "llama.cpp", "--weights", "Q4_K_M", "--gpu", "H100",
            "--batch", "300")
    assert r.returncode == 2 and "at most 256 parallel sequences" in r.stderr


@pytest.mark.parametrize("engine, weights", [("llama.cpp", "Q4_K_M"), ("transformers", "bf16")])
def test_fit_without_find_asks_what_applies_to_the_engine(engine, weights):
    # no --find: every question that applies; vLLM's KV-block concurrency is not one for an engine that
    # allocates its own memory (llama.cpp exited 2 here, on a question the user never asked)
    r = run("fit", "Llama-3.1-8B", "--serve", "--engine", engine, "--weights", weights, "--gpu", "RTX-4090", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert "kv_budget" not in rep and rep["largest_batch"] > 1 and rep["fewest_gpus"]["gpus"] == 1
    assert "kv_budget" in json.loads(run("fit", "Llama-3.1-8B", "--serve", "--gpu", "RTX-4090", "--json").stdout)


def test_serving_share_is_refused_for_training():
    r = run("plan", "Llama-3.1-8B", "--train", "--tokens", "1e9", "--gpu", "H100", "--gpu-memory-utilization", "0.8")
    assert r.returncode == 2 and "--gpu-memory-utilization applies to serving" in r.stderr


def test_export_refuses_more_slots_than_llamacpp_takes():
    r = run("export", "llamacpp", "model.gguf", "--max-num-seqs", "300")
    assert r.returncode == 2 and "at most 256 parallel slots" in r.stderr


def test_transformers_one_gpu_equals_infer_runtime_torch():
    common = ["Llama-3.1-8B", "--gpu", "H100", "--batch", "4", "--json"]
    plan = json.loads(run("plan", *common, "--serve", "--engine", "transformers", "--prompt", "1024",
                          "--output", "256").stdout)
    infer = json.loads(run("infer", *common, "--runtime", "torch", "--seq-len", "1024", "--new-tokens", "256").stdout)
    one = next(r for r in plan["setups"] if r["gpus"] == 1)
    # generate()'s peak 17,084,465,664 + caching-allocator reserve + 500 MiB CUDA context
    assert one["memory_per_gpu_bytes"] == infer["device"]["total_bytes"] == 17_659_950_822
    assert one["budget_bytes"] == get_gpu("H100").usable
    # vLLM keeps its own view: the same job is held to 0.9 of the GPU less its non-torch memory and graphs
    vllm = json.loads(run("plan", *common, "--serve", "--prompt", "1024", "--output", "256").stdout)
    v1 = next(r for r in vllm["setups"] if r["gpus"] == 1)
    assert v1["budget_bytes"] < 0.9 * get_gpu("H100").usable and v1["memory_per_gpu_bytes"] != one["memory_per_gpu_bytes"]


def test_llamacpp_speed_over_several_gpus_says_it_splits_layers_not_replicas():
    # --gpus 2 alone is 2 data-parallel replicas; llama.cpp runs one model per server over all its GPUs, so
    # the 70B's 40 GiB did not fit "RTX-4090 x 1" (a message about a GPU count the user did not ask for)
    args = ("speed", "Llama-3.1-70B", "--gpu", "RTX-4090", "--engine", "llama.cpp", "--weights", "Q4_K_M", "--gpus", "2")
    r = run(*args)
    assert r.returncode == 2 and "--gpus 2 --pp 2 splits the layers" in r.stderr and "Traceback" not in r.stderr
    assert run(*args, "--pp", "2").returncode == 0


def test_latency_targets_given_to_speed_and_fit_are_answered_not_dropped():
    # speed: the setup's verdict on --ttft/--tpot (plan rejects by them); fit: which answers they bound
    base = ("Llama-3.1-8B", "--gpu", "H100", "--json")
    rep = json.loads(run("speed", *base, "--ttft", "0.01", "--tpot", "1").stdout)
    assert rep["targets"]["ttft_s"] == 0.01 and rep["targets"]["missed"].startswith("too slow: TTFT")
    assert json.loads(run("speed", *base, "--ttft", "5").stdout)["targets"]["missed"] is None
    assert json.loads(run("speed", *base).stdout)["targets"] is None
    text = run("speed", *base[:-1], "--tpot", "1").stdout
    assert "targets (--tpot 1 ms): missed, too slow: TPOT" in " ".join(text.split())
    fit = json.loads(run("fit", *base, "--tpot", "25").stdout)
    assert "memory limits" in fit["targets"]


def test_longest_context_stops_at_the_models_trained_context():
    # an H200 holds 871,877 tokens of Llama 3.1 8B's KV, past the 131,072 it is trained to (speed and infer
    # refuse past it): the answer is the trained context, said as such; a short one (70B over TP2) is memory's
    rep = json.loads(run("fit", "Llama-3.1-8B", "--gpu", "H200", "--find", "context", "--json").stdout)
    assert rep["longest_context"] == 131072 and "whole trained context" in rep["context_note"]
    rep = json.loads(run("fit", "Llama-3.1-70B", "--gpu", "H100", "--tp", "2", "--find", "context", "--json").stdout)
    assert 1024 < rep["longest_context"] < 131072 and "context_note" not in rep


def test_training_speed_says_when_its_layout_does_not_fit():
    # serving's speed refuses a setup that does not fit; training's gave a 70B on one 12 GB card 170 years
    # with no word that it cannot run: it now carries the layout's memory and says so
    rep = json.loads(run("speed", "Llama-3.1-70B", "--train", "--tokens", "1e11", "--gpu", "RTX-3060",
                         "--json").stdout)
    assert rep["memory_per_gpu_bytes"] > rep["budget_bytes"] and rep["note"].startswith("does not fit")
    ok = json.loads(run("speed", "Llama-3.1-8B", "--train", "--tokens", "1e11", "--gpu", "H100", "--gpus", "8",
                        "--zero", "3", "--json").stdout)
    assert ok["memory_per_gpu_bytes"] < ok["budget_bytes"] and "note" not in ok
