"""The MoE types of issue 14 added by helper 14e: phimoe (Phi-3.5-MoE), ernie4_5_moe (ERNIE 4.5 MoE) and
llama4_text (Llama 4, and a multimodal llama4 config read as its text model).

Parameters: PyTorch's own count (tests/data/param_counts_14e.json, scripts/gen_family_truth.py --params-out,
transformers 5.23.0 / torch 2.13.0) per decoder layer and in total, for small configs and the reference
checkpoints. Memory: the shared generator's truth (tests/data/truth_families_14e.jsonl: the 4-mode grid on
a small config per type, an off-grid shape per type, Phi-3.5-MoE's input jitter) and 12 cases measured
after the modelling was done (truth_families_14e_heldout.jsonl: checkpointing, autocast, eager attention).
Reached when written: max |error| 0.0094% on the first file, 0.030% on the held-out one."""
from __future__ import annotations

import json
from collections import defaultdict

import pytest

from llmsize.adapters.hf_config import spec_from_config
from llmsize.errors import LlmsizeError
from llmsize.memory.estimate import estimate
from llmsize.memory.weights import weights
from llmsize.memory.workload import LoRA, Workload
from llmsize.params import count
from llmsize.validate import validate
from tests.conftest import DATA

COUNTS = json.loads((DATA / "param_counts_14e.json").read_text())
MODELS = COUNTS["models"]
TYPES = ("phimoe", "ernie4_5_moe", "llama4_text")
# max |relative error| per type and mode, at the accuracy reached (a regression fails)
BAR = {"phimoe": {"train": 1e-6, "lora train": 0.0001, "forward": 1e-6, "generate": 2e-5},
       "ernie4_5_moe": {"train": 1e-5, "lora train": 1e-5, "forward": 1e-6, "generate": 1e-6},
       "llama4_text": {"train": 0.00004, "lora train": 0.00007, "forward": 1e-6, "generate": 2e-5}}
HELD_OUT_BAR = {"phimoe": 1e-5, "ernie4_5_moe": 0.0004, "llama4_text": 1e-5}


def test_counts_were_measured_with_the_pinned_versions():
    assert COUNTS["transformers"] == "5.23.0" and COUNTS["torch"].startswith("2.13.0")
    assert {m["model_type"] for m in MODELS.values()} == set(TYPES)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameters_equal_pytorch_per_layer(name):
    m = MODELS[name]
    pc = count(spec_from_config(m["config"], name))
    assert pc.total == m["params"]
    per = {i: k.params for k in pc.layer_kinds for i in k.layers}
    assert [per[i] for i in range(len(m["layer_params"]))] == m["layer_params"]


@pytest.mark.parametrize("name, total", [
    ("ref-phimoe-Phi-3.5-MoE-instruct", 41_873_153_344),  # "41.9B" on the model card
    ("ref-ernie4-5-moe-ERNIE-4.5-21B-A3B-PT", 21_825_437_888),  # "21B total"
    ("ref-llama4-Scout-17B-16E", 107_769_861_120),  # the text model of the 109B Scout
    ("ref-llama4-Maverick-17B-128E", 400_711_848_960),  # the text model of the ~400B Maverick
])
def test_reference_checkpoints(name, total):
    assert MODELS[name]["params"] == total
    assert count(spec_from_config(MODELS[name]["config"], name)).total == total


def test_multimodal_llama4_config_reads_its_text_model_with_a_note():
    text = MODELS["ref-llama4-Scout-17B-16E"]["config"]
    full = {"model_type": "llama4", "architectures": ["Llama4ForConditionalGeneration"],
            "text_config": text, "vision_config": {"model_type": "llama4_vision_model", "hidden_size": 1408}}
    spec = spec_from_config(full, "Llama-4-Scout")
    assert count(spec).total == 107_769_861_120
    assert any("text_config" in n and "vision" in n for n in spec.notes)
    with pytest.raises(LlmsizeError, match="needs its text_config"):
        spec_from_config({"model_type": "llama4"}, "x")


def test_llama4_layer_pattern():
    spec = spec_from_config(MODELS["ref-llama4-Scout-17B-16E"]["config"], "scout")
    assert spec.rope_layers == tuple(i % 4 != 3 for i in range(48))  # NoPE every 4th layer
    assert spec.layer_types == tuple("sliding" if i % 4 != 3 else "full" for i in range(48))
    assert spec.sliding_window == 8192 and all(spec.moe_layers)
    mav = spec_from_config(MODELS["ref-llama4-Maverick-17B-128E"]["config"], "maverick")
    assert mav.moe_layers == tuple(i % 2 == 1 for i in range(48)) and not mav.traits.qk_l2_norm
    assert mav.mlp.intermediate_size == 16384 and mav.moe.expert_intermediate_size == 8192


