"""A GGUF file is sized by its own tensor bytes in `infer` (its format is the default)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from test_gguf import TINY, write_gguf  # the GGUF writer of the adapter tests


def infer_json(*args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "infer", *args, "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_gguf_file_is_sized_by_its_own_bytes(tmp_path):
    pytest.importorskip("gguf")
    from llmsize.adapters.gguf import read_gguf
    from llmsize.adapters.hf_config import spec_from_config

    p = tmp_path / "tiny-Q4_K_M.gguf"
    write_gguf(p, spec_from_config(TINY, "tiny"), "Q4_K_M")
    d = infer_json(str(p), "--runtime", "llamacpp")
    assert d["weights"]["origin"] == "GGUF header" and d["weights"]["format"] == "Q4_K_M"
    assert d["weights_bytes"] == read_gguf(p).bytes
