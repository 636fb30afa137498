"""docs/cli.md is generated from --help and must be current.

Rendered in a fresh process: click caches each command's help option on first use, so a test that
invoked a command on its own earlier in this process would change how its --help renders here."""
from __future__ import annotations

from pathlib import Path

from script_render import render_script

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current():
    assert (ROOT / "docs" / "cli.md").read_text() == render_script(ROOT / "scripts" / "gen_cli_docs.py"), \
        "docs/cli.md is stale: run python scripts/gen_cli_docs.py"
