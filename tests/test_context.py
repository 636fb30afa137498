"""Context limits: past max_position_embeddings (or what a config's rope_scaling reaches) is an exit-2
error naming the limit unless --allow-long-context; a learned position table is a hard limit."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from llmsize.context import check_context, context_limit
from llmsize.errors import LlmsizeError
from llmsize.load import load


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def test_llama_31_at_200k_names_131072():
    r = cli("infer", "Llama-3.1-8B", "--context", "200000")
    assert r.returncode == 2 and "131,072" in r.stderr and "--allow-long-context" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("infer", "Llama-3.1-8B", "--context", "200000", "--allow-long-context", "--json")
    assert r.returncode == 0 and "past Llama-3.1-8B's trained context" in r.stderr


@pytest.mark.parametrize("cmd", [["infer", "gpt2", "--context", "2048"], ["train", "gpt2", "--seq-len", "2048"],
                                 ["train", "gpt2", "--seq-len", "2048", "--allow-long-context"],
                                 ["quant", "opt-1.3b", "--context", "4096", "--allow-long-context"]])
def test_learned_position_tables_are_hard_limits(cmd):
    r = cli(*cmd)
    assert r.returncode == 2 and "learned position table" in r.stderr


def test_generation_counts_the_new_tokens():
    # 131,072 prompt tokens + 256 new = 131,327 positions
    r = cli("infer", "Llama-3.1-8B", "--context", "131072")
    assert r.returncode == 2 and "131,327 positions" in r.stderr
    assert cli("infer", "Llama-3.1-8B", "--context", "130817", "--json").returncode == 0


def test_default_context_fits_a_short_model():
    r = cli("infer", "gpt2", "--json")
    assert r.returncode == 0 and "--seq-len not given: 769" in r.stderr
    r = cli("train", "gpt2", "--json")
    assert r.returncode == 0 and "seq-len not given" not in r.stderr  # 1,024 fits exactly


def test_rope_scaling_extends_the_limit_and_is_shown():
    loaded = load("Qwen2.5-7B")
    cfg = {**loaded.config, "max_position_embeddings": 32768,
           "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}
    yarn = replace(loaded, spec=replace(loaded.spec, max_position_embeddings=32768), config=cfg)
    lim = context_limit(yarn.spec, yarn.config)
    assert lim.tokens == 131072 and "yarn x4 from 32,768" in lim.describe()
    assert check_context(yarn, 131072) is None
    with pytest.raises(LlmsizeError, match="yarn x4"):
        check_context(yarn, 131073)


def test_scaling_without_an_original_length_extends_nothing():
    # Gemma 3: linear x8 already inside max_position_embeddings
    g = load("gemma-3-4b-pt")
    assert context_limit(g.spec, g.config).tokens == g.spec.max_position_embeddings == 131072


def test_knob_models_without_a_table_are_unchecked():
    r = cli("infer", "--hidden", "256", "--layers", "2", "--heads", "4", "--vocab", "1000", "--context", "100000",
            "--json")
    assert r.returncode == 0
    r = cli("infer", "--hidden", "256", "--layers", "2", "--heads", "4", "--vocab", "1000", "--positions", "learned",
            "--max-positions", "512", "--context", "1000")
    assert r.returncode == 2 and "learned position table of 512" in r.stderr


@pytest.mark.parametrize("cmd", [
    ["plan", "Llama-3.1-8B", "--seq-len", "200000", "--gpu", "H100"],
    ["plan", "Llama-3.1-8B", "--train", "--seq-len", "200000", "--tokens", "1e9", "--gpu", "H100"],
    ["fit", "Llama-3.1-8B", "--gpu", "H100", "--prompt", "200000"],
    ["speed", "Llama-3.1-8B", "--gpu", "H100", "--train", "--seq", "200000", "--tokens", "1e9"],
    ["cost", "Llama-3.1-8B", "--seq-len", "131000", "--new-tokens", "512", "--gpu", "H100"],
    ["export", "vllm", "Llama-3.1-8B", "--max-model-len", "200000"],
    ["export", "deepspeed", "Llama-3.1-8B", "--gpu", "H100", "--gpus", "8", "--seq-len", "200000"],
    ["quant", "Llama-3.1-8B", "--seq-len", "200000"],
])
def test_every_command_refuses_past_the_limit(cmd):
    """plan/fit/speed/cost/export check the context too (item 3): exit 2 naming 131,072, one line; the
    serving check counts the new tokens (131,000 + 512 is past it)."""
    r = cli(*cmd)
    assert r.returncode == 2 and "131,072" in r.stderr and "--allow-long-context" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_allow_long_context_in_the_planner_and_export():
    r = cli("speed", "Llama-3.1-8B", "--gpu", "H100", "--seq-len", "200000", "--allow-long-context", "--json")
    assert r.returncode == 0 and "past Llama-3.1-8B's trained context of 131,072" in r.stderr
    r = cli("export", "vllm", "Llama-3.1-8B", "--max-model-len", "200000", "--allow-long-context")
    assert r.returncode == 0 and "--max-model-len 200000" in r.stdout
    r = cli("speed", "gpt2", "--gpu", "H100", "--seq-len", "2000", "--allow-long-context")
    assert r.returncode == 2 and "learned position table of 1,024" in r.stderr


def test_planner_default_prompt_fits_a_short_model():
    """gpt2 (1,024 positions): the serving prompt defaults to 1,024 - 255 so prompt + 256 new tokens fit."""
    r = cli("speed", "gpt2", "--gpu", "H100", "--json")
    assert r.returncode == 0 and "--seq-len not given: 769" in r.stderr
