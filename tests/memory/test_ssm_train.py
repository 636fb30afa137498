"""Training and LoRA training of the state-space and hybrid types through their scans' backward, against
truth measured off the family grid (tests/data/truth_ssm_train.jsonl: batch 1 and 2, prompts of 48 to 256
tokens including lengths that are not a multiple of the chunk, checkpointing on and off, bf16, fp32 and
fp32 weights with bf16 autocast (llmsize train's default), LoRA on attention and on the state-space
projections; scripts/gen_ssm_train_truth.py with torch 2.13.0,
transformers 5.23.0 and peft 0.21.2, MemTracker on fake tensors).

The replays (memory/ssm_train.py: Mamba-2's chunked scan; ssm_mamba1.py: Jamba's sequential scan;
ssm_block.py: Mamba2Block's fp32 residual) are tensor-by-tensor readings of the torch path, never fits:
each bar below is the error reached when written, per type and mode, so a regression fails."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys

import pytest

from llmsize.validate import validate
from tests.conftest import DATA

TRUTH = DATA / "truth_ssm_train.jsonl"
# (type, mode): (n, median |error|, max |error|) reached when written
BAR = {("mamba2", "train"): (16, 0.0006, 0.0085), ("mamba2", "lora train"): (8, 0.0029, 0.0171),
       ("granitemoehybrid", "train"): (16, 0.0001, 0.0072), ("granitemoehybrid", "lora train"): (8, 0.0022, 0.0124),
       ("jamba", "train"): (4, 0.0001, 0.0006), ("jamba", "lora train"): (3, 0.0001, 0.0012),
       ("falcon_h1", "train"): (8, 0.0002, 0.0041), ("falcon_h1", "lora train"): (4, 0.0015, 0.0080)}


@pytest.fixture(scope="module")
def results():
    res, _ = validate(TRUTH)
    return res


def test_every_case_is_predicted(results):
    assert len(results) == sum(n for n, _, _ in BAR.values())
    assert [r.case.id for r in results if r.error is not None] == []


@pytest.mark.parametrize("key", sorted(BAR))
def test_accuracy_per_type_and_mode(results, key):
    errs = [abs(r.rel_error) for r in results if (r.case.config["model_type"], r.case.mode) == key]
    n, med, mx = BAR[key]
    assert len(errs) == n
    assert statistics.median(errs) <= med and max(errs) <= mx, (key, statistics.median(errs), max(errs))


def test_the_truth_exercises_padding_checkpointing_and_lora():
    rows = [json.loads(x) for x in TRUTH.read_text().splitlines()]
    w = [r["workload"] for r in rows]
    assert any(x["seq_len"] % 64 for x in w) and any(x["grad_checkpointing"] for x in w)
    assert any(x["lora"] and "in_proj" in x["lora"]["target_modules"] for x in w)
    assert any(x["autocast"] == "bfloat16" for x in w) and any(x["weights_dtype"] == "float32" for x in w)
    assert {r["source"]["transformers"] for r in rows} == {"5.23.0"}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmsize", *args], capture_output=True, text=True, timeout=120)


def test_cli_trains_a_mamba2_config_with_lora_on_its_input_projection(tmp_path):
    rows = [json.loads(x) for x in TRUTH.read_text().splitlines()]
    case = next(r for r in rows if r["id"] == "small-mamba2/train/bf16-adamw-lora16-qv-eager/b1-s100")
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(case["config"]))
    r = _cli("train", str(cfg), "--batch", "1", "--seq-len", "100", "--lora-r", "16", "--attn", "eager", "--json")
    assert r.returncode == 0, r.stderr
    peak = json.loads(r.stdout)["peak_bytes"]
    assert abs(peak / case["measured"]["peak_bytes"] - 1) <= 0.001
    r = _cli("train", str(cfg), "--batch", "1", "--seq-len", "100", "--lora-r", "16", "--lora-targets", "q_proj")
    assert r.returncode == 2 and "in_proj" in r.stderr and "Traceback" not in r.stderr


def test_cli_validate_predicts_every_case():
    r = _cli("validate", str(TRUTH))
    assert r.returncode == 0 and "lora train" in r.stdout
