"""Shapes for a budget: well-formed, exact through params.count, and reproducing known models."""
from __future__ import annotations

import pytest

from llmsize.design.shapes import REFERENCE_SHAPES, Constraints, build, propose, reference_aspect
from llmsize.errors import LlmsizeError
from llmsize.params import count

LLAMA2_7B = 6_738_415_616
LLAMA31_8B = 8_030_261_248
LLAMA31_70B = 70_553_706_496


def _well_formed(c, cons):
    s = c.spec
    a = s.attention
    assert a.head_dim in (64, 128)
    assert a.num_heads * a.head_dim == s.hidden_size
    assert a.num_heads % a.num_kv_heads == 0
    assert s.mlp.intermediate_size % cons.ffn_multiple == 0
    assert s.vocab_size % 128 == 0 and s.vocab_size >= cons.vocab
    assert count(s).total == c.params  # exact, through the real counter


@pytest.mark.parametrize("budget, cons, anchor, shape", [
    # Llama 2 practice: 32k vocab, MHA, 8d/3 rounded to 256
    (7 * 10**9, Constraints(vocab=32_000, attention="mha"), LLAMA2_7B, (4096, 32)),
    # Llama 3 practice: 128k vocab, GQA-8, FFN x1.3
    (8 * 10**9, Constraints(ffn_mult=1.3), LLAMA31_8B, (4096, 32)),
    (70 * 10**9, Constraints(ffn_mult=1.3, ffn_multiple=1024), LLAMA31_70B, (8192, 80)),
    # and with the defaults (GQA-8, 8/3, 128k vocab)
    (7 * 10**9, Constraints(), LLAMA2_7B, None),
    (8 * 10**9, Constraints(), LLAMA31_8B, None),
    (70 * 10**9, Constraints(), LLAMA31_70B, None),
])
def test_a_candidate_lies_within_5_percent_of_the_known_model(budget, cons, anchor, shape):
    cands = propose(budget, cons)
    assert 3 <= len(cands) <= 5
    for c in cands:
        _well_formed(c, cons)
        assert abs(c.error) <= 0.10
    near = [c for c in cands if abs(c.params / anchor - 1) <= 0.05]
    assert near, [c.params for c in cands]
    if shape is not None:
        rec = next(c for c in cands if c.recommended)
        assert abs(rec.params / anchor - 1) <= 0.05  # the recommended one has the known width and a depth within one or two layers
        assert rec.spec.hidden_size == shape[0] and abs(rec.spec.num_layers - shape[1]) <= 2


def test_llama31_8b_is_reproduced_exactly():
    rec = next(c for c in propose(8 * 10**9, Constraints(ffn_mult=1.3)) if c.recommended)
    s = rec.spec
    assert (s.hidden_size, s.num_layers, s.attention.num_heads, s.attention.num_kv_heads,
            s.mlp.intermediate_size, s.vocab_size) == (4096, 32, 32, 8, 14336, 128256)
    assert rec.params == LLAMA31_8B


def test_candidates_span_depth_vs_width():
    cands = propose(7 * 10**9)
    aspects = [c.aspect for c in cands]
    assert max(aspects) / min(aspects) > 2.5
    assert [c.spec.hidden_size for c in cands] == sorted(c.spec.hidden_size for c in cands)
    assert sum(c.recommended for c in cands) == 1


def test_vocab_is_padded_and_small_models_use_head_dim_64():
    cands = propose(125 * 10**6, Constraints(vocab=50_257, tied=True))
    for c in cands:
        assert c.spec.vocab_size == 50_304 and c.spec.attention.head_dim == 64 and c.spec.tie_word_embeddings


def test_fixed_width_or_depth():
    c = propose(8 * 10**9, Constraints(hidden=4096, ffn_mult=1.3))
    assert len(c) == 1 and c[0].spec.num_layers == 32
    c = propose(8 * 10**9, Constraints(layers=32, ffn_mult=1.3))
    assert all(x.spec.num_layers == 32 for x in c)
    assert any(x.spec.hidden_size == 4096 for x in c)


def test_reference_shapes_match_the_presets_where_there_is_one():
    from llmsize.catalog.presets import find_preset
    from llmsize.load import load_preset

    checked = 0
    for r in REFERENCE_SHAPES:
        p = find_preset(r.name)
        if p is None:
            continue
        spec = load_preset(p).spec
        assert (spec.hidden_size, spec.num_layers) == (r.hidden, r.layers), r.name
        assert count(spec).total == pytest.approx(r.params, rel=0.01), r.name
        checked += 1
    assert checked >= 3


def test_reference_aspect():
    ref, names = reference_aspect(8 * 10**9)
    assert 100 < ref < 130 and "Llama-3.1-8B" in names


@pytest.mark.parametrize("budget, kw, needle", [
    (10**6, {}, "impossible budget: 1,000,000 parameters is below the smallest"),
    (10**9, dict(hidden=4000, head_dim=128), "hidden 4000 is not a multiple of head_dim 128"),
    (10**9, dict(hidden=4096, head_dim=128, kv_heads=3), "3 KV heads do not divide the 32 query heads"),
    (14 * 10**9, dict(hidden=4096, layers=32), "inconsistent constraints: hidden 4096 and layers 32"),
    (7 * 10**9, dict(min_aspect=10**6, max_aspect=2 * 10**6), "no candidate: no width gives a depth with d/L"),
    (10**12, dict(hidden=512), "hidden 512 cannot reach"),
])
def test_bad_input_says_which_constraint_failed(budget, kw, needle):
    with pytest.raises(LlmsizeError, match=needle.replace("(", r"\(")):
        propose(budget, Constraints(**kw))


def test_constraints_validate():
    with pytest.raises(LlmsizeError, match="attention"):
        Constraints(attention="sparse")  # type: ignore[arg-type]
    with pytest.raises(LlmsizeError, match="aspect"):
        Constraints(min_aspect=10, max_aspect=5)
    with pytest.raises(LlmsizeError, match="vocab"):
        Constraints(vocab=0)


def test_build_mqa_and_mha():
    assert build(4096, 2, Constraints(attention="mqa")).attention.num_kv_heads == 1
    assert build(4096, 2, Constraints(attention="mha")).attention.num_kv_heads == 32


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(budget=st.integers(min_value=10**6, max_value=3 * 10**12),
       vocab=st.sampled_from([32_000, 50_257, 128_256, 151_936]),
       attention=st.sampled_from(["gqa", "mha", "mqa"]), mult=st.sampled_from([1.0, 1.3]),
       tied=st.booleans())
def test_any_budget_gives_well_formed_candidates_or_a_clear_error(budget, vocab, attention, mult, tied):
    cons = Constraints(vocab=vocab, attention=attention, ffn_mult=mult, tied=tied)
    try:
        cands = propose(budget, cons)
    except LlmsizeError as e:
        assert "impossible budget" in str(e) or "no candidate" in str(e)
        return
    assert 1 <= len(cands) <= 5 and sum(c.recommended for c in cands) == 1
    for c in cands:
        _well_formed(c, cons)
        assert abs(c.error) <= 0.10
        assert cons.min_aspect <= c.aspect <= cons.max_aspect
