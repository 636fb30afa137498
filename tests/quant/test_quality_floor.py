"""The quality floor: quant recommends the best-quality format that fits at or above a bits-per-weight
floor that depends on model size, and warns (never silently recommends) below it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.catalog.hardware import parse_gpu
from llmsize.load import load
from llmsize.quant.planner import plan_quant
from llmsize.quant.quality import SMALL_MODEL, quality, quality_floor


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("params, bits", [(494_032_768, 6.0), (SMALL_MODEL - 1, 6.0), (SMALL_MODEL, 4.0),
                                          (70_553_706_496, 4.0)])
def test_floor_depends_on_size(params, bits):
    f = quality_floor(params)
    assert f.min_bits_per_weight == bits and f.reason and f.source


def test_70b_on_a_4090_warns_instead_of_recommending_2_bit():
    rep = plan_quant(load("Llama-3.1-70B").spec, gpu=parse_gpu("RTX-4090"), context=8192)
    assert rep.best is None
    assert rep.best_below_floor is not None and rep.best_below_floor.format == "IQ2_XXS"
    assert rep.best_below_floor.below_floor and rep.best_below_floor.body_bits < 4
    d = rep.as_dict()
    assert d["best"] is None and d["best_below_floor"] == "IQ2_XXS" and d["floor"]["min_bits_per_weight"] == 4.0
    r = cli("quant", "Llama-3.1-70B", "--gpu", "RTX-4090", "--context", "8192")
    assert r.returncode == 0 and "below the quality floor" in r.stdout and "Best that fits" not in r.stdout


def test_8b_on_a_4090_recommends_at_or_above_the_floor():
    rep = plan_quant(load("Llama-3.1-8B").spec, gpu=parse_gpu("RTX-4090"), context=8192)
    assert rep.best is not None and rep.best.body_bits >= 4.0 and rep.best_below_floor is None
    assert [r.format for r in rep.rows if r.below_floor] and all(r.body_bits < 4 for r in rep.rows
                                                                 if r.below_floor)


def test_small_model_floor_marks_4_bit_formats():
    rep = plan_quant(load("Qwen3-0.6B").spec, context=4096)
    by = {r.format: r for r in rep.rows}
    assert by["Q4_K_M"].below_floor and by["gptq-int4-g128"].below_floor
    assert not by["Q8_0"].below_floor and not by["Q6_K"].below_floor and not by["bf16"].below_floor


def test_quality_figures_carry_their_source():
    assert quality("gptq-int4-g128").value == -2.8 and quality("gptq-int4-g128").source == "qwen-quant-bench"
    assert quality("Q4_K_M").source == "llama-quantize-help"
    r = cli("quant", "Llama-3.1-8B", "--json")
    rows = {x["format"]: x for x in json.loads(r.stdout)["rows"]}
    assert rows["awq-int4-g128"]["quality"]["metric"] == "acc" and rows["IQ2_XXS"]["below_floor"] is True
