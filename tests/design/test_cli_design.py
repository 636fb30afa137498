"""`llmsize design/scaling/compare/whatif`: JSON equals the library's, bad input is one line and exit 2."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.design.metrics import Setting
from llmsize.design.report import design_report, resolve_budget, scaling_report
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.params import count


def run(*args):
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def test_design_json_is_the_library_report():
    r = run("design", "--params", "7B", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj == json.loads(json.dumps(design_report(params=7 * 10**9)))
    assert len(obj["candidates"]) == 5 and sum(c["recommended"] for c in obj["candidates"]) == 1
    for c in obj["candidates"]:
        assert c["params"] == c["active_params"] and c["kv_bytes_per_token"] > 0 and c["gpu_hours"] > 0
        # serving: weights + KV at the context + working set; training: 16 B/param states and more
        assert c["serve_peak_bytes"] > c["weight_bytes"] + c["kv_bytes"]
        assert c["train_peak_bytes"] > 16 * c["params"]


def test_design_from_chinchillas_compute():
    rep = design_report(compute=576 * 10**21)
    b = rep["budget"]
    assert b["params"] == pytest.approx(70e9, rel=0.015) and b["tokens"] == pytest.approx(1.4e12, rel=0.015)
    assert any(abs(c["params"] / 70e9 - 1) < 0.05 for c in rep["candidates"])
    assert rep["scaling"]["chinchilla"]["params"] == b["params"]


def test_design_from_gpu_hours():
    from llmsize import perf
    from llmsize.speedmodel.train import GOODPUT
    from llmsize.catalog.hardware import parse_gpu

    c = round(perf.flops_for_gpu_hours(100_000, peak_flops=parse_gpu("H100").peak_flops("bf16")))
    assert c == round(100_000 * 3600 * parse_gpu("H100").peak_flops("bf16") * perf.DEFAULT_MFU)
    b = resolve_budget(gpu_hours=100_000, gpu="H100")
    # the budget buys the steps of its goodput share of the hours, as the planner times the run
    assert b.flops == round(c * GOODPUT) and b.given == "gpu-hours" and b.tokens == 20 * b.params
    rep = design_report(gpu_hours=100_000)
    # the planner's time for the recommended design is about the budget (6ND vs perf's FLOP count)
    rec = next(x for x in rep["candidates"] if x["recommended"])
    assert rec["gpu_hours"] == pytest.approx(100_000, rel=0.25)


def test_perf_gpu_hours_to_flops_inverts_train_time():
    from llmsize import perf

    spec = load("Llama-3.1-8B").spec
    peak = 989e12
    for hours, mfu, gpus in ((100_000, perf.DEFAULT_MFU, 1024), (2.5, 0.55, 1), (1e7, 0.3, 16_384)):
        flops = perf.flops_for_gpu_hours(hours, peak_flops=peak, mfu=mfu)
        assert flops == pytest.approx(hours * 3600 * peak * mfu, rel=1e-12)
        per_tok = sum(t.value for t in perf.train_flops_per_token(spec, 4096))
        t = perf.train_time(spec, tokens=flops / per_tok, gpus=gpus, peak_flops=peak, seq_len=4096, mfu=mfu)
        assert t.gpu_hours == pytest.approx(hours, rel=1e-9) and t.total_flops == pytest.approx(flops, rel=1e-9)
    for bad in (0, -1, float("nan"), float("inf"), True):
        with pytest.raises(LlmsizeError, match="GPU-hours"):
            perf.flops_for_gpu_hours(bad, peak_flops=peak)
    with pytest.raises(LlmsizeError, match="MFU"):
        perf.flops_for_gpu_hours(10, peak_flops=peak, mfu=1.5)
    with pytest.raises(LlmsizeError, match="peak FLOP/s"):
        perf.flops_for_gpu_hours(10, peak_flops=0)


def test_compute_with_tokens_fixes_the_size():
    b = resolve_budget(compute=6 * 10**21, tokens=10**11)
    assert b.params == 10**10


@pytest.mark.parametrize("args, needle", [
    (["design", "--params", "1M"], "impossible budget"),
    (["design", "--params", "7B", "--compute", "1e23"], "exactly one budget"),
    (["design"], "exactly one budget"),
    (["design", "--params", "seven"], "--params: cannot read 'seven'"),
    (["design", "--params", "14B", "--hidden", "4096", "--layers", "32"], "inconsistent constraints"),
    (["design", "--params", "7B", "--hidden", "4000", "--head-dim", "128"], "not a multiple of head_dim"),
    (["design", "--params", "7B", "--kv-heads", "3", "--hidden", "4096", "--head-dim", "128"], "do not divide"),
    (["design", "--compute", "1e10"], "impossible budget"),
    (["design", "--gpu-hours", "10", "--gpu", "NoSuchGPU"], "unknown GPU"),
    (["scaling"], "give --compute"),
    (["scaling", "--tokens", "1T"], "--tokens needs --params"),
    (["compare", "Llama-3.1-8B"], "at least two"),
    (["compare", "Llama-3.1-8B", "design:1K"], "impossible budget"),
    (["whatif", "prune", "Llama-3.1-8B"], "say what to remove"),
    (["whatif", "distill", "Llama-3.1-8B"], "needs --student"),
    (["whatif", "moe", "Llama-3.1-8B", "--moe", "eight"], "EXPERTSxTOPK"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llmsize: error:"), r.stderr
    assert needle in lines[0]


def test_scaling_json_overtraining_stated_plainly():
    r = run("scaling", "--params", "8030261248", "--tokens", "15T", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["run"]["tokens_per_param"] == pytest.approx(1867.93, abs=0.01)
    assert "93.4x the Chinchilla rule" in obj["run"]["plainly"]
    runs = {k["name"]: k for k in obj["known_runs"]}
    assert runs["Llama-3.1-8B"]["exact"] and runs["Llama-3.1-8B"]["params"] == 8_030_261_248
    assert runs["Chinchilla 70B"]["tokens_per_param"] == 20


def test_scaling_compute_and_inference():
    rep = scaling_report(compute=10**24, inference_tokens=10**13)
    assert set(rep["allocations"]) == {"chinchilla", "approach3", "besiroglu", "kaplan"}
    ia = rep["inference_aware"]
    assert ia["params"] < ia["chinchilla"]["params"] and ia["saving"] > 0
    with pytest.raises(LlmsizeError, match="not both"):
        scaling_report(compute=10**24, params=10**9)


def test_compare_highlights_differences():
    r = run("compare", "Llama-2-7b-hf", "Llama-3.1-8B", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    fields = {d["field"]: d for d in obj["differences"]}
    assert fields["kv_bytes_per_token"]["ratio_to_first"] == [1.0, 0.25]  # MHA -> GQA-8
    assert fields["kv_bytes_per_token"]["best"] == "Llama-3.1-8B"
    # same training tokens for every row (20 per parameter of the first)
    assert len({row["train_tokens"] for row in obj["rows"]}) == 1
    assert obj["rows"][0]["train_tokens"] == 20 * count(load("Llama-2-7b-hf").spec).total


def test_compare_accepts_designs_and_tables_render():
    r = run("compare", "Llama-3.1-8B", "design:8B")
    assert r.returncode == 0, r.stderr
    assert "design 8.00B" in r.stdout and "KV cache per token" in r.stdout


@pytest.mark.parametrize("args", [
    ["whatif", "attention", "Llama-3.1-8B"], ["whatif", "vocab", "Llama-2-7b-hf"], ["whatif", "shape", "gpt2"],
    ["whatif", "moe", "Llama-3.1-8B", "--moe", "8x2"], ["whatif", "quant", "Llama-3.1-8B", "--format", "Q8_0"],
    ["whatif", "prune", "Llama-3.1-8B", "--drop-layers", "8"], ["whatif", "sparse24", "Llama-2-7b-hf"],
    ["whatif", "distill", "Llama-3.1-8B", "--student", "Llama-3.2-1B"],
    ["design", "--params", "125M", "--vocab", "50257", "--tied"], ["scaling", "--compute", "1e22"],
])
def test_every_command_renders(args):
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    j = run(*args, "--json")
    assert j.returncode == 0, j.stderr
    json.loads(j.stdout)


def test_json_imports_no_rich():
    code = ("import sys\nfrom llmsize.cli import main\n"
            "try:\n main(['design', '--params', '1B', '--json'])\nexcept SystemExit: pass\n"
            "print([m for m in ('rich', 'torch', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


# -- training setups from the planner ------------------------------------------------------------
_PLANNER_ROW = {"gpu", "gpus", "layout", "tp", "pp", "dp", "cp", "ep", "engine", "zero", "fsdp", "offload_optimizer",
                "offload_params", "precision", "memory_per_gpu_bytes", "budget_bytes", "headroom_bytes", "host_bytes",
                "stage", "terms", "tokens_per_s", "seconds", "usd"}


def _in_gpu(setups):
    return [s for s in setups if s["offload_optimizer"] == "none" and s["offload_params"] == "none"]


def test_design_70b_trains_on_several_h100_by_the_planners_search():
    from llmsize.catalog.hardware import parse_gpu
    from llmsize.design.shapes import propose
    from llmsize.planner import TrainJob, plan_report
    from llmsize.planner.search import DEFAULT_COUNTS

    r = run("design", "--params", "70B", "--gpu", "H100", "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    h100 = parse_gpu("H100")
    specs = [c.spec for c in propose(70 * 10**9)]
    assert [s.hidden_size for s in specs] == [c["hidden"] for c in obj["candidates"]]
    for c, spec in zip(obj["candidates"], specs):
        p = c["train_plan"]
        # the single-device peak is kept (and cannot fit one H100); the planner shards it over N >= 2
        assert c["train_peak_bytes"] > h100.memory_bytes
        assert p["gpus"] >= 2 and p["gpu"] == h100.name
        assert _PLANNER_ROW <= set(p)
        assert p["tp"] * p["pp"] * p["dp"] * p["cp"] == p["gpus"]
        assert p["offload_optimizer"] == p["offload_params"] == "none"
        assert p["memory_per_gpu_bytes"] <= p["budget_bytes"] and p["memory_per_gpu_bytes"] < c["train_peak_bytes"]
        assert p["days"] == pytest.approx(p["seconds"] / 86400) and p["usd"] > 0
        # design gives the planner its MFU (0.40, model FLOPs over wall time, as published): the planner no
        # longer charges it on recomputation FLOPs (8N), so both count 6N at that MFU (issue 11)
        assert p["gpu_hours"] / c["gpu_hours"] == pytest.approx(1.0, rel=0.02)
        if p["fewest_with_offload"] is not None:
            assert p["fewest_with_offload"]["gpus"] < p["gpus"] and p["fewest_with_offload"]["host_bytes"] > 0
    # it is the planner's own answer: its search ranked by GPU count, first setup without offload ...
    rec = next(i for i, c in enumerate(obj["candidates"]) if c["recommended"])
    p = obj["candidates"][rec]["train_plan"]
    job = TrainJob(seq_len=4096, micro_batch=1, tokens=float(obj["budget"]["tokens"]), mfu=0.40)  # design's MFU
    assert p["job"] == json.loads(json.dumps({k: getattr(job, k) for k in job.__dataclass_fields__}))
    rep = plan_report(specs[rec], job, gpu_names=["H100"], by="gpus", top=10**6)
    want = json.loads(json.dumps(_in_gpu(rep["setups"])[0]))
    assert {k: p[k] for k in want} == want
    # ... and no smaller count of H100 holds the model in GPU memory
    fewer = [n for n in DEFAULT_COUNTS if n < p["gpus"]]
    assert not _in_gpu(plan_report(specs[rec], job, gpu_names=["H100"], counts=fewer, by="gpus", top=10**6)["setups"])


def test_design_7b_fewer_gpus_than_70b_and_table_names_the_setup():
    small = design_report(params=7 * 10**9, n=2)
    big = design_report(params=70 * 10**9, n=2)
    for a, b in zip(small["candidates"], big["candidates"]):
        assert 1 <= a["train_plan"]["gpus"] < b["train_plan"]["gpus"]
    r = run("design", "--params", "7B", "-n", "2")
    assert r.returncode == 0, r.stderr
    assert "Fewest H100 to train each" in r.stdout and "peak, 1 device" in r.stdout
    lay = small["candidates"][0]["train_plan"]["layout"]
    assert lay.split()[0] in r.stdout


def test_design_on_an_fp16_only_gpu_gets_a_planner_setup():
    """The planner times fp16-only GPUs (V100, T4) on their fp16 tensor cores (issue 11)."""
    rep = design_report(params=10**9, n=1, setting=Setting(gpu="V100-SXM2-32GB", dtype="fp16"))
    c = rep["candidates"][0]
    assert c["train_plan"] is not None and c["train_plan"]["gpu"] == "V100-SXM2-32GB"


def test_compare_shows_the_planners_fewest_gpus_and_whatif_does_not_plan():
    from llmsize.design.compare import compare_report, whatif_report

    rep = compare_report([("8B", load("Llama-3.1-8B").spec), ("70B", load("Llama-3.1-70B").spec)])
    g8, g70 = (row["train_plan"]["gpus"] for row in rep["rows"])
    assert 1 <= g8 < g70
    d = {x["field"]: x for x in rep["differences"]}
    assert d["plan_gpus"]["values"] == [g8, g70] and d["plan_gpus"]["best"] == "8B"
    import os

    r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "compare", "Llama-3.1-8B",
                        "Llama-3.1-70B"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert "fewest GPUs to train" in r.stdout and "training peak, 1 device" in r.stdout
    w = whatif_report(load("Llama-3.1-8B").spec, "attention", kinds="mqa")
    assert all(v["train_plan"] is None for v in w["variants"])
