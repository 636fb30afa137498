"""docs/cli.md is generated from --help and must be current.

Rendered in a fresh process: click caches each command's help option on first use, so a test that
invoked a command on its own earlier in this process would change how its --help renders here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current():
    code = ("import importlib.util, sys; p = sys.argv[1]; s = importlib.util.spec_from_file_location('g', p); "
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); sys.stdout.write(m.render())")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "scripts" / "gen_cli_docs.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (ROOT / "docs" / "cli.md").read_text() == out.stdout, \
        "docs/cli.md is stale: run python scripts/gen_cli_docs.py"
