"""Output people read (issue #13 item 5): money and time rounded as people say them, and every command's
text output fits an 80-column terminal without cutting a header or a number short."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from rich.console import Console

from llmsize.cli import cli
from llmsize.cli.present import (fmt_bytes, fmt_days, fmt_duration, fmt_flops, fmt_money, fmt_size, layout_label,
                                 table)


@pytest.mark.parametrize("usd, text", [
    (0.79, "$0.79"), (0.7900, "$0.79"), (5.956, "$5.96"), (99.994, "$99.99"), (100.4, "$100"), (1234.5, "$1,234"),
    (15606.2, "$15,606"), (999_999, "$999,999"), (1_234_567, "$1.2M"), (15_600_000, "$15.6M"),
    (3.4e9, "$3.4B"), (0.0042, "$0.0042"), (0, "$0"), (None, "-"), (-12.5, "-$12.50")])
def test_money(usd, text):
    assert fmt_money(usd) == text


@pytest.mark.parametrize("s, text", [
    (0.0353, "35.3 ms"), (0.011, "11 ms"), (2.07, "2.07 s"), (300, "5 min"), (5400, "90 min"), (4 * 3600, "4 h"),
    (2 * 86400, "48 h"), (121 * 86400, "121 days"), (4.2 * 365.25 * 86400, "4.2 years"), (None, "-")])
def test_durations(s, text):
    assert fmt_duration(s) == text


def test_days_and_sizes_and_flops():
    assert fmt_days(0.18) == "4.32 h" and fmt_days(193.0) == "193 days" and fmt_days(None) == "-"
    assert fmt_bytes(512) == "512 B" and fmt_bytes(16_316_908_032) == "15.20 GiB" and fmt_bytes(2_000, "si") == "2.00 kB"
    assert fmt_bytes(2**50 * 1500) == "1,500.00 PiB"
    assert fmt_size(17.78 * 2**30) == "17.8 GiB" and fmt_size(131.4 * 2**30) == "131 GiB" and fmt_size(9.52 * 2**30) \
        == "9.52 GiB"
    assert fmt_flops(5.88e21) == "5.88 × 10²¹" and fmt_flops(2.5e12) == "2.50T"


def test_layouts_name_replicas_not_dp1():
    assert layout_label("DP1") == "1 GPU"
    assert layout_label("TP2 DP1") == "TP2"
    assert layout_label("DP1", replicas=8) == "1 GPU ×8 replicas"
    assert layout_label("TP4 PP2 DP1", replicas=2) == "TP4 PP2 ×2 replicas"
    assert layout_label("DP8 ZeRO-3") == "DP8 ZeRO-3"


def _render(t, width: int) -> list[str]:
    c = Console(width=width, record=True, force_terminal=False)
    with c.capture() as cap:
        c.print(t)
    return cap.get().splitlines()


ROWS = [("weights (bf16)", "14.96 GiB", "98.4%", "P·2 (P = 8,030,261,248)", "rajbhandari2020"),
        ("working set: layer 31", "112.00 MiB", "0.7%",
         "this layer's input, residual, norm output, MLP intermediates (act, up, product 3·T·f·c) or attention "
         "scores, and its K,V appended (replayed)", "pytorch-autograd")]
COLS = ["term", ("bytes", "right"), ("share", "right"), "formula", "source"]


def test_wide_table_keeps_every_column():
    lines = _render(table("Live", COLS, ROWS), 160)
    assert "formula" in lines[2] and "source" in lines[2] and all(len(x) <= 160 for x in lines)


def test_narrow_table_moves_formulas_into_numbered_notes():
    lines = _render(table("Live", COLS, ROWS), 80)
    assert all(len(x) <= 80 for x in lines), lines
    assert "formula" not in "".join(lines[:4]) and "…" not in "".join(lines)
    assert any(x.startswith("[1] P·2 (P = 8,030,261,248) (source: rajbhandari2020)") for x in lines)
    assert any(x.startswith("[2] this layer's input") for x in lines)


def test_very_narrow_table_stacks_rows():
    lines = _render(table(None, ["GPU", ("memory", "right"), ("usable", "right"), ("$/GPU-h", "right")],
                          [("V100-SXM2-16GB", "16.00 GiB", "15.84 GiB", "$0.79"), ("T4", "16 GiB", "14 GiB", "$0.53")]),
                    30)
    assert [x.rstrip() for x in lines[:5]] == ["V100-SXM2-16GB", "   memory: 16.00 GiB;", "   usable: 15.84 GiB;",
                                               "   $/GPU-h: $0.79", "T4"]
    from llmsize.cli.present import _packed

    assert [str(t) for t in _packed(["a: 1", "b: 2", "c: 3"], 14)] == ["   a: 1; b: 2;", "   c: 3"]


def test_constant_columns_are_said_once_when_space_is_short():
    rows = [("H100-SXM", n, f"TP{n}", "bf16", f"{80 / n:.2f} GiB", f"{n * 100:,}", f"${n * 2.5:.2f}") for n in (1, 2, 4)]
    cols = ["GPU", ("GPUs", "right"), "layout", "precision", ("mem/GPU", "right"), ("tokens/s", "right"),
            ("$/1M out", "right")]
    lines = _render(table(None, cols, rows), 60)
    assert lines[0].startswith("in every row: ") and "precision bf16" in lines[0]
    assert all(len(x) <= 60 for x in lines) and not any("bf16" in x for x in lines[1:])


COMMANDS = [
    ["params", "Llama-3.2-1B"],
    ["infer", "Llama-3.1-8B", "--gpu", "H100"],
    ["train", "Llama-3.2-1B", "--seq-len", "2048"],
    ["fit", "Llama-3.1-70B", "--gpu", "H100"],
    ["plan", "Llama-3.1-8B", "--train", "--tokens", "1e12", "--gpu", "H100", "--top", "5"],
    ["plan", "Llama-3.1-8B", "--gpu", "H100", "--top", "5"],
    ["quant", "Llama-3.1-70B", "--gpu", "RTX4090", "--context", "8192"],
    ["speed", "Llama-3.1-8B", "--gpu", "H100"],
    ["cost", "Llama-3.1-8B", "--gpu", "H100"],
    ["cost", "Llama-3.1-8B", "--train", "--tokens", "1e12", "--gpu", "H100"],
    ["compare", "Llama-3.1-8B", "Llama-3.2-1B"],
    ["gpus"],
    ["models"],
    ["design", "--params", "1e9"],
    ["whatif", "attention", "Llama-3.2-1B"],
    ["scaling", "--compute", "1e23"],
    ["export", "deepspeed", "Llama-3.1-8B", "--gpu", "H100", "--gpus", "8"],
    ["export", "vllm", "Llama-3.1-70B", "--gpu", "H100", "--gpus", "8"],
    ["validate", "tests/data/calib.jsonl"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_reads_at_80_columns(args):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    args = [str(root / a) if a.startswith("tests/") else a for a in args]
    r = CliRunner().invoke(cli, args, env={"COLUMNS": "80"}, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    text = r.stdout + r.stderr  # stderr is wrapped only at a terminal (tests/test_present.py::test_notes_wrap)
    long = [x for x in r.stdout.splitlines() if len(x) > 80]
    assert not long, long
    assert "…" not in text, [x for x in text.splitlines() if "…" in x]
    assert "{'" not in r.stdout and "e+" not in r.stdout
    assert not re.search(r"\bDP1\b", text), text  # the export notes on stderr say layouts as the tables do


def test_notes_wrap_at_a_terminal_and_stay_whole_in_a_pipe(monkeypatch, capsys):
    from llmsize.cli import present

    msg = "export: planner's best deepspeed layout on 8 x H100-SXM: DP8 ZeRO-3, 26.8 GiB per GPU of 78.7 GiB"
    present.echo_err(msg)  # pytest's capture is not a terminal: one line, as a grep expects
    assert capsys.readouterr().err == msg + "\n"
    monkeypatch.setattr(present, "terminal_width", lambda: 80)
    present.echo_err(msg)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(len(x) <= 80 for x in lines) and lines[1].startswith("  ")
