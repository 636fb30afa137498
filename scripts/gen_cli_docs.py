"""Write docs/cli.md from the commands' own --help (sqlite-utils style), so the docs cannot drift.

Run: python scripts/gen_cli_docs.py  (tests/test_cli_docs.py checks the file is current)
"""
from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

from llmsize.cli import cli

OUT = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def render() -> str:
    runner = CliRunner()
    parts = ["# llmsize command reference", "",
             "Generated from each command's `--help` by `scripts/gen_cli_docs.py`; do not edit by hand.", "",
             "One idea has one flag, one set of choices and one default in every command and in the JSON API "
             "(`--seq-len`, `--batch`, `--new-tokens`, `--kv-cache-dtype`, `--weights`, `--precision`, "
             "`--grad-checkpointing`, `--engine`, `--lora-r`, `--allow-long-context`): the table of ideas, "
             "the old spellings still accepted (hidden here) and the deliberate differences are in "
             "[vocabulary.md](vocabulary.md).", ""]
    names = cli.list_commands(None)  # type: ignore[arg-type]
    for name in [None, *names]:
        args = ["--help"] if name is None else [name, "--help"]
        res = runner.invoke(cli, args, prog_name="llmsize", terminal_width=100)
        assert res.exit_code == 0, res.output
        parts += [f"## llmsize {name}" if name else "## llmsize", "", "```", res.output.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}", file=sys.stderr)
