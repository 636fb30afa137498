"""Exact parameter counts: every preset equals PyTorch's own count (tests/data/param_counts.json,
measured by scripts/measure_params.py with transformers under FakeTensorMode)."""
from __future__ import annotations

import json

import pytest

from llmsize.api import load, params_report
from llmsize.catalog.presets import presets
from llmsize.params import approximations, count
from tests.conftest import DATA

TRUTH = json.loads((DATA / "param_counts.json").read_text())
MODELS = TRUTH["models"]


def test_every_preset_has_a_measured_count():
    assert {p.name for p in presets()} <= set(MODELS)
    assert len(presets()) >= 40


@pytest.mark.parametrize("name", sorted(MODELS))
def test_preset_equals_pytorch_exactly(name):
    m = MODELS[name]
    pc = count(load(name).spec)
    assert pc.total == m["params"], (name, pc.total - m["params"])
    assert pc.buffers == m.get("buffers_persistent", 0)
    assert pc.vision == m["components"].get("vision", 0)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_per_layer_counts_match(name):
    m = MODELS[name]
    ours = {(k.params, k.layers) for k in count(load(name).spec).layer_kinds}
    theirs = {(k["params_per_layer"], tuple(k["layers"])) for k in m["layer_kinds"]}
    # our kinds may split layers further (sliding vs full share a shape): compare per layer
    per_layer_ours = {i: p for p, ix in ours for i in ix}
    per_layer_theirs = {i: p for p, ix in theirs for i in ix}
    assert per_layer_ours == per_layer_theirs


ANCHORS = {  # published numbers that must come out exactly (issue 3)
    "gpt2": 124_439_808, "Llama-2-7b-hf": 6_738_415_616, "Llama-3.1-8B": 8_030_261_248,
    "Llama-3.1-405B": 405_853_388_800, "Mistral-7B-v0.1": 7_241_732_096, "Mixtral-8x7B-v0.1": 46_702_792_704,
    "Qwen2.5-7B": 7_615_616_512, "gemma-2-9b": 9_241_705_984, "DeepSeek-V3": 671_026_404_352,
    "Qwen3-0.6B": 596_049_920,
    # the checkpoint's safetensors total, listed beside the config.json it was read from (see the preset's source)
    "Qwen2.5-72B-Instruct": 72_706_203_648,
}


@pytest.mark.parametrize("name, expected", sorted(ANCHORS.items()))
def test_published_anchors(name, expected):
    assert count(load(name).spec).total == expected


RECONSTRUCTED_ANCHORS = {  # presets rebuilt from a sibling file + published shapes: the published total checks them
    "bloom": 176_247_271_424,  # bigscience/bloom model card: "176,247,271,424 parameters"
    "gpt-neox-20b": 20_554_567_680,  # EleutherAI/gpt-neox-20b model card
    "SmolLM3-3B": 3_075_098_624,  # the checkpoint's count, asserted by a public test of the real weights
    "stablelm-3b-4e1t": 2_795_443_200,  # StableLM-3B-4E1T model card, 'Parameters'
    "Qwen/QwQ-32B": 32_763_876_352,  # alias of Qwen2.5-32B: a report's total of QwQ-32B's safetensors
}


@pytest.mark.parametrize("name, expected", sorted(RECONSTRUCTED_ANCHORS.items()))
def test_reconstructed_presets_equal_their_published_totals(name, expected):
    assert count(load(name).spec).total == expected


@pytest.mark.parametrize("name, non_embedding", [("pythia-410m", 302_311_424), ("pythia-1b", 805_736_448),
                                                 ("pythia-1.4b", 1_208_602_624), ("pythia-2.8b", 2_517_652_480)])
def test_pythia_non_embedding_counts_equal_the_model_card(name, non_embedding):
    """Pythia model card table, 'Non-Embedding Params' (untied input and output embeddings)."""
    s = load(name).spec
    assert count(s).total - 2 * s.vocab_size * s.hidden_size == non_embedding


@pytest.mark.parametrize("name, non_embedding", [("gemma-2b", 1_981_884_416), ("gemma-7b", 7_751_248_896)])
def test_gemma_non_embedding_counts_equal_the_gemma_report(name, non_embedding):
    """Gemma report (arXiv:2403.08295) Table 2: non-embedding parameters (embeddings are tied)."""
    s = load(name).spec
    assert count(s).total - s.vocab_size * s.hidden_size == non_embedding


def test_deepseek_v3_reports_router_bias_buffers_beside_params():
    rep = params_report(load("DeepSeek-V3"))
    assert rep["total_params"] == 671_026_404_352
    assert rep["buffers"] == 14_848
    assert rep["total_with_buffers"] == 671_026_419_200  # the commonly published figure
    assert any("multi-token-prediction" in n for n in rep["notes"])


