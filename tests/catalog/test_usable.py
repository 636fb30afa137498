"""One definition of usable GPU memory: measured where published, else derived from measured GPUs with the
same memory, never the marketed size where a measured sibling exists."""
from __future__ import annotations

import statistics
from dataclasses import replace

import pytest

from llmsize.catalog.hardware import get_gpu, gpus
from llmsize.catalog.usable import derive_usable


def test_same_part_same_answer():
    assert get_gpu("A10G").usable == get_gpu("A10").usable == 23_609_475_072
    assert get_gpu("A10G").usable_origin == "as A10 (measured)"


def test_every_gpu_says_where_its_usable_memory_comes_from():
    for g in gpus():
        assert g.usable_origin, g.name
        assert g.usable <= g.memory_bytes
        if g.usable_origin.startswith("nominal"):
            assert g.memory_kind == "tpu", g.name  # only where no measured GPU of the kind exists


def test_derived_values_are_the_median_reserve_of_measured_peers():
    measured = [g for g in gpus() if g.usable_origin == "measured" and g.memory_kind == "hbm"]
    frac = statistics.median((g.memory_bytes - g.usable_bytes) / g.memory_bytes for g in measured)
    h200 = get_gpu("H200")
    assert h200.usable_origin.startswith("derived")
    assert h200.usable == h200.memory_bytes - round(h200.memory_bytes * frac)
    assert 0.005 < frac < 0.015  # HBM parts keep about 1% for the driver


def test_usable_like_must_name_a_measured_gpu_of_the_same_size():
    cat = tuple(replace(g, usable_bytes=None, usable_like="H100-SXM") if g.name == "A10G" else g for g in gpus())
    with pytest.raises(RuntimeError, match="usable_like"):
        derive_usable(cat)
