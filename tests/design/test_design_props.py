"""Property tests of `llmsize design`'s inputs: whatever the constraints and budgets, the answer is a set
of well-formed candidates or one LlmsizeError, never another exception."""
from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from llmsize.design.metrics import Setting
from llmsize.design.report import design_report
from llmsize.design.shapes import Constraints, propose
from llmsize.errors import LlmsizeError

_HEAD_DIM = st.one_of(st.none(), st.sampled_from([32, 64, 80, 96, 128, 129, 256]), st.integers(1, 1024))
_FFN_MULTIPLE = st.one_of(st.sampled_from([1, 64, 256, 1024]), st.integers(1, 1 << 16))
_VOCAB = st.one_of(st.sampled_from([1, 50, 32_000, 128_256]), st.integers(1, 1 << 24))
# budgets from 100K to 10T parameters (log-uniform), and anything up to 1e30
_PARAMS = st.one_of(st.integers(0, 80).map(lambda e: int(10 ** (5 + e / 10))), st.integers(1, 10**30))


def _constraints(draw: st.DrawFn) -> Constraints:
    return Constraints(vocab=draw(_VOCAB), head_dim=draw(_HEAD_DIM), ffn_multiple=draw(_FFN_MULTIPLE),
                       kv_heads=draw(st.one_of(st.none(), st.integers(1, 64))), attention=draw(st.sampled_from(["gqa", "mha", "mqa"])),
                       ffn_mult=draw(st.floats(0.25, 8)), gated=draw(st.booleans()), tied=draw(st.booleans()),
                       hidden=draw(st.one_of(st.none(), st.sampled_from([512, 4000, 4096]), st.integers(1, 1 << 17))),
                       layers=draw(st.one_of(st.none(), st.integers(1, 200))),
                       min_aspect=draw(st.one_of(st.just(16.0), st.floats(0.01, 1e4))),
                       max_aspect=draw(st.one_of(st.just(256.0), st.floats(0.02, 1e5))))


@st.composite
def _constraints_or_error(draw: st.DrawFn) -> Constraints | None:
    try:
        return _constraints(draw)
    except LlmsizeError:
        return None


def test_head_dim_129_is_a_one_line_error():
    """An odd head dim that divides no searched width: a message naming the constraint, exit 2 (was an
    IndexError from an empty width list)."""
    with pytest.raises(LlmsizeError, match="head_dim 129 divides none of the widths"):
        propose(7 * 10**9, Constraints(head_dim=129))
    r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "design", "--params", "7B",
                        "--head-dim", "129"], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "head_dim 129" in r.stderr and r.stderr.count("\n") == 1


def test_kv_heads_asked_for_are_used_exactly():
    """--kv-heads 3 for 7B: only widths whose query-head count 3 divides are searched, so every candidate has
    exactly 3 KV heads (was: silently the largest power of two dividing the head count, at most 3)."""
    cands = propose(7 * 10**9, Constraints(kv_heads=3))
    assert cands
    for x in cands:
        a = x.spec.attention
        assert a.num_kv_heads == 3 and a.num_heads % 3 == 0


def test_kv_heads_no_width_allows_is_a_one_line_error():
    """KV heads that divide the head count of no searched width (or of the width given): one line naming the
    constraint, exit 2."""
    with pytest.raises(LlmsizeError, match="1000 KV heads must divide the query heads"):
        propose(7 * 10**9, Constraints(kv_heads=1000))
    with pytest.raises(LlmsizeError, match="3 KV heads must divide the query heads .* hidden 4096 has 32 query heads"):
        propose(7 * 10**9, Constraints(kv_heads=3, hidden=4096))
    r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "design", "--params", "7B",
                        "--kv-heads", "1000"], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "1000 KV heads" in r.stderr and r.stderr.count("\n") == 1


def test_kv_heads_default_prefers_eight():
    """Without --kv-heads: 8 where the head count allows, else the largest power of two below 8 dividing it."""
    for x in propose(7 * 10**9, Constraints()):
        a = x.spec.attention
        assert a.num_kv_heads == 8 or (a.num_heads % 8 and a.num_heads % a.num_kv_heads == 0 and a.num_kv_heads < 8)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(c=_constraints_or_error(), target=_PARAMS, n=st.integers(1, 12))
def test_propose_gives_well_formed_shapes_or_one_error(c, target, n):
    if c is None:
        return
    try:
        cands = propose(target, c, n=n)
    except LlmsizeError as e:
        assert str(e).startswith("design: ") and "\n" not in str(e)
        return
    assert 1 <= len(cands) <= n and sum(x.recommended for x in cands) == 1
    for x in cands:
        a, s = x.spec.attention, x.spec
        assert a.num_heads * a.head_dim == s.hidden_size and a.num_heads % a.num_kv_heads == 0
        assert s.vocab_size % c.vocab_multiple == 0 and s.vocab_size >= c.vocab
        if c.gated:
            assert s.mlp.intermediate_size % c.ffn_multiple == 0
        if c.head_dim is not None:
            assert a.head_dim == c.head_dim
        if c.attention == "gqa" and c.kv_heads is not None:
            assert a.num_kv_heads == c.kv_heads


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_design_report_never_crashes(data):
    """The whole report (memory, speed, cost, the planner's training setup) over budgets of every kind."""
    # near the defaults (no fixed width or depth, the default aspect range), so most draws get a full report
    c = Constraints(vocab=data.draw(_VOCAB), head_dim=data.draw(_HEAD_DIM), ffn_multiple=data.draw(_FFN_MULTIPLE),
                    kv_heads=data.draw(st.integers(1, 16)), attention=data.draw(st.sampled_from(["gqa", "mha", "mqa"])),
                    ffn_mult=data.draw(st.floats(0.25, 8)), gated=data.draw(st.booleans()), tied=data.draw(st.booleans()))
    which = data.draw(st.sampled_from(["params", "compute", "gpu_hours"]))
    budget = data.draw(st.sampled_from([10**20, 10**21, 10**23, 10**25]) if which == "compute" else
                       st.sampled_from([1000, 10**5, 10**6]) if which == "gpu_hours" else
                       st.one_of(st.integers(0, 40).map(lambda e: int(10 ** (7 + e / 10))), _PARAMS))
    setting = Setting(gpu=data.draw(st.sampled_from(["H100", "T4", "V100", "MI300X", "24GiB"])),
                      dtype=data.draw(st.sampled_from(["bf16", "fp16", "fp32", "fp8"])),
                      context=data.draw(st.sampled_from([1, 8192, 1 << 20])), batch=data.draw(st.sampled_from([1, 64])),
                      mfu=data.draw(st.one_of(st.none(), st.floats(0.01, 1))),
                      price=data.draw(st.one_of(st.none(), st.floats(0.01, 100))))
    tokens = data.draw(st.one_of(st.none(), _PARAMS))
    law = data.draw(st.sampled_from(["chinchilla", "approach3", "besiroglu", "kaplan"]))
    try:
        rep = design_report(**{which: budget}, tokens=tokens, law=law, constraints=c, setting=setting,
                            n=data.draw(st.integers(1, 6)))
    except LlmsizeError as e:
        assert "\n" not in str(e)
        return
    event("report")
    assert rep["candidates"]
