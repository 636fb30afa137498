"""A helper for tests that check a scripts/ generator's output is current."""
from __future__ import annotations

from pathlib import Path


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
