"""A serving setup that cannot hold one request is refused with the smallest change that does."""
from __future__ import annotations

import subprocess
import sys


def _speed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmsize", "speed", *args], capture_output=True, text=True,
                          timeout=60)


def test_a_model_too_big_for_one_gpu_names_the_tensor_parallel_size_that_holds_it():
    # Llama-3.1-8B in fp16 is 16.06 GB of weights: more than a T4's usable memory, half of it fits
    out = _speed("Llama-3.1-8B", "--gpu", "T4", "--weights", "fp16")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "does not fit: T4 × 1" in out.stderr and "--tp 2 holds one request" in out.stderr
    ok = _speed("Llama-3.1-8B", "--gpu", "T4", "--weights", "fp16", "--tp", "2")
    assert ok.returncode == 0 and "2 × T4 (TP2)" in ok.stdout


def test_no_tensor_parallel_size_up_to_8_is_said_too():
    out = _speed("Llama-3.1-405B", "--gpu", "T4")
    assert out.returncode == 2 and "not even --tp 8 (or a smaller --weights format)" in out.stderr
