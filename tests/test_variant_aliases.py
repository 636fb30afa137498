"""Variant aliases: widely benchmarked checkpoints (instruct/chat/it, dated re-releases, R1 distills) whose
config.json has exactly a preset's shapes resolve to that preset offline, with and without the org prefix.
Each pair's evidence is the preset's note in src/llmsize/catalog/models/index.toml."""
from __future__ import annotations

import re

import pytest

from llmsize.catalog.presets import find_preset, presets
from llmsize.errors import LlmsizeError
from llmsize.load import load

VARIANTS = {  # alias -> preset it resolves to
    "meta-llama/Llama-3.2-1B-Instruct": "Llama-3.2-1B", "meta-llama/Llama-3.2-3B-Instruct": "Llama-3.2-3B",
    "Qwen/Qwen2.5-0.5B-Instruct": "Qwen2.5-0.5B", "Qwen/Qwen2.5-3B-Instruct": "Qwen2.5-3B",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": "Qwen2.5-7B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B": "Qwen2.5-14B",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B": "Qwen2.5-32B",
    "Qwen/Qwen3-30B-A3B-Thinking-2507": "Qwen3-30B-A3B", "Qwen/Qwen3-235B-A22B-Instruct-2507": "Qwen3-235B-A22B",
    "google/gemma-2-2b-it": "gemma-2-2b", "google/gemma-2-9b-it": "gemma-2-9b",
    "google/gemma-3-1b-it": "gemma-3-1b-pt", "google/gemma-3-12b-it": "gemma-3-12b-pt",
    "google/gemma-3-27b-it": "gemma-3-27b-pt", "tiiuae/falcon-7b-instruct": "falcon-7b",
    "Qwen/Qwen2.5-14B-Instruct": "Qwen2.5-14B", "microsoft/Phi-3-mini-128k-instruct": "Phi-3.5-mini-instruct",
}
PAIRS = sorted({**VARIANTS, **{k.split("/", 1)[1]: v for k, v in VARIANTS.items()}}.items())


@pytest.mark.parametrize("alias, preset", PAIRS)
def test_variant_resolves_offline_to_its_preset(alias, preset, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = load(alias)
    assert loaded.origin == "preset" and loaded.spec.name == preset


@pytest.mark.parametrize("alias, preset", PAIRS)
def test_each_variant_alias_is_listed_and_named_in_the_note(alias, preset):
    p = find_preset(preset)
    assert p is not None and alias in p.aliases
    assert alias.split("/")[-1] in p.note  # the note says which variant and what was read


def _key(name: str) -> str:  # the lookup's own normalisation (presets._key)
    return re.sub(r"[^a-z0-9.]", "", name.lower())


def test_no_name_or_alias_points_at_two_presets():
    owner: dict[str, str] = {}
    for p in presets():
        for n in {p.name, p.repo, *p.aliases} - {""}:
            for k in {n.lower(), _key(n)}:
                assert owner.setdefault(k, p.name) == p.name, f"{n!r}: {owner[k]} and {p.name}"


@pytest.mark.parametrize("name", ["codellama/CodeLlama-7b-Python-hf", "CodeLlama-7b-Python-hf"])
def test_a_different_vocabulary_is_not_an_alias(name, monkeypatch):
    """CodeLlama-7b-Python-hf has vocab_size 32000, CodeLlama-7b-hf 32016: not the same parameters."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert find_preset(name) is None
    with pytest.raises(LlmsizeError):
        load(name)
