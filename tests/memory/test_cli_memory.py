"""`llmsize infer` / `llmsize train`: tables, --json with exact bytes per term, --gpu fit, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run(args):
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def test_train_json_terms_sum_to_peak():
    r = run(["train", "Llama-3.2-1B", "--batch", "2", "--seq-len", "1024", "--json"])
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert sum(t["bytes"] for t in o["terms"]) == o["peak_bytes"]
    assert o["peak_phase"] in o["phases"] and o["phases"][o["peak_phase"]] == o["peak_bytes"]
    assert {"16 bytes/param (mixed-precision Adam, ZeRO)", "4 x model size (training)"} <= \
        {x["rule"] for x in o["rules_of_thumb"]}


def test_train_matches_truth_case():
    """calib: Llama-3.2-1B/train/bf16-adamw/b4-s2048 measured 34402644816 bytes."""
    r = run(["train", "Llama-3.2-1B", "--batch", "4", "--seq-len", "2048", "--precision", "bf16", "--json"])
    o = json.loads(r.stdout)
    assert abs(o["peak_bytes"] - 34402644816) / 34402644816 < 0.01


def test_infer_gpu_fit_and_vllm():
    r = run(["infer", "Llama-3.1-8B", "--batch", "8", "--context", "4096", "--new-tokens", "256", "--gpu", "H100",
             "--json"])
    o = json.loads(r.stdout)
    assert o["device"]["fits"] is True and o["device"]["headroom_bytes"] > 0
    r = run(["infer", "Llama-3.1-8B", "--runtime", "vllm", "--gpu", "H100", "--json"])
    o = json.loads(r.stdout)
    assert o["device"]["kv_cache_tokens"] > 300_000


def test_tables_render():
    r = run(["train", "gpt2", "--lora-r", "8", "--lora-targets", "c_attn", "--gpu", "24GiB"])
    assert r.returncode == 0, r.stderr
    assert "Live at the peak" in r.stdout and "fits" in r.stdout
    r = run(["infer", "Qwen2.5-0.5B", "--forward", "--batch", "2", "--context", "512", "--units", "si"])
    assert r.returncode == 0 and "GB" in r.stdout


def test_lora_targets_trailing_comma_is_dropped():
    a = run(["train", "gpt2", "--lora-r", "8", "--lora-targets", "c_attn,", "--json"])
    assert a.returncode == 0, a.stderr
    b = run(["train", "gpt2", "--lora-r", "8", "--lora-targets", "c_attn", "--json"])
    assert json.loads(a.stdout)["peak_bytes"] == json.loads(b.stdout)["peak_bytes"]
    assert json.loads(a.stdout)["workload"]["lora"]["target_modules"] == ["c_attn"]


def test_infer_generate_default_new_tokens_is_256():
    o = json.loads(run(["infer", "gpt2", "--json"]).stdout)
    assert o["workload"]["new_tokens"] == 256


@pytest.mark.parametrize("args, needle", [
    (["train", "gpt2", "--batch", "0"], "--batch"),
    (["train", "gpt2", "--optimizer", "adamz"], "--optimizer"),
    (["train", "gpt2", "--lora-r", "8", "--lora-targets", "q_proj"], "LoRA target"),
    (["train", "gpt2", "--lora-alpha", "8"], "--lora-r"),
    (["train", "gpt2", "--lora-targets", "c_attn"], "--lora-targets needs --lora-r"),
    (["infer", "gpt2", "--forward", "--new-tokens", "512"], "--new-tokens"),
    (["infer", "gpt2", "--forward", "--kv-dtype", "fp8"], "--kv-cache-dtype"),
    (["infer", "gpt2", "--context", "-3"], "--context"),
    (["infer", "gpt2", "--runtime", "vllm"], "--gpu"),
    (["infer", "gpt2", "--gpu", "NoSuchGPU-9000"], "GPU"),
])
def test_bad_flags_one_line_exit_2(args, needle):
    r = run(args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
