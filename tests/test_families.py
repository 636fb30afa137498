"""Families as data: the formulas decide nothing by model-type name (only llmsize.families and the
config adapters know the names), every family module's readers have traits, and an unknown type is
refused with the list of known ones."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmsize import families
from llmsize.adapters.hf_config import spec_from_config
from llmsize.errors import LlmsizeError

SRC = Path(families.__file__).resolve().parents[1]
# a decision on the name: comparison, membership, or a lookup keyed by it
DECISION = re.compile(r"model_type\s*(==|!=|\bin\b|\bnot in\b)|(\bin|==|!=)\s*[\w.]*model_type\b|"
                      r"\[[^\]\n]*model_type[^\]\n]*\]|\.get\([^)\n]*model_type")


def test_no_model_type_decision_outside_families_and_adapters():
    hits = []
    for f in SRC.rglob("*.py"):
        rel = f.relative_to(SRC).as_posix()
        if rel.startswith(("families/", "adapters/")) or rel == "trace.py":  # trace only prints the name
            continue
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if DECISION.search(line) and "emit_json" not in line and '"model_type":' not in line:
                hits.append(f"{rel}:{n}: {line.strip()}")
    assert hits == []


def test_at_least_the_types_measured_are_known():
    assert len(families.known_types()) >= 43
    assert set(families.READERS) == set(families.TRAITS)


@pytest.mark.parametrize("mt", ["electra", "rwkv", "bart", "xlnet"])
def test_unknown_types_are_refused_with_the_known_list(mt):
    with pytest.raises(LlmsizeError, match=f"'{mt}' is not one llmsize knows.*llama.*--assume"):
        spec_from_config({"model_type": mt, "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10,
                          "num_attention_heads": 4, "intermediate_size": 8})
