"""`llmsize speed` prints labelled values with units: no raw dicts, no None, no scientific notation for
times and rates."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from llmsize.cli.speed_view import fmt_duration, fmt_rate


def cli(*args: str) -> str:
    r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("args", [["Llama-3.1-8B", "--gpu", "H100"],
                                  ["Llama-3.1-8B", "--gpu", "H100", "--train", "--tokens", "1e12", "--gpus", "8"]])
def test_speed_output_is_for_people(args):
    out = cli("speed", *args)
    assert "{'" not in out and "None" not in out
    body = [ln for ln in out.splitlines() if ln.startswith("  ")]
    assert body and all(":" in ln for ln in body)
    assert not re.search(r"\d\.\d+e[+-]?\d+ (tokens|ms|s|days)", out)


@pytest.mark.parametrize("s, text", [(0.0353, "35.3 ms"), (2.07, "2.07 s"), (300, "5 min"), (7200 * 2, "4 h"),
                                     (193 * 86400, "193 days"), (4.8 * 365.25 * 86400, "4.8 years")])
def test_durations_read_as_people_say_them(s, text):
    assert fmt_duration(s) == text


def test_rates():
    assert fmt_rate(60017.4) == "60,017" and fmt_rate(125.4) == "125" and fmt_rate(0.1234) == "0.123"
