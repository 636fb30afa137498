"""CLI contract: no heavy imports, one-line errors with exit 2, --json shape."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.cli import main


def run(args, stdin=None):
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, input=stdin, timeout=60)


def test_importing_the_cli_loads_no_heavy_packages():
    code = ("import sys; import llmsize.cli, llmsize.cli.params, llmsize.api; "
            "from llmsize.cli import main\n"
            "try:\n main(['params', 'gpt2', '--json'])\nexcept SystemExit: pass\n"
            "bad = [m for m in ('torch', 'numpy', 'transformers', 'fastapi', 'rich') if m in sys.modules]\n"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_params_json_shape():
    r = run(["params", "--hidden", "768", "--layers", "12", "--heads", "12", "--vocab", "50257", "--json"])
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert {"model", "total_params", "active_params", "terms"} <= set(obj)
    assert all({"name", "params", "formula", "source"} <= set(t) for t in obj["terms"])
    assert sum(t["params"] for t in obj["terms"]) == obj["total_params"]


@pytest.mark.parametrize("args, stdin, needle", [
    (["params", "-"], "{not json", "not valid JSON"),
    (["params", "-"], '{"model_type": "llama", "hidden_size": 64}', "lacks"),
    (["params", "-"], '{"model_type": "bert", "hidden_size": 64}', "unsupported model_type"),
    (["params", "-"], '{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, '
                      '"num_attention_heads": 6, "intermediate_size": 8}', "must divide"),
    (["params", "-"], '{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, '
                      '"num_attention_heads": 8, "num_key_value_heads": 3, "intermediate_size": 8}', "must divide"),
    (["params", "-"], '{"model_type": "llama", "hidden_size": 0, "num_hidden_layers": 2, "vocab_size": 10, '
                      '"num_attention_heads": 8, "intermediate_size": 8, "head_dim": 8}', "positive"),
    (["params", "--layers", "-1"], None, "--layers"),
    (["params", "/no/such/config.json"], None, "no such file"),
    (["params", "--hidden", "64"], None, "missing"),
])
def test_bad_input_is_one_line_exit_2(args, stdin, needle):
    r = run(args, stdin)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and needle in lines[0], r.stderr


def test_generic_config_warns_on_stderr(capsys):
    cfg = ('{"model_type": "mystery", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, '
           '"num_attention_heads": 8, "intermediate_size": 8}')
    r = run(["params", "-", "--json"], cfg)
    assert r.returncode == 0
    assert "assumed a Llama-style decoder" in r.stderr
    assert json.loads(r.stdout)["total_params"] > 0


def test_main_exits_zero_on_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "params" in capsys.readouterr().out
