"""`llmsize validate` on speed cases: the named metric exactly, rel_error, --json rows and the summary by
category, files mixing memory and speed cases, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.errors import LlmsizeError
from llmsize.validate_speed import parse_speed_cases, predict_case
from tests.conftest import DATA

SPEED = [x for x in (DATA / "speed_calib.jsonl").read_text().splitlines() if x.strip()]
MEMORY = (DATA / "calib.jsonl").read_text().splitlines()[0]


def run(args):
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def test_prediction_never_reads_measured_and_runs_without_it():
    row = json.loads(SPEED[0])
    a = predict_case(parse_speed_cases([json.dumps(row)])[0])
    bare = {k: v for k, v in row.items() if k not in ("measured", "source")} | {
        "measured": {"metric": row["measured"]["metric"]}}
    b = predict_case(parse_speed_cases([json.dumps(bare)])[0])
    assert a.predicted == b.predicted and b.rel_error is None and b.case.measured is None
    row["measured"]["value"] *= 5
    assert predict_case(parse_speed_cases([json.dumps(row)])[0]).predicted == a.predicted


def _headline(cat: str) -> dict:
    """The first calibration row of category `cat`, with neither `measured` nor `source`."""
    row = next(json.loads(x) for x in SPEED if json.loads(x)["category"] == cat)
    return {k: v for k, v in row.items() if k not in ("measured", "source")}


@pytest.mark.parametrize("cat,drop_cat,metric", [
    ("decode", False, "tokens_per_s"), ("serve_latency", False, "ttft_s"),
    ("serve_latency", True, "output_tokens_per_s"), ("train_throughput", True, "tokens_per_s_per_gpu"),
    ("run_gpu_hours", True, "gpu_hours")])
def test_a_case_without_measured_predicts_its_headline_metric_and_says_so(cat, drop_cat, metric):
    row = _headline(cat)
    if drop_cat:
        row.pop("category")
    r = predict_case(parse_speed_cases([json.dumps(row)])[0])
    assert r.case.metric == metric and r.predicted > 0 and r.rel_error is None
    assert r.notes[0] == f"measured.metric not given: {metric} predicted"
    named = predict_case(parse_speed_cases([json.dumps(row | {"measured": {"metric": metric}})])[0])
    assert named.predicted == r.predicted and not any("not given: " + metric in n for n in named.notes)


def test_mixed_file_json(tmp_path):
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join([MEMORY, SPEED[0], SPEED[-1]]) + "\n")
    p = run(["validate", str(f), "--json"])
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    kinds = [c.get("kind") for c in out["cases"]]
    assert kinds == [None, "speed", "speed"]  # memory rows keep today's fields
    s = out["cases"][1]
    assert set(s) >= {"id", "kind", "metric", "predicted", "measured", "rel_error"}
    assert s["rel_error"] == pytest.approx(s["predicted"] / s["measured"] - 1)
    assert set(out["speed_summary"]) == {json.loads(SPEED[0])["category"], json.loads(SPEED[-1])["category"], "all"}
    assert out["summary"]["all"]["n"] == 1


def test_table_output_is_by_category(tmp_path):
    from script_render import load_script

    known = load_script("scripts/fit_speed.py").gpu_known  # rows on GPUs not catalogued yet wait
    f = tmp_path / "speed.jsonl"
    f.write_text("".join(x + "\n" for x in SPEED if known(json.loads(x)["hardware"]["gpu"])))
    p = run(["validate", str(f)])
    assert p.returncode == 0, p.stderr
    assert "Speed: absolute relative error by category" in p.stdout
    for cat in ("decode", "prefill", "serve_throughput", "train_throughput", "run_gpu_hours"):
        assert cat in p.stdout
    assert max(len(x) for x in p.stdout.splitlines()) <= 80


@pytest.mark.parametrize("change, needle", [
    (lambda r: r["measured"].update(metric="joules"), "measured.metric must be one of"),
    (lambda r: r["workload"].update(task="finetune"), "workload.task must be"),
    (lambda r: r.update(engine="tgi-ish"), "unknown engine"),
    (lambda r: r.update(model={"knobs": {"hidden": 64, "layers": 2, "heads": 4, "vocab": 100, "wings": 2}}),
     "unknown knob"),
    (lambda r: r["measured"].update(metric="ttft_s"), "does not apply to a decode workload"),
    # every count is bounded before anything is computed from it (llmsize.bounds)
    (lambda r: r["workload"].update(tokens=10**14), "workload.tokens must be at most 16,777,216 (llmsize's context"),
    (lambda r: r["workload"].update(context=1 << 30), "workload.context must be at most 16,777,216"),
    (lambda r: r["workload"].update(batch=1 << 20), "workload.batch must be at most 65,536 (llmsize's batch"),
    (lambda r: r["workload"].update(tp=1 << 21), "workload.tp must be at most 1,048,576 (llmsize's gpus"),
    (lambda r: r["hardware"].update(count=1 << 21), "hardware.count must be at most 1,048,576"),
    (lambda r: r["hardware"].update(gpus_per_node=1 << 21), "hardware.gpus_per_node must be at most 1,048,576"),
    (lambda r: r["workload"].update(task="prefill", ubatch=0), "workload.ubatch must be an integer >= 1"),
    (lambda r: r["workload"].update(task="prefill", ubatch=1 << 25), "workload.ubatch must be at most 16,777,216"),
])
def test_bad_case_is_one_line_exit_2(tmp_path, change, needle):
    """A case the schema rules out is a broken file: one line, exit 2, nothing predicted. (A well-formed
    case llmsize cannot predict, e.g. on a GPU the catalog lacks, is that case's error: see below.)"""
    row = json.loads(next(x for x in SPEED if '"task": "decode"' in x))
    change(row)
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(row) + "\n")
    p = run(["validate", str(f)])
    assert p.returncode == 2 and needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_serve_latency_metrics_and_null_fields_take_defaults():
    row = json.loads(next(x for x in SPEED if '"task": "serve"' in x))
    row["workload"].update(concurrency=16, request_rate=None, dp=None)
    for metric in ("ttft_s", "tpot_s"):
        row["measured"] = {"metric": metric}
        r = predict_case(parse_speed_cases([json.dumps(row)])[0])
        assert r.predicted > 0 and any("dp not given" in n for n in r.notes)
    with pytest.raises(LlmsizeError, match="line 1"):
        row["workload"]["prompt"] = 10**9
        predict_case(parse_speed_cases([json.dumps(row)])[0])