def test_moe_active_params_of_known_models():
    assert count(load("Mixtral-8x7B-v0.1").spec).active == 12_879_925_248
    assert count(load("DeepSeek-V3").spec).active == 37_552_282_624


def test_terms_sum_to_total_and_carry_formula_and_source():
    for p in presets():
        rep = params_report(load(p.name))
        assert sum(t["params"] for t in rep["terms"]) == rep["total_params"], p.name
        for t in rep["terms"]:
            assert t["formula"] and t["source"] in rep["citations"]


def test_rules_of_thumb_are_shown_with_their_error():
    spec = load("Llama-3.1-8B").spec
    rules = {a.name: a for a in approximations(spec)}
    assert rules["12·L·d² + V·d"].value == 12 * 32 * 4096**2 + 128256 * 4096
    assert rules["12·L·d² + V·d"].error == pytest.approx((6_967_787_520 - 8_030_261_248) / 8_030_261_248)


def test_preset_names_match_case_insensitively_with_did_you_mean():
    assert load("llama-3.1-8b").spec.name == "Llama-3.1-8B"
    assert load("meta-llama/Llama-3.1-8B").spec.name == "Llama-3.1-8B"
    from llmsize.errors import LlmsizeError

    with pytest.raises(LlmsizeError, match="did you mean 'Llama-3.1-8B'"):
        load("llama-3.1-8")


FAMILY_COUNTS = json.loads((DATA / "param_counts_families.json").read_text())


@pytest.mark.parametrize("name", sorted(FAMILY_COUNTS["models"]))
def test_family_configs_equal_pytorch_per_layer(name):
    """A small config of each family added in issue 14, counted by PyTorch (scripts/gen_family_truth.py
    --params-out, transformers 5.23.0): the total and every decoder layer exactly."""
    from llmsize.adapters.hf_config import spec_from_config

    m = FAMILY_COUNTS["models"][name]
    pc = count(spec_from_config(m["config"], name))
    assert pc.total == m["params"]
    per = {i: k.params for k in pc.layer_kinds for i in k.layers}
    assert [per[i] for i in range(len(m["layer_params"]))] == m["layer_params"]


PUBLISHED_REPO_IDS = {  # repo ids that published training/serving benchmarks name -> the preset they load offline
    "bigscience/bloom": "bloom", "tiiuae/falcon-180B": "falcon-180B", "EleutherAI/gpt-neox-20b": "gpt-neox-20b",
    "facebook/opt-175b": "opt-175b", "facebook/opt-66b": "opt-66b", "facebook/opt-30b": "opt-30b",
    "facebook/opt-13b": "opt-13b", "microsoft/phi-2": "phi-2", "mosaicml/mpt-7b": "mpt-7b",
    "mosaicml/mpt-30b": "mpt-30b", "bigcode/starcoder": "starcoder", "bigcode/starcoderbase": "starcoder",
    "01-ai/Yi-34B": "Yi-34B", "deepseek-ai/deepseek-llm-67b-base": "deepseek-llm-67b-base",
    "deepseek-ai/deepseek-llm-7b-base": "deepseek-llm-7b-base", "HuggingFaceTB/SmolLM3-3B": "SmolLM3-3B",
    "mistralai/Mistral-Small-24B-Instruct-2501": "Mistral-Small-24B-Instruct-2501",
    "microsoft/Phi-3.5-MoE-instruct": "Phi-3.5-MoE-instruct", "moonshotai/Kimi-K2-Instruct": "Kimi-K2-Instruct",
    "stabilityai/stablelm-3b-4e1t": "stablelm-3b-4e1t", "EleutherAI/pythia-410m": "pythia-410m",
    "EleutherAI/pythia-1b": "pythia-1b", "EleutherAI/pythia-1.4b": "pythia-1.4b", "EleutherAI/pythia-2.8b": "pythia-2.8b",
    "Qwen/QwQ-32B": "Qwen2.5-32B", "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": "Llama-3.3-70B-Instruct",
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": "Llama-3.1-8B", "lmsys/vicuna-7b-v1.5": "Llama-2-7b-hf",
    "mistralai/Mistral-7B-Instruct-v0.2": "Mistral-7B-Instruct-v0.2",
}


@pytest.mark.parametrize("repo, preset", sorted(PUBLISHED_REPO_IDS.items()))
def test_published_repo_ids_resolve_to_presets_offline(repo, preset):
    loaded = load(repo)
    assert loaded.origin == "preset" and loaded.spec.name == preset
