"""Qwen3-Next (qwen3_next): parameters equal PyTorch's count for small configs (MoE + dense layers; explicit
layer_types with biased attention; no experts) and the reference
Qwen/Qwen3-Next-80B-A3B-Instruct config, and the generate cache (conv + recurrent state of the Gated
DeltaNet layers, K/V of the full-attention layers) equals what transformers' cache holds
(tests/data/qwen3_next_truth.json, scripts/measure_qwen3_next.py, torch 2.13.0, transformers 5.23.0).
Forward and generate memory equal PyTorch's peak and training is within 0.07% of it
(tests/data/truth_qwen3_next.jsonl)."""
from __future__ import annotations

import json

import pytest

from llmsize.adapters.hf_config import spec_from_config
from llmsize.errors import LlmsizeError
from llmsize.memory.estimate import estimate
from llmsize.memory.workload import Workload
from llmsize.params import count
from llmsize.quant.kv import attention_kv_bytes, kv_cache_bytes
from llmsize.recurrent import recurrent_state
from llmsize.tensors import tensors
from tests.conftest import DATA

TRUTH = json.loads((DATA / "qwen3_next_truth.json").read_text())
SMALL = TRUTH["models"]["small-qwen3-next"]
REF = TRUTH["models"]["Qwen3-Next-80B-A3B-Instruct"]


def test_versions_recorded():
    assert TRUTH["torch"].startswith("2.13") and TRUTH["transformers"] == "5.23.0"


@pytest.mark.parametrize("name", sorted(TRUTH["models"]))
def test_params_equal_pytorch(name):
    m = TRUTH["models"][name]
    assert count(spec_from_config(m["config"], name)).total == m["params"]


@pytest.mark.parametrize("name", sorted(TRUTH["models"]))
def test_params_per_module_equal_pytorch(name):
    """Every leaf module's total (in_proj_qkvz, in_proj_ba, conv1d, q_proj with its gate, ...) matches."""
    m = TRUTH["models"][name]
    by: dict[str, int] = {}
    for t in tensors(spec_from_config(m["config"], name)):
        parts = t.name.split(".")
        leaf = parts[-2] if parts[-1] in ("weight", "bias") else parts[-1]
        by[leaf] = by.get(leaf, 0) + t.numel
    # llmsize names norms and the router by role; compare the modules both name the same way
    same = {k: v for k, v in m["by_leaf"].items() if k in by and not k.startswith("norm")}
    assert {k: by[k] for k in same} == same
    assert len(same) >= 17


def test_reference_is_80b_total_3b_active():
    """Published: 80B total, 3B active (Qwen3-Next-80B-A3B); 79,674,391,296 counted by PyTorch."""
    p = count(spec_from_config(REF["config"], "ref"))
    assert p.total == 79_674_391_296
    assert p.active == 3_874_929_408  # 10 of 512 experts + the shared expert and its gate, every layer


def test_layer_pattern_and_traits():
    spec = spec_from_config(REF["config"], "ref")
    assert spec.mixers == ("ssm", "ssm", "ssm", "attention") * 12
    assert spec.attention.output_gate and spec.attention.qk_norm == "head" and spec.rotary_fraction == 0.25
    assert spec.traits.norm_plus_one and all(spec.moe_layers)
    small = spec_from_config(SMALL["config"], "s")
    assert small.mixers == ("ssm", "attention") * 2 and small.moe_layers == (False, True, True, True)


def test_generate_cache_equals_transformers():
    b, spec = TRUTH["batch"], spec_from_config(SMALL["config"], "s")
    st = recurrent_state(spec, b)
    assert (st.conv_bytes, st.ssm_bytes) == (SMALL["conv"], SMALL["ssm"])
    assert attention_kv_bytes(spec, SMALL["tokens"], "bf16", batch=b) == SMALL["kv"]
    assert kv_cache_bytes(spec, SMALL["tokens"], "bf16", batch=b) == SMALL["kv"] + SMALL["conv"] + SMALL["ssm"]
    assert SMALL["conv_dtypes"] == ["torch.bfloat16"] and SMALL["ssm_dtypes"] == ["torch.float32"]