def test_speed_cli_request_rate_mode_and_overload():
    p = run(["speed", "Llama-3.1-8B", "--gpu", "H100", "--concurrency", "256", "--request-rate", "5", "--json"])
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["batch_limit"] == "request_rate" and d["ttft_s"] <= d["ttft_p90_s"]
    assert d["output_tokens_per_s"] == pytest.approx(5 * 256, rel=0.05)  # what arrives is what is served
    p = run(["speed", "Llama-3.1-8B", "--gpu", "H100", "--request-rate", "500"])
    assert p.returncode == 2 and "overloaded" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = run(["speed", "Llama-3.1-8B", "--gpu", "H100", "--train", "--tokens", "1e9", "--request-rate", "5"])
    assert p.returncode == 2 and "--request-rate" in p.stderr


def test_a_case_that_cannot_be_predicted_is_its_own_error_and_the_rest_go_on(tmp_path, monkeypatch):
    """issue #14: `validate` reports a case it cannot predict as that case's error and goes on; in a speed
    file an unknown model (a repo id not in the offline cache) and a GPU the catalog lacks are such cases."""
    good = json.loads(SPEED[0])
    repo = dict(good, id="not-cached", model="example-org/not-a-real-model-xyz")
    gpu = dict(good, id="no-such-gpu", hardware=dict(good["hardware"], gpu="GPU-That-Does-Not-Exist"))
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in (repo, good, gpu)) + "\n")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    p = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "validate", str(f), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    rows = {r["id"]: r for r in out["cases"]}
    assert rows[good["id"]]["predicted"] > 0 and rows[good["id"]]["error"] is None
    assert rows["not-cached"]["predicted"] is None and "example-org/not-a-real-model-xyz" in rows["not-cached"]["error"]
    assert rows["no-such-gpu"]["predicted"] is None and "GPU-That-Does-Not-Exist" in rows["no-such-gpu"]["error"]
    cat = out["speed_summary"][good["category"]]
    assert cat["n"] == 1 and cat["unpredicted"] == 2 and out["speed_summary"]["all"]["unpredicted"] == 2
    table = run(["validate", str(f)])
    assert table.returncode == 0 and "not predicted" in table.stdout and "no-such-gpu" in table.stdout


