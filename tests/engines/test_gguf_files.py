"""A GGUF file drives llama.cpp's view the same as the preset it was written from: the mapped span from the
file's offsets, -ngl from the fit in `export llamacpp --gpu` and `fit --find ngl`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.adapters.hf_config import spec_from_config
from llmsize.engines.llamacpp import LlamaParams, model_buffers, weights_from_file, weights_from_preset
from llmsize.export.parse import parse_llamacpp

from tests.adapters.test_gguf import TINY, write_gguf

pytest.importorskip("gguf")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("ftype", ["Q4_K_M", "Q8_0"])
def test_file_and_preset_give_the_same_buffers(tmp_path, ftype):
    spec = spec_from_config(TINY, "tiny")
    path = tmp_path / f"tiny-{ftype}.gguf"
    write_gguf(path, spec, ftype)
    f = weights_from_file(str(path))
    assert [(t.name, t.type) for t in f] == [(t.name, t.type) for t in weights_from_preset(spec, ftype)]
    for p in (LlamaParams(), LlamaParams(mmap=False), LlamaParams(repack=False)):
        assert model_buffers(f, spec.num_layers, p) == model_buffers(weights_from_preset(spec, ftype), spec.num_layers, p)


def test_export_llamacpp_fits_ngl_from_the_file(tmp_path):
    spec = spec_from_config(TINY, "tiny")
    path = tmp_path / "tiny.gguf"
    write_gguf(path, spec, "Q4_K_M")
    r = run("export", "llamacpp", str(path), "--gpu", "RTX-4090", "--max-model-len", "1024", "--max-num-seqs", "2")
    assert r.returncode == 0, r.stderr
    got = parse_llamacpp(r.stdout.strip())
    assert got["ngl"] == spec.num_layers + 1 and got["c"] == 2048 and "-ngl 5 of 5" in r.stderr
    fit = run("fit", str(path), "--gpu", "RTX-4090", "--find", "ngl", "--json")
    assert fit.returncode == 0, fit.stderr
    assert json.loads(fit.stdout)["ngl"] == 5
