"""Hypothesis over every CLI command (issue 17): options drawn from each command's own click
parameters, values from hostile ranges (2^63, 1e-308, inf, nan, 5,000 digits, text where numbers go),
models from presets, crafted files and broken configs. Every run must end in exit 0 or exit 2 with one
line; exit 1 (an internal error) is a failure. Derandomized and smaller under CI=true."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import click
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from llmsize.cli import _LAZY, cli, main

CRAFTED = Path(__file__).parent / "data" / "crafted"
EXAMPLES = 40 if os.environ.get("CI") else 150
COMMANDS = sorted(n for n in _LAZY if n != "serve")
TINY = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 128, "vocab_size": 100}

_NUMBERS = ["0", "-1", "1", "2", "7", "64", "4096", "10000", "10001", "2147483648", str(2**63), "9" * 40, "9" * 5000,
            "1.5", "1e-308", "1e308", "inf", "-inf", "nan", "NaN", "-0", "0x10", "", " ", "banana", "1e3"]
_WORDS = ["H100", "A10G", "RTX 4090", "T4", "24GiB", "0GiB", "1e30TB", "bf16", "fp8", "int4", "Q4_K_M", "q8_0",
          "gptq-int4-g128", "awq-int4", "nf4", "7B", "70B", "-7B", "1e23", "banana", "all-linear", "q_proj,v_proj",
          "adamw", "sgd", "H100=2.5", "H100=-1", "H100=inf", "=", "a" * 300, "\x00", "ü", "~nouser/x", "-", "--"]
_MODELS = ["gpt2", "Qwen3-0.6B", "OLMoE-1B-7B-0924", "Llama-3.1-8B", "gpt-oss-20b", "DeepSeek-V3", "no-such-model",
           "a" * 256, "~nouser/x", "/dev/null", "-"] + [str(CRAFTED / n) for n in
                                                           ("gguf/valid_llama.gguf", "gguf/blocks_1e12.gguf",
                                                            "gguf/heads_zero_gptneox.gguf",
                                                            "safetensors/valid.safetensors",
                                                            "safetensors/duplicate_names.safetensors")]
_STDIN = [json.dumps(TINY), json.dumps({**TINY, "torch_dtype": ["x"]}), json.dumps({**TINY, "num_hidden_layers": 10**12}),
          "[" * 5000, '{"model_type": "llama", "hidden_size": NaN}', "", "{}", json.dumps({**TINY, "model_type": 3})]


def _options(name: str) -> list[click.Parameter]:
    ctx = click.Context(cli)
    cmd = cli.get_command(ctx, name)
    assert cmd is not None, name
    return [p for p in cmd.params if p.name not in ("help",)]


def _value(p: click.Parameter) -> st.SearchStrategy[str]:
    t = p.type
    if isinstance(t, click.Choice):
        return st.one_of(st.sampled_from([str(c) for c in t.choices]), st.sampled_from(_WORDS))
    if isinstance(t, (click.types.IntParamType, click.types.FloatParamType)):
        return st.one_of(st.sampled_from(_NUMBERS), st.integers(-3, 300).map(str), st.integers(0, 2**70).map(str),
                         st.floats(allow_nan=True, allow_infinity=True).map(repr))
    return st.one_of(st.sampled_from(_WORDS), st.sampled_from(_NUMBERS), st.text(max_size=12))


@st.composite
def argv(draw: st.DrawFn, name: str) -> tuple[list[str], str | None]:
    params = _options(name)
    args: list[str] = [name]
    stdin = None
    for p in params:
        if isinstance(p, click.Argument):
            n = 1 if p.nargs == 1 else draw(st.integers(1, 3))
            if p.name in ("model_ref", "models", "model", "path", "cases", "what") or "model" in (p.name or ""):
                vals = [draw(st.sampled_from(_MODELS)) for _ in range(n)]
            elif isinstance(p.type, click.Choice):
                vals = [draw(_value(p)) for _ in range(n)]
            else:
                vals = [draw(st.one_of(st.sampled_from(_MODELS), st.sampled_from(_WORDS))) for _ in range(n)]
            if p.required or draw(st.booleans()):
                args += vals
    opts = [p for p in params if isinstance(p, click.Option)]
    for p in draw(st.lists(st.sampled_from(opts), max_size=5, unique_by=lambda o: o.name)) if opts else []:
        flag = draw(st.sampled_from(p.opts + p.secondary_opts))
        if p.is_flag or p.count:
            args.append(flag)
        else:
            args += [flag, draw(_value(p))]
    if "-" in args:
        stdin = draw(st.sampled_from(_STDIN))
    return args, stdin


def run(args: list[str], stdin: str | None) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
                code = 0
            except SystemExit as e:
                code = int(e.code or 0) if not isinstance(e.code, str) else 1
    finally:
        sys.stdin = old
    return code, err.getvalue()


@pytest.mark.parametrize("name", COMMANDS)
def test_cli_fuzz(name):
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=argv(name))
    def check(case: tuple[list[str], str | None]) -> None:
        args, stdin = case
        code, err = run(args, stdin)
        event(f"{name}: exit {code}")
        assert code in (0, 2), (args, stdin and stdin[:80], err[-500:])
        if code == 2 and err.startswith("llmsize: error: "):
            assert err.count("\n") == 1, err  # one line, no traceback
        assert "Traceback" not in err, err

    check()
