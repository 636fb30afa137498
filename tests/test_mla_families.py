"""DeepSeek-V2 and MiniCPM (MiniCPM3 with multi-head latent attention; MiniCPM 1/2 from its config):
parameters equal to PyTorch's count (tests/data/param_counts_14l.json: scripts/gen_family_truth.py
--params-out, torch 2.13.0, transformers 5.23.0) for small configs and the reference checkpoints, and the
memory replay against truth measured with the shared generator (tests/data/truth_families_14l.jsonl:
train, LoRA train, forward, generate, plus off-grid shapes), held at the accuracy reached."""
from __future__ import annotations

import json
from collections import defaultdict

import pytest

from llmsize.adapters.hf_config import spec_from_config
from llmsize.errors import LlmsizeError
from llmsize.memory import estimate
from llmsize.memory.closed_form import closed_forms
from llmsize.memory.workload import LoRA, Workload
from llmsize.params import count
from llmsize.validate import parse_cases, validate
from tests.conftest import DATA
from tests.memory.test_closed_form import evaluate

COUNTS = json.loads((DATA / "param_counts_14l.json").read_text())
TRUTH = DATA / "truth_families_14l.jsonl"
# max |error| of the peak per model type and mode, as reached (MiniCPM3 0.0072%, DeepSeek-V2 0.0072% train and
# 0.0116% LoRA train: a few KiB of router temporaries; fp32 generate 64 B)
BAR = {"deepseek_v2": {"forward": 1e-6, "generate": 3e-6, "train": 0.00008, "lora train": 0.00012},
       "minicpm3": {"forward": 1e-6, "generate": 1e-6, "train": 0.00008, "lora train": 0.00007}}
MEDIAN = {"forward": 1e-6, "generate": 1e-6, "train": 0.0001, "lora train": 0.0001}


def test_counts_were_measured_with_the_recorded_versions():
    assert COUNTS["torch"].startswith("2.13.0") and COUNTS["transformers"] == "5.23.0"
    assert {m["model_type"] for m in COUNTS["models"].values()} == {"deepseek_v2", "minicpm3", "minicpm"}


@pytest.mark.parametrize("name", sorted(COUNTS["models"]))
def test_params_equal_pytorch_in_total_and_per_layer(name):
    m = COUNTS["models"][name]
    pc = count(spec_from_config(m["config"], name))
    assert pc.total == m["params"]
    per = {i: k.params for k in pc.layer_kinds for i in k.layers}
    assert [per[i] for i in range(len(m["layer_params"]))] == m["layer_params"]


@pytest.mark.parametrize("name, billions", [("DeepSeek-V2-Lite", 15.706), ("DeepSeek-V2", 235.741),
                                            ("MiniCPM3-4B", 4.074), ("MiniCPM-2B-sft-bf16", 2.725),
                                            ("MiniCPM-1B-sft-bf16", 1.360)])
def test_reference_checkpoints_have_their_published_size(name, billions):
    """The model cards: DeepSeek-V2-Lite 15.7B, DeepSeek-V2 236B, MiniCPM3-4B 4B, MiniCPM-2B 2.4B without
    embeddings (2.7B with), MiniCPM-1B 1.2B without embeddings."""
    assert round(COUNTS["models"][name]["params"] / 1e9, 3) == billions


def _by(results, key):
    out = defaultdict(list)
    for r in results:
        out[key(r)].append(r)
    return out


def test_every_case_predicted_within_the_bar_per_type_and_mode():
    results, summ = validate(TRUTH)
    assert len(results) == 34 and all(r.error is None for r in results), [r.error for r in results if r.error]
    for mt, rs in _by(results, lambda r: r.case.config["model_type"]).items():
        for mode, ms in _by(rs, lambda r: r.case.mode).items():
            worst = max(ms, key=lambda r: abs(r.rel_error))
            assert abs(worst.rel_error) <= BAR[mt][mode], (mt, mode, worst.case.id, worst.rel_error)
    for mode, bar in MEDIAN.items():
        assert summ[mode]["n"] >= 5 and summ[mode]["unpredicted"] == 0 and summ[mode]["median"] <= bar, summ[mode]


def test_params_of_every_truth_case_match():
    results, _ = validate(TRUTH)
    rows = {r["id"]: r for r in map(json.loads, TRUTH.read_text().splitlines())}
    for r in results:
        assert r.predicted_params == rows[r.case.id]["measured"]["params"], r.case.id


