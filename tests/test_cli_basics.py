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
    (["params", "-"], '{"model_type": "electra", "hidden_size": 64}', "is not one llmsize knows"),
    (["params", "-", "--assume", "lama"], '{"model_type": "electra", "hidden_size": 64}', "did you mean"),
    (["params", "--hidden", "64", "--layers", "2", "--heads", "8", "--vocab", "10", "--assume", "llama"], None,
     "--assume needs a MODEL"),
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


UNKNOWN = ('{"model_type": "xlnet", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10, '
              '"num_attention_heads": 8, "intermediate_size": 8}')


def test_unknown_model_type_is_an_error_listing_the_known_ones():
    r = run(["params", "-"], UNKNOWN)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "'xlnet' is not one llmsize knows" in r.stderr and "llama" in r.stderr and "--assume" in r.stderr
    r = run(["train", "-", "--seq-len", "64"], '{"model_type": "electra", "hidden_size": 64, "num_hidden_layers": 2, '
            '"vocab_size": 10, "num_attention_heads": 8, "intermediate_size": 8}')
    assert r.returncode == 2 and "'electra' is not one llmsize knows" in r.stderr


def test_assume_reads_an_unknown_type_and_says_so_in_every_output():
    r = run(["params", "-", "--json", "--assume", "llama"], UNKNOWN)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["model_type"] == "xlnet" and obj["assumed_family"] == "llama"
    assert any("--assume llama" in n for n in obj["notes"]) and "--assume llama" in r.stderr
    r = run(["params", "-", "--assume", "llama"], UNKNOWN)
    assert "read as llama (--assume)" in r.stdout and "--assume llama" in r.stderr
    r = run(["params", "-", "--assume", "llama"], UNKNOWN.replace("xlnet", "llama"))
    assert r.returncode == 2 and "drop --assume" in r.stderr


def test_main_exits_zero_on_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "params" in capsys.readouterr().out


@pytest.mark.parametrize("cfg, needle", [
    ('"layer_types": 5', "layer_types must be a list"),
    ('"mlp_only_layers": 5, "model_type": "qwen3_moe", "num_experts": 4, "num_experts_per_tok": 2, '
     '"moe_intermediate_size": 8', "mlp_only_layers must be a list"),
    ('"rotary_pct": "x", "model_type": "gpt_neox"', "'rotary_pct' must be a number"),
    ('"moe_layer_freq": 0, "model_type": "deepseek_v3", "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, '
     '"kv_lora_rank": 8, "v_head_dim": 8, "n_routed_experts": 4, "num_experts_per_tok": 2, '
     '"moe_intermediate_size": 8', "moe_layer_freq must be at least 1"),
])
def test_malformed_config_values_are_one_line_errors(cfg, needle):
    base = ('{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, '
            '"intermediate_size": 8, "vocab_size": 10, ')
    r = run(["params", "-"], base + cfg + "}")
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_user_text_in_a_name_is_not_rich_markup():
    r = run(["params", "--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--name", "[/x]"])
    assert r.returncode == 0, r.stderr
    assert "[/x]" in r.stdout


def test_knobs_on_a_loaded_model_change_what_they_name_or_refuse():
    from llmsize.errors import LlmsizeError
    from llmsize.load import apply_knobs, load
    from llmsize.params import count

    mix = load("Mixtral-8x7B-v0.1").spec
    with pytest.raises(LlmsizeError, match="--expert-ffn"):
        apply_knobs(mix, ffn=1000)
    assert count(apply_knobs(mix, expert_ffn=1000)).total < count(mix).total
    ds = load("DeepSeek-V3").spec
    assert apply_knobs(ds, heads=64).attention.head_dim == ds.attention.head_dim  # MLA keeps nope + rope
    qwen3 = load("Qwen3-0.6B").spec  # explicit head_dim 128 with hidden 1024 and 16 heads
    assert apply_knobs(qwen3, heads=8).attention.head_dim == 128
    llama = load("Llama-3.1-8B").spec  # head_dim = hidden / heads: follows a new width
    assert apply_knobs(llama, hidden=2048).attention.head_dim == 64
    with pytest.raises(LlmsizeError, match="no mixture-of-experts"):
        apply_knobs(llama, experts=8)
