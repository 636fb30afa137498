"""Whole-run rows whose source leaves the GPU count, layout or global batch null: the defaults taken are
physical (never a 405B model's training state on one unsharded GPU) and each is said in a note."""
from __future__ import annotations

import json

from llmsize.validate_speed import parse_speed_cases, predict_case
from tests.conftest import DATA

ROWS = {r["id"]: r for r in (json.loads(x) for x in (DATA / "speed_calib.jsonl").read_text().splitlines() if x.strip())}


def _predict(row):
    return predict_case(parse_speed_cases([json.dumps(row)])[0])


def test_null_layout_shards_a_model_whose_state_cannot_fit_one_gpu():
    # Llama 3.1 405B's card: 16 B/param of Adam state = 6,048 GiB, far over an H100's 79 GiB
    r = _predict(ROWS["modelcard-llama-3.1-405b-gpu-hours"])
    assert any("6048 GiB" in n and "fully sharded" in n for n in r.notes), r.notes
    assert any("hardware.count not given" in n and "no communication timed" in n for n in r.notes)
    # SmolLM3 3B: 46 GiB of state fits an H100: plain data parallel, no sharding note
    r = _predict(ROWS["smollm3-3b-run-days"])
    assert not any("sharded" in n for n in r.notes) and not any("count not given" in n for n in r.notes)
    # a layout the source gives is never overridden (BloombergGPT: ZeRO-3 as published)
    r = _predict(ROWS["bloomberggpt-50b-run-days"])
    assert not any("layout not given" in n for n in r.notes)


def test_a_count_too_small_even_fully_sharded_is_said():
    row = json.loads(json.dumps(ROWS["modelcard-llama-3.1-405b-gpu-hours"]))
    row["hardware"]["count"] = 8
    row["measured"] = {"metric": "days"}
    r = _predict(row)
    assert r.predicted > 0 and any("does not fit" in n and "8 GPUs" in n for n in r.notes), r.notes
    row["hardware"]["count"] = 1024  # 5.9 GiB of state a GPU: fits, nothing more to say
    assert not any("does not fit" in n for n in _predict(row).notes)


def test_sharding_default_leaves_the_rate_of_a_run_without_a_batch_unchanged():
    # with no global batch the data-parallel traffic is not timed: the default changes notes, not numbers
    row = json.loads(json.dumps(ROWS["modelcard-llama-3.1-405b-gpu-hours"]))
    a = _predict(row).predicted
    row["workload"]["layout"] = {"dp": 1}
    assert _predict(row).predicted == a
