"""Issue 17's reproducers: every bad input is one line and exit 2 (never exit 1, a hang or gigabytes),
claimed sizes are bounded before work, --json is strict JSON, and the crafted-file corpus in
tests/data/crafted/ (scripts/gen_crafted.py) gives the exit status its manifest says."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmsize import bounds
from llmsize.cli import main
from llmsize.errors import LlmsizeError

ROOT = Path(__file__).resolve().parents[1]
CRAFTED = ROOT / "tests" / "data" / "crafted"
TINY = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 128, "vocab_size": 100}


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """`llmsize ARGS` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    try:
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e:
            main(list(args))
    finally:
        sys.stdin = old
    return int(e.value.code or 0), out.getvalue(), err.getvalue()


def refused(*args: str, stdin: str | None = None, says: str = "") -> str:
    code, _, err = run(*args, stdin=stdin)
    assert code == 2, (args, code, err)
    line = err.strip()
    assert line.startswith("llmsize: error: ") and "\n" not in line, line
    assert says in line, line
    return line


def run_limited(*args: str, mem_mb: int = 1024, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """`llmsize ARGS` in a subprocess capped at mem_mb of address space and `timeout` seconds, so a
    reproducer that regresses fails (exit 1 MemoryError or a timeout) instead of eating the machine."""
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (%d << 20, %d << 20)); "
            "from llmsize.cli import main; main()" % (mem_mb, mem_mb))
    env = {**os.environ, "PYTHONPATH": os.environ.get("RELI_SRC", str(ROOT / "src")) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


# -- claimed sizes drive no work ---------------------------------------------------------------------
@pytest.mark.parametrize("args, says", [
    (("params", "--hidden", "64", "--layers", "1000000000000", "--heads", "4", "--vocab", "100"), "--layers"),
    (("export", "llamacpp", "gpt2", "--pp", "2147483648"), "pp"),
    (("export", "llamacpp", "gpt2", "--tp", "3082", "--pp", "2361", "--cp", "271"), "TP x PP x DP x CP"),
    (("plan", "gpt-oss-20b", "--experts", "2147483648"), "--experts"),
    (("quant", "Qwen3-235B-A22B", "--layers", "4096"), "layer_experts"),
])
def test_claimed_sizes_are_bounded_before_work(args, says):
    p = run_limited(*args)
    assert p.returncode == 2, (p.returncode, p.stderr[-300:])
    assert says in p.stderr and "bound" in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_gguf_claiming_1e12_blocks_is_refused_cheaply():
    p = run_limited("params", str(CRAFTED / "gguf" / "blocks_1e12.gguf"), mem_mb=512)
    assert p.returncode == 2 and "block_count" in p.stderr, p.stderr
    p = run_limited("inspect", str(CRAFTED / "gguf" / "blocks_1e12.gguf"), "--json", mem_mb=512)
    assert p.returncode == 0, p.stderr
    assert "layers bound" in " ".join(json.loads(p.stdout)["notes"])


# -- one error path: malformed values are exit 2 --------------------------------------------------------
@pytest.mark.parametrize("change, says", [
    ({"torch_dtype": ["bfloat16"]}, "torch_dtype"),
    ({"torch_dtype": {"a": 1}}, "torch_dtype"),
    ({"model_type": ["llama"]}, "model_type"),
    ({"num_hidden_layers": 10**12}, "num_hidden_layers"),
    ({"num_hidden_layers": 1.5}, "num_hidden_layers"),
])
def test_config_values_of_the_wrong_kind(tmp_path, change, says):
    cfg = {**TINY, **{k: v for k, v in change.items() if v is not None}}
    for cmd in ("params", "infer", "quant", "plan"):
        refused(cmd, "-", stdin=json.dumps(cfg), says=says)


def test_config_without_model_type_is_one_line_exit_2_unless_assumed():
    cfg = {k: v for k, v in TINY.items() if k != "model_type"}
    code, out, err = run("params", "-", "--json", stdin=json.dumps(cfg))
    assert code == 2 and "--assume" in err and len(err.strip().splitlines()) == 1
    code, out, err = run("params", "-", "--json", "--assume", "llama", stdin=json.dumps(cfg))
    assert code == 0, err
    assert json.loads(out)["total_params"] > 0


@pytest.mark.parametrize("text, says", [
    ('{"model_type": "llama", "hidden_size": ' + "9" * 5000 + "}", "5,000 digits"),
    ("[" * 100_000 + "]" * 100_000, "nested"),
    ('{"model_type": "llama", "a": ' + "[" * 70 + "]" * 70 + "}", "nested more than 64"),
    ('{"model_type": "llama", "hidden_size": NaN}', "NaN"),
    ('{"model_type": "llama", "hidden_size": 1e999}', "overflows"),
])
def test_hostile_json(text, says):
    refused("params", "-", stdin=text, says=says)


def test_fuzz_finds_stay_fixed():
    """Found by the fuzz suites while this was built: an exit 1 (or API 500) each."""
    assert run("quant", "gpt-oss-20b", "--qlora", "--json")[0] == 0  # expert biases are 2-D, not 3-D
    refused("scaling", "--params", "17", "--tokens", "1", "--inference-tokens", "1", "--fit", "besiroglu2024",
            says="too small")


def test_names_that_are_not_paths():
    refused("params", "a" * 256, says="unknown model")
    refused("params", "~nouser/x", says="no such file")
    assert len(refused("params", "a" * 5000)) < 1200


def test_validate_refuses_empty_and_non_finite(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    refused("validate", str(empty), says="no cases")
    refused("validate", os.devnull, says="no cases")
    for bad, says in (('"batch": Infinity', "Infinity"), ('"batch": 1.5', "workload.batch"),
                      ('"batch": 100000000000', "batch bound"), ('"seq_len": "8"', "workload.seq_len")):
        f = tmp_path / "bad.jsonl"
        f.write_text('{"config": %s, "workload": {"mode": "forward", %s}}\n' % (json.dumps(TINY), bad))
        refused("validate", str(f), says=says)


def test_duplicate_safetensors_tensor_names():
    refused("inspect", str(CRAFTED / "safetensors" / "duplicate_names.safetensors"), says="appears twice")


# -- JSON is JSON ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("design", "--params", "7B", "--mfu", "1e-308"),
    ("whatif", "attention", "gpt2", "--mfu", "1e-308"),
    ("compare", "gpt2", "Qwen3-0.6B", "--mfu", "1e-308"),
    ("speed", "gpt2", "--train", "--gpu", "H100", "--mfu", "1e-308", "--tokens", "1e12"),
    ("cost", "gpt2", "--train", "--mfu", "1e-308", "--tokens", "1e12"),
])
def test_json_never_prints_infinity(args):
    code, out, err = run(*args, "--json")
    assert "Infinity" not in out and "NaN" not in out
    assert code == 2 and "outside what can be computed" in err, (code, err)


def test_finite_result_names_the_field():
    with pytest.raises(LlmsizeError, match=r"rows\[1\]\.usd is inf"):
        bounds.finite_result({"rows": [{"usd": 1.0}, {"usd": float("inf")}]})
    assert bounds.finite_result({"a": [1.0, 2]}) == {"a": [1.0, 2]}


def test_every_bound_is_documented():
    doc = (ROOT / "docs" / "reliability.md").read_text()
    for name, (value, _, _) in bounds.BOUNDS.items():
        assert f"`{name}`" in doc and f"{value:,}" in doc, name


# -- the crafted-file corpus ---------------------------------------------------------------------------
MANIFEST = json.loads((CRAFTED / "manifest.json").read_text())


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_crafted_file(name):
    want = MANIFEST[name]
    for cmd in ("inspect", "params"):
        code, _, err = run(cmd, str(CRAFTED / name))
        assert code == want[cmd], (name, want["why"], cmd, code, err)
        if code == 2:
            assert err.startswith("llmsize: error: ") and err.count("\n") == 1, err
