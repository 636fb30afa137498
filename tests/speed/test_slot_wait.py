"""The wait for a batch slot at a request rate (`serving.slot_wait_s`): an M/D/c queue over the engine's
batch slots, half the Erlang-C wait of M/M/c."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmsize.catalog.hardware import get_gpu
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.speedmodel.queueing import slot_wait_s
from llmsize.speedmodel.serving import serve


def test_one_slot_is_the_m_d_1_queue():
    # M/D/1: W = ρ/(2(1 − ρ))·S
    for rate, s in ((1.0, 0.5), (3.0, 0.3), (0.1, 2.0)):
        rho = rate * s
        assert slot_wait_s(rate, 1, s) == pytest.approx(rho / (2 * (1 - rho)) * s, rel=1e-12)


def test_two_slots_by_hand():
    # M/M/2 at a = 1: Erlang B = (a²/2)/(1 + a + a²/2) = 0.2; C = 2·0.2/(2 − 1·0.8) = 1/3; W = C·S/(c − a)
    assert slot_wait_s(1.0, 2, 1.0) == pytest.approx(1 / 3 / 1 / 2, rel=1e-12)


def test_many_slots_half_busy_wait_next_to_nothing_and_a_full_house_forever():
    assert slot_wait_s(72 / 30.0, 124, 30.0) < 1e-6
    assert slot_wait_s(5.0, 10, 2.0) == math.inf  # a = 10 requests in service on 10 slots
    for bad in ((0.0, 4, 1.0), (1.0, 0, 1.0), (1.0, 4, 0.0)):
        with pytest.raises(LlmsizeError):
            slot_wait_s(*bad)


@given(st.floats(0.01, 50.0), st.integers(1, 300), st.floats(0.01, 10.0))
def test_the_wait_grows_with_the_rate_and_shrinks_with_slots(rate, slots, s):
    if rate * s * 1.1 >= slots:
        return
    w = slot_wait_s(rate, slots, s)
    assert 0 <= w <= slot_wait_s(rate * 1.1, slots, s)
    assert slot_wait_s(rate, slots + 1, s) <= w


def test_a_loaded_vllm_v0_keeps_its_ttft_where_slots_are_free():
    """vLLM 0.4.1, Llama 3 8B on an RTX 3090 at 5 requests/s: 0.12 s median TTFT measured (TPOT 83 ms): 72 of
    its ~124 KV slots busy, so an arrival finds one free; the M/D/1 queue of before gave 1.4 s."""
    s = serve(load("Meta-Llama-3-8B").spec, get_gpu("RTX-3090"), engine="vllm", weights="bf16", kv_dtype="bf16",
              prompt=214, output=200, concurrency="max", request_rate=5.0, mixed_prefill=False)
    assert s.batch < 100 and s.ttft_s < 0.2



def test_an_arrival_that_finds_others_running_waits_for_half_an_iteration():
    """A mixing engine (vLLM, TensorRT-LLM) starts a new prompt at the next iteration: with other clients
    running, half an iteration later on average; a lone closed-loop client finds the engine idle; at a
    request rate, the wait comes with the chance that any of the λ·(t_p + S_out·t_it) in flight runs."""
    spec, g = load("Llama-3.1-8B").spec, get_gpu("H100")
    kw = dict(engine="vllm", weights="bf16", kv_dtype="auto", prompt=512, output=256, mixed_prefill=True)
    one, two = serve(spec, g, concurrency=1, **kw), serve(spec, g, concurrency=2, **kw)
    # the rest of TTFT grows by the other request's decode riding along and its prefills' queue (< 0.5 ms)
    assert two.tpot_s / 2 <= two.ttft_s - one.ttft_s < two.tpot_s / 2 + 5e-4
    rated = serve(spec, g, concurrency=64, request_rate=0.05, **kw)
    # at a request rate every arrival's prompt rides beside the request's decode (arrivals do not wait for it
    # to end): its TPOT is the iteration one closed-loop client's throughput pays, not the lone client's step
    assert rated.batch == 1 and rated.tpot_s == pytest.approx(1 / one.output_tokens_per_s, rel=1e-12)
    assert one.tpot_s == pytest.approx(one.step_s, rel=1e-12)
    busy = 1 - math.exp(-0.05 * (rated.prefill_s + 256 * rated.tpot_s))
    rho = 0.05 * rated.prefill_s  # the M/D/1 wait behind the others' prefills
    want = busy * rated.tpot_s / 2 + rho / (2 * (1 - rho)) * rated.prefill_s
    assert rated.ttft_s - one.ttft_s == pytest.approx(want, rel=0.01)
