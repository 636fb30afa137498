"""The efficiency fit's own arithmetic: what a row is solved for, and the values a GPU class without rows
of one kind (dense or mixture-of-experts) is given."""
from __future__ import annotations

import json

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.errors import LlmsizeError
from llmsize.speedmodel.efficiency import efficiency, probe
from llmsize.validate_speed import parse_case, predict_case
from script_render import load_script
from tests.conftest import DATA


def _fit():
    return load_script("scripts/fit_speed.py")


def test_a_probe_sets_only_the_phase_being_solved():
    gpu = get_gpu("Radeon-8060S")
    stored = efficiency("llama.cpp", gpu, "decode", path="int8", weights="MXFP4").value
    with probe(0.05, "prefill"):
        assert efficiency("llama.cpp", gpu, "prefill", path="int8", weights="MXFP4", moe=True).value == 0.05
        # a prompt's micro-batches read their weights at the table's decode efficiency, not the probe's
        assert efficiency("llama.cpp", gpu, "decode", path="int8", weights="MXFP4").value == stored
    with pytest.raises(LlmsizeError, match="unknown phase"):
        with probe(0.5, "prompt"):
            pass


def test_a_moe_prompt_row_is_solved_at_its_own_efficiency():
    # gpt-oss-120b's pp512 on Strix Halo reads 61 GB of experts per micro-batch: with the read efficiency
    # probed too, its solved value came out so that the stored table predicted +73%
    rows = [json.loads(x) for x in (DATA / "speed_calib.jsonl").read_text().splitlines()]
    r = next(x for x in rows if x["id"] == "llamacpp-fwforum-radeon-8060s-strixhalo-gpt-oss-120b-mxfp4-pp512")
    case = parse_case(r, 1, r["id"])
    q = _fit().solve(case, predict_case)
    assert predict_case(case, eff=q).predicted == pytest.approx(r["measured"]["value"], rel=1e-3)
    assert abs(predict_case(case).predicted / r["measured"]["value"] - 1) < 0.25


def _entry(arch, phase, v, engine="*"):
    return {"engine": engine, "arch": arch, "phase": phase, "value": v, "n": 1, "raw_median": v, "rows": [f"{arch}-{phase}"]}


def test_a_class_without_moe_rows_takes_its_dense_value_times_the_median_ratio():
    fit = _fit()
    es = [_entry("*", "prefill-int8", 0.3), _entry("*", "prefill-int8-moe", 0.13),
          _entry("a", "prefill-int8", 0.4), _entry("a", "prefill-int8-moe", 0.2),  # ratio 0.5
          _entry("b", "prefill-int8", 0.3), _entry("b", "prefill-int8-moe", 0.09),  # 0.3
          _entry("c", "prefill-int8", 0.2), _entry("c", "prefill-int8-moe", 0.14),  # 0.7
          _entry("d", "prefill-int8", 0.39), _entry("d", "prefill-int8", 0.39, engine="llama.cpp"),
          _entry("s", "prefill-int8-moe", 0.12)]
    got = {(x["engine"], x["arch"], x["phase"]): x for x in fit.moe_entries(es)}
    assert set(got) == {("*", "d", "prefill-int8-moe"), ("llama.cpp", "d", "prefill-int8-moe"),
                        ("*", "s", "prefill-int8")}
    assert got[("*", "d", "prefill-int8-moe")]["value"] == pytest.approx(0.39 * 0.5)
    assert got[("*", "s", "prefill-int8")]["value"] == pytest.approx(0.12 / 0.5)
    assert "median of a, b, c" in got[("*", "s", "prefill-int8")]["derived"]


def test_a_ratio_seen_on_one_class_is_not_carried_to_others():
    es = [_entry("*", "train", 0.6), _entry("*", "train-moe", 0.7),
          _entry("hopper", "train", 0.54), _entry("hopper", "train-moe", 0.8), _entry("blackwell", "train-moe", 0.4),
          _entry("ampere", "train", 0.6)]
    assert _fit().moe_entries(es) == []
