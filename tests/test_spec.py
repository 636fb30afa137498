"""The spec validates itself; property tests on parameter counts over random valid specs."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmsize.errors import LlmsizeError
from llmsize.load import from_knobs
from llmsize.params import count, textbook_params
from llmsize.spec import Attention, MoE


def test_textbook_example_from_the_original_calculator():
    # d=768, 12 heads, 12 layers, vocab 50,000, FFN 4d, attention 4d^2, two LayerNorms of 2d
    assert textbook_params(d=768, layers=12, vocab=50_000) == 123_417_600


@pytest.mark.parametrize("kw, msg", [
    (dict(num_heads=32, num_kv_heads=5, head_dim=128), "must divide"),
    (dict(num_heads=0, num_kv_heads=1, head_dim=128), "positive"),
    (dict(num_heads=8, num_kv_heads=8, head_dim=-1), "positive"),
])
def test_attention_rejects_impossible_shapes(kw, msg):
    with pytest.raises(LlmsizeError, match=msg):
        Attention(**kw)


def test_moe_top_k_must_not_exceed_experts():
    with pytest.raises(LlmsizeError, match="top_k"):
        MoE(num_experts=4, top_k=5, expert_intermediate_size=8)


def test_knobs_reject_heads_not_dividing_hidden():
    with pytest.raises(LlmsizeError, match="must divide"):
        from_knobs(hidden=100, layers=2, heads=3, vocab=10)


def test_llama31_8b_from_knobs_is_exact():
    s = from_knobs(hidden=4096, layers=32, heads=32, kv_heads=8, ffn=14336, vocab=128256, gated=True, tied=False)
    assert count(s).total == 8_030_261_248


def test_moe_active_counts_top_k_experts_only():
    s = from_knobs(hidden=64, layers=2, heads=4, vocab=100, ffn=32, experts=8, top_k=2)
    pc = count(s)
    one_expert_layer = 3 * 64 * 32
    assert pc.total - pc.active == 2 * (8 - 2) * one_expert_layer


dims = st.integers(min_value=1, max_value=8)


@st.composite
def knob_specs(draw):
    heads = draw(st.sampled_from([1, 2, 4, 8]))
    head_dim = draw(st.sampled_from([8, 16, 32]))
    kv = draw(st.sampled_from([k for k in (1, 2, 4, 8) if heads % k == 0]))
    return dict(hidden=heads * head_dim * draw(dims), layers=draw(dims), heads=heads, kv_heads=kv,
                head_dim=head_dim, ffn=draw(st.integers(1, 512)), vocab=draw(st.integers(1, 5000)),
                gated=draw(st.booleans()), tied=draw(st.booleans()), bias=draw(st.booleans()))


@settings(max_examples=200, deadline=None)
@given(knob_specs(), st.sampled_from(["hidden", "layers", "ffn", "vocab"]))
def test_counts_positive_and_monotone_in_each_size(kw, key):
    base = count(from_knobs(**kw)).total
    assert base > 0
    bigger = dict(kw, **{key: kw[key] + (kw["heads"] * kw["head_dim"] if key == "hidden" else 1)})
    assert count(from_knobs(**bigger)).total > base


@settings(max_examples=200, deadline=None)
@given(knob_specs())
def test_gqa_and_tying_never_increase_params(kw):
    mha = count(from_knobs(**dict(kw, kv_heads=kw["heads"]))).total
    assert count(from_knobs(**kw)).total <= mha
    assert count(from_knobs(**dict(kw, tied=True))).total <= count(from_knobs(**dict(kw, tied=False))).total


def test_changing_layers_keeps_each_family_pattern():
    from llmsize.load import apply_knobs, load

    ds = apply_knobs(load("DeepSeek-V3").spec, layers=64)
    assert ds.moe_layers[:3] == (False, False, False) and all(ds.moe_layers[3:])
    g3 = apply_knobs(load("gemma-3-1b-pt").spec, layers=30)
    assert g3.layer_types == tuple("full" if (i + 1) % 6 == 0 else "sliding" for i in range(30))
    short = apply_knobs(load("DeepSeek-V3").spec, layers=2)
    assert short.moe_layers == (False, False)


@pytest.mark.parametrize("bad", [[], {}, 16])
def test_a_config_dtype_that_is_not_a_name_is_refused(bad):
    """web fuzzing found `{"model_type": "gemma3", "torch_dtype": []}` reaching a hash of the spec (a 500)."""
    import json

    from llmsize.load import load

    cfg = {"model_type": "gemma3", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100, "num_attention_heads": 4,
           "num_key_value_heads": 1, "head_dim": 16, "intermediate_size": 128, "torch_dtype": bad}
    with pytest.raises(LlmsizeError, match="dtype"):
        load("-", stdin_text=json.dumps(cfg))