def test_reference_state_per_sequence():
    """36 Gated DeltaNet layers: conv 8,192 x 4 bf16 and 32 heads x 128 x 128 fp32 each."""
    st = recurrent_state(spec_from_config(REF["config"], "ref"), 1)
    assert (st.layers, st.conv_bytes, st.ssm_bytes) == (36, 36 * 8192 * 4 * 2, 36 * 32 * 128 * 128 * 4)


def test_bad_interval_is_one_line_error():
    with pytest.raises(LlmsizeError, match="full_attention_interval must be at least 1"):
        spec_from_config({**SMALL["config"], "full_attention_interval": 0}, "s")


def test_gated_delta_heads_must_divide_the_value_width():
    from llmsize.spec import SSM
    with pytest.raises(LlmsizeError, match="gated_delta heads \\(3\\) must divide the inner width \\(256\\)"):
        SSM(kind="gated_delta", inner=256, state_size=32, num_heads=3, n_groups=1)


# training (train / LoRA train) reached when written: -0.034% .. -0.066% (a few KB under PyTorch's peak,
# which lies at the logits' backward with every layer's saved set alive)
TRAIN_BAR = 0.0007


def test_training_within_its_bar():
    """Full and LoRA (q, v) training replayed through the Gated DeltaNet's saved set (memory/gated_delta_train.py)
    on 6 measured cases (both configs, b1-b3, 100-256 tokens)."""
    from llmsize.validate import validate

    results, _ = validate(DATA / "truth_qwen3_next.jsonl")
    tr = [r for r in results if r.case.workload.mode == "train"]
    assert len(tr) == 6 and [r.error for r in tr] == [None] * 6
    assert {r.case.mode for r in tr} == {"train", "lora train"} and sum(r.case.model == "small-qwen3-next" for r in tr) == 3
    assert all(abs(r.rel_error) <= TRAIN_BAR for r in tr), [(r.case.id, r.rel_error) for r in tr]
    assert all(r.case.measured_params == SMALL["params"] + (36_864 if r.case.workload.lora else 0)
               for r in tr if r.case.model == "small-qwen3-next")


def test_forward_and_generate_equal_pytorch():
    """Forward and generate (prefill + decode) replayed through torch_chunk_gated_delta_rule
    (memory/gated_delta.py) equal PyTorch's peak to the byte on every measured case
    (tests/data/truth_qwen3_next.jsonl: two configs, G = 2 < H = 4 with N = 32, P = 64 and G = 1 with N = 48,
    P = 32; b1-b3, prompts 77-2048 tokens, some not a multiple of the 64-token chunk; with eager attention
    the gated attention layer holds the peak: q_proj's gate half copied and alive through o_proj, the
    partial rotary's torch.cat)."""
    from llmsize.validate import validate

    results, _ = validate(DATA / "truth_qwen3_next.jsonl")
    results = [r for r in results if r.case.workload.mode != "train"]
    assert len(results) == 12 and [r.error for r in results] == [None] * 12
    assert sum(r.case.workload.attn_impl == "eager" for r in results) == 2
    assert {r.case.workload.mode for r in results} == {"forward", "generate"}
    assert {r.case.config["linear_num_key_heads"] for r in results} == {1, 2}
    assert any(r.case.workload.seq_len % 64 for r in results)
    assert all(r.predicted_peak == r.case.measured_peak for r in results), \
        [(r.case.id, r.predicted_peak - r.case.measured_peak) for r in results]


def test_closed_forms_name_the_gated_delta_widths():
    """Every forward term prints its closed form; the mixer's working set is written in H, G, P, N and the
    chunk-padded length s_p (b2 s200: s_p = 256), and its numbers evaluate to the replayed bytes."""
    from llmsize.memory.closed_form import closed_forms

    spec, wl = spec_from_config(SMALL["config"], "s"), Workload(mode="forward", batch=2, seq_len=200)
    est = estimate(spec, wl)
    forms = closed_forms(spec, wl, est)
    assert all(f is not None for f in forms)
    ws = [(t, f) for t, f in zip(est.terms, forms) if t.name.startswith("working set")]
    assert len(ws) == 1
    t, f = ws[0]
    assert {"H", "G", "P", "N", "s_p"} <= {x for x, _ in f.values} and dict(f.values)["s_p"] == 256
    assert eval(f.numbers.replace("·", "*")) == t.bytes  # noqa: S307  plain integer arithmetic
