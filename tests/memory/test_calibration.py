"""The bar: per mode (train, forward, generate, LoRA train), the median absolute relative error of the
peak is at most 2% and the largest at most 5%, on the shared truth (calib.jsonl) and on the extra
cases measured by scripts/gen_truth_extra.py (truth_extra.jsonl)."""
from __future__ import annotations

import pytest

from llmsize.validate import validate
from tests.conftest import DATA


@pytest.mark.parametrize("f", ["calib.jsonl", "truth_extra.jsonl"])
def test_error_bar_per_mode(f):
    results, summ = validate(DATA / f)
    assert len(results) >= 40
    for mode in ("train", "forward", "generate", "lora train"):
        s = summ[mode]
        assert s["n"] >= 3, mode
        assert s["median"] <= 0.02, (mode, s)
        assert s["max"] <= 0.05, (mode, s, sorted(((abs(r.rel_error or 0), r.case.id) for r in results))[-3:])


def test_params_match_the_truth():
    results, _ = validate(DATA / "calib.jsonl")
    import json
    rows = {r["id"]: r for r in map(json.loads, (DATA / "calib.jsonl").read_text().splitlines())}
    for r in results:
        assert r.predicted_params == rows[r.case.id]["measured"]["params"], r.case.id
