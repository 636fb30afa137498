"""Gradient accumulation: later micro-batches add into the existing .grad in place, so gradients
never exceed one full set, and accumulating costs at most the first micro-batch's working set more."""
from __future__ import annotations

import pytest

from llmsize.api import load
from llmsize.memory import Workload, estimate


@pytest.mark.parametrize("name", ["Llama-3.2-1B", "gpt2", "Qwen3-0.6B"])
@pytest.mark.parametrize("gc", [False, True])
def test_accumulated_gradients_never_exceed_one_set(name, gc):
    spec = load(name).spec
    one = estimate(spec, Workload(mode="train", batch=2, seq_len=512, grad_checkpointing=gc, optimizer="sgd"))
    for ga in (2, 4):
        acc = estimate(spec, Workload(mode="train", batch=2, seq_len=512, grad_checkpointing=gc, optimizer="sgd",
                                      grad_accumulation=ga))
        grads = sum(t.bytes for t in acc.terms if t.category == "gradients")
        assert grads <= one.trainable_params * 2  # bf16: one gradient per trainable parameter
        # the extra over a single micro-batch is the full gradient set held through forward/backward,
        # never more than one more set of gradients
        assert one.peak_bytes <= acc.peak_bytes <= one.peak_bytes + one.trainable_params * 2


def test_accumulation_steps_do_not_change_the_peak_beyond_two():
    spec = load("Llama-3.2-1B").spec
    peaks = {ga: estimate(spec, Workload(mode="train", batch=1, seq_len=1024, grad_accumulation=ga)).peak_bytes
             for ga in (2, 3, 16)}
    assert len(set(peaks.values())) == 1