def test_ernie_moe_layer_placement_and_fp32_router():
    cfg = dict(MODELS["offgrid-ernie4-5-moe"]["config"])
    spec = spec_from_config(cfg, "e")
    assert spec.moe_layers == (False, True, False, False)  # (i + 1) % 2 == 0 and 0 <= i <= 2
    wl = Workload(mode="train", batch=1, seq_len=64)
    wt = weights(spec, wl)
    n_moe, E, d = 1, 6, 384
    assert wt.base_bytes == 2 * count(spec).total + n_moe * (E * d + E) * 2  # router + correction bias in fp32
    assert wt.trainable == count(spec).total - n_moe * E  # the correction bias is frozen
    for bad in ({"moe_layer_interval": 0}, {"moe_num_experts": [64, 64]}):
        with pytest.raises(LlmsizeError):
            spec_from_config({**cfg, **bad}, "e")


def test_phimoe_routes_two_experts_whatever_the_config_says():
    cfg = {**MODELS["small-phimoe"]["config"], "num_experts_per_tok": 4}
    spec = spec_from_config(cfg, "p")
    assert spec.moe.top_k == 2 and any("sparsemixer" in n for n in spec.notes)
    assert spec.norms.kind == "layernorm" and spec.norms.bias
    ref = spec_from_config(MODELS["ref-phimoe-Phi-3.5-MoE-instruct"]["config"], "phi")
    assert ref.lm_head_bias and ref.attention.qkv_bias and ref.moe.input_jitter == 0.01
    with pytest.raises(LlmsizeError, match="input_jitter_noise"):
        spec_from_config({**cfg, "input_jitter_noise": 1.5}, "p")


@pytest.mark.parametrize("name, leaves", [
    # attention plus the router, not the fused experts: peft 0.21.2 on Phi-3.5-MoE (tests/data/lora_counts.json)
    ("small-phimoe", {"q_proj", "k_proj", "v_proj", "o_proj", "gate"}),
    ("small-ernie4-5-moe", {"q_proj", "k_proj", "v_proj", "o_proj", "gate", "experts"}),
    # plus the router ("gate" pseudo-leaf): peft wraps Llama4Router, an nn.Linear (tests/data/lora_counts.json)
    ("small-llama4-text", {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "gate"}),
])
def test_lora_leaf_names(name, leaves):
    spec = spec_from_config(MODELS[name]["config"], name)
    assert LoRA(r=8, alpha=16, target_modules=("all-linear",)).resolve(spec) - {"__all_linear__"} == leaves
    assert LoRA(r=8, alpha=16, target_modules=("q_proj", "v_proj")).resolve(spec) == {"q_proj", "v_proj"}
    est = estimate(spec, Workload(mode="train", batch=1, seq_len=64,
                                  lora=LoRA(r=8, alpha=16, target_modules=("q_proj", "v_proj"))))
    assert est.trainable_params > 0


def _worst(f):
    results, summ = validate(DATA / f)
    assert all(r.error is None for r in results)
    worst = defaultdict(float)
    for r in results:
        k = (r.case.config["model_type"], r.case.mode)
        worst[k] = max(worst[k], abs(r.rel_error))
    return results, summ, worst


def test_memory_within_its_bar_per_type_and_mode():
    results, summ, worst = _worst("truth_families_14e.jsonl")
    assert len(results) >= 28 and {t for t, _ in worst} == set(TYPES)
    for (mt, mode), w in worst.items():
        assert w <= BAR[mt][mode], (mt, mode, w)
    for mode in ("train", "lora train", "forward", "generate"):
        assert summ[mode]["unpredicted"] == 0 and summ[mode]["median"] <= 0.0001, (mode, summ[mode])
    rows = {r["id"]: r for r in map(json.loads, (DATA / "truth_families_14e.jsonl").read_text().splitlines())}
    for r in results:
        assert r.predicted_params == rows[r.case.id]["measured"]["params"], r.case.id


def test_held_out_cases_within_their_bar():
    results, _, worst = _worst("truth_families_14e_heldout.jsonl")
    assert len(results) == 12
    for (mt, mode), w in worst.items():
        assert w <= HELD_OUT_BAR[mt], (mt, mode, w)