def test_every_term_has_an_exact_closed_form():
    rows = [json.loads(x) for x in TRUTH.read_text().splitlines()]
    cases = {c.id: c for c in parse_cases(TRUTH.read_text().splitlines(), TRUTH.name)}
    for row in rows[::4]:
        spec = spec_from_config(row["config"], row["model"])
        case = cases[row["id"]]
        est = estimate(spec, case.workload)
        forms = closed_forms(spec, case.workload, est)
        assert all(f is not None for f in forms), row["id"]
        assert sum(evaluate(f.numbers) for f in forms) == est.peak_bytes


def _v2(**kw):
    cfg = dict(COUNTS["models"]["tiny-deepseek-v2"]["config"])
    cfg.update(kw)
    return spec_from_config(cfg, "x")


def test_deepseek_v2_reads_what_transformers_builds():
    s = _v2()
    assert s.traits.family == "deepseek_v2" and s.attention.mla and s.traits.rope_complex
    assert s.moe.shared_intermediate_size == 128 and s.moe_layers == (False, True, True)
    lite = _v2(q_lora_rank=None)
    assert lite.attention.q_lora_rank is None
    # transformers' DeepSeek-V2 code ignores moe_layer_freq: every layer from first_k_dense_replace is MoE
    odd = _v2(moe_layer_freq=2)
    assert odd.moe_layers == (False, True, True) and any("moe_layer_freq" in n for n in odd.notes)


@pytest.mark.parametrize("kw, msg", [({"topk_method": "noaux_tc"}, "topk_method"),
                                     ({"topk_method": "group_limited_greedy", "n_group": 3}, "n_group"),
                                     ({"topk_method": "group_limited_greedy", "n_group": 4, "topk_group": 5},
                                      "topk_group")])
def test_deepseek_v2_refuses_routing_its_code_cannot_run(kw, msg):
    with pytest.raises(LlmsizeError, match=msg):
        _v2(**kw)


def test_lora_targets_are_the_mla_leaf_names():
    for name, q in (("tiny-deepseek-v2", "q_b_proj"), ("small-minicpm3-noqlora", "q_proj")):
        spec = spec_from_config(COUNTS["models"][name]["config"], name)
        wl = Workload(mode="train", batch=1, seq_len=64, lora=LoRA(r=8, target_modules=(q, "kv_b_proj")))
        assert estimate(spec, wl).peak_bytes > 0
        with pytest.raises(LlmsizeError, match="unknown LoRA target"):
            estimate(spec, Workload(mode="train", batch=1, seq_len=64, lora=LoRA(r=8, target_modules=("v_proj",))))


def test_minicpm_scalings_cost_the_pre_head_copy():
    """MiniCPM 1/2 (remote code): the Llama replay plus its scalings. With the LM head holding the peak,
    forward costs exactly one more b x s x d copy than the same shapes read as Llama (the hidden state
    divided by d / dim_model_base before lm_head; the scaled embedding replaces the plain one)."""
    cfg = dict(COUNTS["models"]["MiniCPM-1B-sft-bf16"]["config"])
    mini = spec_from_config(cfg, "m")
    llama = spec_from_config({**cfg, "model_type": "llama"}, "l")
    assert any("remote code" in n for n in mini.notes)
    wl = Workload(mode="forward", batch=2, seq_len=512)
    d = estimate(mini, wl).peak_bytes - estimate(llama, wl).peak_bytes
    assert d == 2 * 512 * 1536 * 2


def test_serving_engines_cache_deepseek_latent_but_minicpm3_expanded():
    """transformers caches the latent for both; llama.cpp's deepseek2 graph (and vLLM's, SGLang's MLA) keeps
    the latent r_kv + d_rope, its minicpm3 graph the expanded per-head K (n_h d_qk) and V (n_h d_v); vLLM's
    MiniCPM3 pads V to the q/k head size."""
    from llmsize.load import load
    from llmsize.memory.device import kv_bytes_per_token
    from llmsize.quant.kv import kv_rows

    ds, mc = load("DeepSeek-V2-Lite").spec, load("MiniCPM3-4B").spec
    assert kv_rows(ds) == (512 + 64, 0)
    assert kv_rows(mc) == (40 * 96, 40 * 64)
    assert kv_bytes_per_token(ds, 2) == 27 * 576 * 2
    assert kv_bytes_per_token(mc, 2) == 62 * 40 * 2 * 96 * 2
