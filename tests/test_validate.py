"""llmsize.validate: case files in the truth schema, predictions that never read `measured`, the
summary by mode, and `llmsize validate` (table, --json, one-line errors)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.errors import LlmsizeError
from llmsize.validate import parse_cases, predict, read_cases, summary, validate
from tests.conftest import DATA

LINE = (DATA / "calib.jsonl").read_text().splitlines()[0]


def run(args):
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def test_prediction_never_reads_measured():
    full = json.loads(LINE)
    bare = {k: v for k, v in full.items() if k != "measured"}
    a, b = predict(parse_cases([json.dumps(full)])[0]), predict(parse_cases([json.dumps(bare)])[0])
    assert a.predicted_peak == b.predicted_peak and b.rel_error is None
    full["measured"]["peak_bytes"] *= 3
    assert predict(parse_cases([json.dumps(full)])[0]).predicted_peak == a.predicted_peak


def test_summary_by_mode_with_lora_on_its_own():
    results, summ = validate(DATA / "calib.jsonl")
    assert set(summ) == {"train", "lora train", "forward", "generate", "all"}
    assert sum(summ[m]["n"] for m in ("train", "lora train", "forward", "generate")) == len(results) == 77
    assert all(summ[m]["median"] <= summ[m]["p95"] <= summ[m]["max"] for m in summ)
    assert summary([]) == {}


@pytest.mark.parametrize("text, needle", [
    (LINE + "\n{broken\n", "line 2"),
    (LINE + "\n\n[1, 2]\n", "line 3"),
    ('{"id": "x", "workload": {"mode": "train"}}', "line 1: missing 'config'"),
    (LINE.replace('"batch": 1', '"batch": 0'), "line 1: workload.batch"),
    (LINE.replace('"optimizer": "adamw"', '"optimizer": "rmsprop"'), "line 1: unknown --optimizer"),
    (LINE.replace('"peak_bytes": ', '"peak_bytes": -'), "line 1: measured.peak_bytes"),
])
def test_broken_lines_name_their_line(tmp_path, text, needle):
    f = tmp_path / "cases.jsonl"
    f.write_text(text)
    with pytest.raises(LlmsizeError, match=needle):
        validate(f)


def test_missing_file():
    with pytest.raises(LlmsizeError, match="cannot read"):
        read_cases("/nonexistent/cases.jsonl")


def test_cli_validate_json_shape(tmp_path):
    f = tmp_path / "c.jsonl"
    bare = json.loads(LINE)
    del bare["measured"]
    f.write_text(LINE + "\n" + json.dumps(bare) + "\n")
    r = run(["validate", str(f), "--json"])
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert set(obj) == {"cases", "summary"}
    c0, c1 = obj["cases"]
    assert set(c0) == {"id", "predicted_peak_bytes", "predicted_params", "measured_peak_bytes", "rel_error", "error"}
    assert c1["measured_peak_bytes"] is None and c1["rel_error"] is None
    assert obj["summary"]["train"]["n"] == 1


def test_cli_validate_table_and_errors(tmp_path):
    r = run(["validate", str(DATA / "calib.jsonl")])
    assert r.returncode == 0 and "lora train" in r.stdout and "median" in r.stdout
    f = tmp_path / "bad.jsonl"
    f.write_text(LINE + "\nnot json\n")
    r = run(["validate", str(f)])
    assert r.returncode == 2
    assert r.stderr.strip().startswith("llmsize: error:") and "line 2" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_case_that_cannot_be_predicted_is_its_own_error_and_the_rest_go_on(tmp_path):
    bad = json.loads(LINE)
    bad["id"], bad["config"] = "xl", {**bad["config"], "model_type": "xlnet"}
    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps(bad) + "\n" + LINE + "\n")
    results, summ = validate(f)
    assert [r.error is None for r in results] == [False, True]
    assert "'xlnet' is not one llmsize knows" in results[0].error
    assert results[1].predicted_peak is not None and summ["train"]["n"] == 1
    assert summ["train"]["unpredicted"] == 1
    r = run(["validate", str(f)])
    assert r.returncode == 0, r.stderr
    assert "Cases not predicted" in r.stdout and "xl" in r.stdout
