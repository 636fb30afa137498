"""Shared fixtures: configs of the shared truth's models, inline, so tests stand alone."""
from __future__ import annotations

import json
from pathlib import Path

import os

import pytest
from hypothesis import settings

# CI runs the property tests derandomized (the same examples every run, still hundreds per test), so
# a submission's result does not depend on the draw; locally each run explores new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

DATA = Path(__file__).parent / "data"


def load_jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


def render_script(path: Path, as_json: bool = False) -> str:
    """`render()` of a scripts/ generator, run in a fresh process (click caches each command's help option
    on first use, so earlier tests in this process could change what it renders)."""
    import subprocess
    import sys

    out = "json.dumps(m.render())" if as_json else "m.render()"
    code = ("import importlib.util, json, sys; p = sys.argv[1]; s = importlib.util.spec_from_file_location('g', p); "
            f"m = importlib.util.module_from_spec(s); s.loader.exec_module(m); sys.stdout.write({out})")
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout
