"""Expert-parallel training (issue #11): the all-to-all overlap and the per-node deduplicating dispatcher
are physical bounds (overlap never costs, exposing never helps, dedup never sends more), and the
DeepSeek-V3 pre-training anchor (arXiv 2412.19437, Table 1: 2,664K H800 GPU-hours for 14.8T tokens on
2,048 H800s, PP16 EP64 ZeRO-1, FP8, DualPipe) comes out within the accuracy actually reached."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmsize.catalog.hardware import get_gpu
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.speedmodel.comm import ep_alltoall_s, remote_nodes, train_stage_comm_s
from llmsize.speedmodel.train import ep_exposed_s, train
from llmsize.validate_speed import parse_case, predict_case

H100, H800 = get_gpu("H100-SXM"), get_gpu("H800-SXM")
QWEN = load("Qwen3-235B-A22B").spec
CALIB = Path(__file__).resolve().parent.parent / "data" / "speed_calib.jsonl"

layouts = st.fixed_dictionaries({
    "tp": st.sampled_from([1, 2, 4]), "pp": st.sampled_from([1, 2, 8]), "ep": st.sampled_from([1, 2, 8, 16, 32, 64]),
    "dp": st.sampled_from([8, 16, 64]), "micro_batches": st.integers(1, 64), "seq": st.sampled_from([2048, 4096]),
    "gpus_per_node": st.sampled_from([4, 8, 72]), "dispatcher": st.sampled_from(["alltoall", "deepep"]),
    "precision": st.sampled_from(["bf16-mixed", "fp8-mixed"]), "recompute": st.sampled_from(["none", "full"])})


def _rate(lay: dict, **over) -> float:
    x = {**lay, **over}
    return train(QWEN, H100, engine="megatron", schedule="1f1b", **x).tokens_per_s_per_gpu


@settings(max_examples=40, deadline=None)
@given(layouts)
def test_overlapping_the_all_to_all_never_slows_a_step_nor_beats_free_communication(lay):
    from unittest import mock

    import llmsize.speedmodel.train as T

    hidden = _rate(lay, a2a_overlap=True)
    exposed = _rate(lay, a2a_overlap=False)
    assert exposed <= hidden  # exposing the all-to-all never speeds a step
    real = T.train_stage_comm_s

    def no_ep(*a, **k):
        return {**real(*a, **k), "ep": 0.0}

    with mock.patch.object(T, "train_stage_comm_s", no_ep):
        free = _rate(lay, a2a_overlap=False)
    assert hidden <= free * (1 + 1e-12)  # overlap hides at most all of it


@settings(max_examples=40, deadline=None)
@given(layouts)
def test_a_deduplicating_dispatcher_never_sends_more_than_one_copy_per_expert(lay):
    base = {k: lay[k] for k in ("tp", "pp", "ep", "dp", "gpus_per_node")}
    kw = dict(cp=1, virtual_stages=1, mb_tokens=lay["seq"], passes=2)
    a = train_stage_comm_s(QWEN, H100, dispatcher="alltoall", **base, **kw)["ep"]
    d = train_stage_comm_s(QWEN, H100, dispatcher="deepep", **base, **kw)["ep"]
    assert 0 <= d <= a * (1 + 1e-12)


def test_exposed_all_to_all_is_what_outlasts_compute():
    from llmsize.speedmodel.train import A2A_SM_SHARE as s

    slow = s / (1 - s)  # the hidden compute runs on the SMs the all-to-all leaves
    assert ep_exposed_s(3.0, 5.0, True) == pytest.approx(3.0 * slow)
    assert ep_exposed_s(7.0, 5.0, True) == pytest.approx(2.0 + 5.0 * slow)
    assert ep_exposed_s(0.0, 5.0, True) == 0.0 and ep_exposed_s(7.0, 5.0, False) == 7.0
    assert ep_exposed_s(3.0, 5.0, True) < ep_exposed_s(3.0, 5.0, False)
    with pytest.raises(LlmsizeError):
        ep_exposed_s(-1.0, 1.0, True)


def test_remote_nodes_of_a_balanced_router():
    # one node: no remote peers; k experts over N nodes reach at most min(k, N - 1) others
    assert remote_nodes(8, 1) == 0.0
    assert remote_nodes(1, 8) == pytest.approx(7 / 8)
    assert remote_nodes(8, 8) == pytest.approx(7 * (1 - (7 / 8) ** 8)) and remote_nodes(8, 8) < 7
    b = dict(top_k=8, hidden=7168)
    # EP 64 over 8 nodes of 8: the network carries ~4.6 copies per token with DeepEP, 7 with alltoall
    ratio = ep_alltoall_s(H800, 4096, 64, 1, dispatcher="deepep", **b) / ep_alltoall_s(H800, 4096, 64, 1, **b)
    assert 0.6 < ratio < 0.7
    with pytest.raises(LlmsizeError, match="dispatcher"):
        ep_alltoall_s(H800, 4096, 64, 1, dispatcher="nccl", **b)


def _row(rid: str) -> dict:
    for line in CALIB.read_text().splitlines():
        if line.strip() and json.loads(line)["id"] == rid:
            return json.loads(line)
    raise AssertionError(rid)


def _err(row: dict) -> float:
    r = predict_case(parse_case(row, 1, row["id"]))
    assert r.rel_error is not None
    return r.rel_error


def test_deepseek_v3_pretraining_gpu_hours_anchor():
    """DeepSeek-V3 Technical Report (arXiv 2412.19437) Table 1: 2,664K H800 GPU-hours for 14.8T tokens,
    as laid out (PP16 DualPipe, EP64 over 8 nodes, overlapped and deduplicated all-to-all, FP8)."""
    row = _row("deepseek-v3-h800-pretrain-gpu-hours")
    assert abs(_err(row)) < 0.08
    # without the overlap DualPipe gives it, the same layout is slower (more GPU-hours)
    row["workload"]["layout"]["a2a_overlap"] = False
    assert _err(row) > 0.08


def test_deepseek_v3_without_a_layout_or_count_stays_physical():
    """The same run with nothing but the model, GPU, precision and tokens: EP 8 inside a node, not overlapped (+30%: thinner expert GEMMs and an exposed NVLink all-to-all,
    where DeepSeek spread EP 64 and overlapped it). FP8 and bf16 stay well under the H800's peaks."""
    row = _row("deepseek-v3-h800-pretrain-gpu-hours")
    row["hardware"]["count"] = None
    row["workload"].update(layout=None, global_batch=None, micro_batch=None)
    assert 0 < _err(row) < 0.32
    for prec, peak in (("fp8-mixed", H800.peak_flops("fp8")), ("bf16-mixed", H800.peak_flops("bf16"))):
        r = train(load("deepseek-ai/DeepSeek-V3").spec, H800, engine="unknown", precision=prec, seq=4096)
        assert r.model_tflops_per_gpu * 1e12 < 0.6 * peak


def test_the_moe_zoo_overlap_pair_orders_as_published():
    """Megatron-MoE-ModelZoo Qwen3-235B on 256 H100 (TP2 PP8 VPP4 EP32, DeepEP): 19.7 s per step, 17.6 s
    with '+1f1b overlap': overlapping the all-to-all makes the prediction faster, as it is measured."""
    a = predict_case(parse_case(_row("moezoo-h100-sxm-qwen3-235b-a22b-n256-bf16-1"), 1, "a")).predicted
    b = predict_case(parse_case(_row("moezoo-h100-sxm-qwen3-235b-a22b-n256-bf16-2"), 2, "b")).predicted
    assert b > a


@pytest.mark.parametrize("bad, msg", [({"a2a_overlap": "yes"}, "a2a_overlap"), ({"dispatcher": "nccl"}, "dispatcher")])
def test_bad_ep_options_are_refused(bad, msg):
    row = _row("moezoo-h100-sxm-qwen3-235b-a22b-n256-bf16-1")
    row["workload"]["layout"].update(bad)
    with pytest.raises(LlmsizeError, match=msg):
        predict_case(parse_case(row, 1, row["id"]))


def test_a_mixture_of_experts_without_a_layout_spreads_its_experts_over_one_node():
    from llmsize.validate_speed_train import _default_ep

    class Case:
        gpus_per_node, count = 8, None

    notes: list[str] = []
    assert _default_ep(load("deepseek-ai/DeepSeek-V3").spec, Case, notes) == 8 and "expert parallelism 8" in notes[0]
    Case.count = 4
    assert _default_ep(QWEN, Case, []) == 4  # never more GPUs than the run has
    assert _default_ep(load("Llama-3.1-70B").spec, Case, (quiet := [])) == 1 and not quiet  # dense: no EP
