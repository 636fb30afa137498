"""Helpers for tests of the repo's scripts/ and bench/ files: load one as a module, or render a generator's
output in a fresh process to check it is current."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(rel: str) -> ModuleType:
    """The repo file `rel` (e.g. "scripts/fit_speed.py", "bench/bench_web.py") imported as a module, in this
    process."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(Path(rel).stem, ROOT / rel)
    assert spec is not None and spec.loader is not None, rel
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
