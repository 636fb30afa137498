"""The bar, at the accuracy the model reaches (so a regression fails): per mode (train, LoRA train,
forward, generate) and per model type, every case predicted and its absolute relative error of the
peak within the limits below, on the shared truth (calib.jsonl), the extra cases of
scripts/gen_truth_extra.py (truth_extra.jsonl) and the family cases of scripts/gen_family_truth.py
(truth_families.jsonl). Reached when written: calib max 0.030%, truth_extra max 0.0043%, families: 0.014% for every type
and mode except the types listed in FAMILY_MAX."""
from __future__ import annotations

import json
from collections import defaultdict

import pytest

from llmsize.validate import validate
from tests.conftest import DATA

MODES = ("train", "forward", "generate", "lora train")
# file -> (max |error| per mode, max per model type), the bar at 0.1% where the model is exact
LIMITS = {
    "calib.jsonl": (0.001, 0.001),
    "truth_extra.jsonl": (0.001, 0.001),
}
# truth_families.jsonl: max |error| per model type and mode (reached: 0.014% except the types listed;
# DeepSeek-V3 training 0.020% since the fp32-promoted routing product's backward temporaries are replayed).
# Falcon is
# held to the default bar: its own attention code (index-copy head splits, K/V broadcast to every head,
# SDPA on un-repeated heads with a materialised mask) is replayed from its traits.
FAMILY_MAX = {"deepseek_v3": {"forward": 1e-6, "generate": 1e-6, "train": 0.00013, "lora train": 0.0002},
              # GLM-4.5 MoE: its sigmoid group router's small top-k temporaries are approximate
              "glm4_moe": {"forward": 1e-5, "generate": 1e-5, "train": 0.0003, "lora train": 0.0005},
              # GPT-J: a few int64 index bytes of its per-layer position gather are not replayed
              "gptj": {"forward": 0.00002, "generate": 0.00003, "train": 0.00005, "lora train": 0.00006},
              # gpt-oss: the expert backward is approximate
              "gpt_oss": {"forward": 1e-6, "generate": 1e-6, "train": 0.017, "lora train": 0.0035},
              "gemma3_text": {"forward": 1e-6, "generate": 1e-5, "train": 0.0003, "lora train": 0.00045},
              "gemma": {"forward": 1e-6, "generate": 1e-6, "train": 0.0002, "lora train": 0.00021},
              # Helium: RMSNorm casts its weight to fp32 each call
              "helium": {"forward": 1e-6, "generate": 1e-6, "train": 0.0045, "lora train": 0.0067},
              }
FAMILY_DEFAULT = {"forward": 1e-6, "generate": 0.0002, "train": 0.0002, "lora train": 0.0002}


def _by(results, key):
    out = defaultdict(list)
    for r in results:
        out[key(r)].append(r)
    return out


@pytest.mark.parametrize("f", sorted(LIMITS))
def test_every_case_within_the_bar_per_mode_and_per_type(f):
    results, summ = validate(DATA / f)
    assert len(results) >= 40 and all(r.error is None for r in results), [r.error for r in results if r.error]
    per_mode, per_type = LIMITS[f]
    for mode in MODES:
        s = summ[mode]
        assert s["n"] >= 3 and s["unpredicted"] == 0, mode
        assert s["max"] <= per_mode, (mode, s)
    for mt, rs in _by(results, lambda r: r.case.config["model_type"]).items():
        worst = max(rs, key=lambda r: abs(r.rel_error))
        assert abs(worst.rel_error) <= per_type, (mt, worst.case.id, worst.rel_error)


def test_family_truth_within_its_bar_per_type_and_mode():
    results, summ = validate(DATA / "truth_families.jsonl")
    assert all(r.error is None for r in results) and len(results) >= 156
    types = _by(results, lambda r: r.case.config["model_type"])
    assert len(types) >= 30
    for mt, rs in types.items():
        bar = FAMILY_MAX.get(mt, FAMILY_DEFAULT)
        for mode, ms in _by(rs, lambda r: r.case.mode).items():
            worst = max(ms, key=lambda r: abs(r.rel_error))
            assert abs(worst.rel_error) <= bar[mode], (mt, mode, worst.case.id, worst.rel_error)
    for mode in MODES:
        assert summ[mode]["median"] <= 0.0002 and summ[mode]["unpredicted"] == 0, (mode, summ[mode])


def test_params_match_the_truth():
    for f in ("calib.jsonl", "truth_extra.jsonl", "truth_families.jsonl"):
        results, _ = validate(DATA / f)
        rows = {r["id"]: r for r in map(json.loads, (DATA / f).read_text().splitlines()) if "measured" in r}
        for r in results:
            assert r.predicted_params == rows[r.case.id]["measured"]["params"], (f, r.case.id)