def test_an_unexpected_failure_is_reported_for_its_case(monkeypatch):
    """A bug in a predictor (any exception) is said for that case, never a traceback for the file."""
    import llmsize.validate_speed_predict as vp
    from llmsize.validate_speed import predict_or_error

    def broken(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(vp, "predict_metric", broken)
    r = predict_or_error(parse_speed_cases([SPEED[0]])[0])
    assert r.predicted is None and r.rel_error is None
    assert "llmsize failed (ZeroDivisionError: division by zero)" in r.error


def test_a_measured_value_without_its_metric_is_refused_not_compared_with_a_guess():
    row = json.loads(SPEED[0])
    row["measured"] = {"value": row["measured"]["value"]}
    with pytest.raises(LlmsizeError, match="measured.value needs its measured.metric"):
        parse_speed_cases([json.dumps(row)])


def test_every_case_says_which_efficiencies_it_was_timed_with():
    """Each default is printed with its table key: a case's last note names every efficiency its prediction
    used (engine/architecture/phase, its value and rows), and an engine without rows of its own for the
    phase (vLLM has no training rows) shows the cross-engine key it fell back to, not a silent guess."""
    import llmsize.speedmodel.efficiency as eff

    for cat in ("decode", "serve_throughput", "train_throughput"):
        r = predict_case(parse_speed_cases([json.dumps(_headline(cat))])[0])
        note = r.notes[-1]
        assert note.startswith("efficiency ") and " = " in note, (cat, note)
        for part in note.removeprefix("efficiency ").split(", "):
            key, value = part.split(" (")[0].split(" = ")
            engine, arch, phase = key.split("/", 2)
            hit = [e for e in eff._table()["efficiency"]
                   if (e["engine"], e["arch"], e["phase"]) == (engine, arch, phase)]
            assert len(hit) == 1 and f"{hit[0]['value']:.3g}" == value, part
    train = _headline("train_throughput") | {"engine": "vllm"}
    note = predict_case(parse_speed_cases([json.dumps(train)])[0]).notes[-1]
    assert note.startswith("efficiency */") and "/train" in note


def test_the_efficiency_record_is_per_thread():
    """The web app times requests on worker threads: one thread's record never collects another's lookups."""
    import threading

    from llmsize.catalog.hardware import get_gpu
    from llmsize.speedmodel.efficiency import efficiency, recorded

    h100, a100 = get_gpu("H100-SXM"), get_gpu("A100-SXM-80GB")
    other: list = []

    def worker():
        with recorded() as mine:
            efficiency("vllm", a100, "decode")
        other.extend(mine)

    with recorded() as main:
        efficiency("vllm", h100, "decode")
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert [e.key.split("/")[1] for e in main] == ["hopper"]
    assert [e.key.split("/")[1] for e in other] == ["ampere"]


def test_fields_outside_the_schema_are_said_never_dropped_unsaid():
    """A case may carry fields the schema does not have (a source's interconnect, a unit): the prediction
    does not read them, and the case's first note says so; the prediction is the same without them."""
    row = json.loads(SPEED[0])
    extra = {**row, "hardware": {**row["hardware"], "interconnect": "NVLink"}, "dataset": "sharegpt",
             "measured": {**row["measured"], "unit": "tok/s"}}
    a = predict_case(parse_speed_cases([json.dumps(row)])[0])
    b = predict_case(parse_speed_cases([json.dumps(extra)])[0])
    assert a.predicted == b.predicted and not any("not in the schema" in n for n in a.notes)
    assert b.notes[0] == "dataset, hardware.interconnect, measured.unit not in the schema: not used"
