"""Training-rate properties over random layouts (issue #11): more GPUs never beat linear scaling, tensor
parallelism over PCIe is slower per GPU than over NVLink, recomputation never speeds a step; and the
whole-run terms (interleaved virtual stages left unsaid, goodput) as documented in docs/speed.md."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmsize.catalog.hardware import get_gpu
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.speedmodel.train import GOODPUT, bubble, default_virtual_stages, run_gpu_hours, train

L70 = load("Llama-3.1-70B").spec
GPUS = [get_gpu(n) for n in ("H100-SXM", "A100-SXM-80GB", "B200")]

layouts = st.fixed_dictionaries({
    "tp": st.sampled_from([1, 2, 4, 8]), "pp": st.sampled_from([1, 2, 4, 8]), "cp": st.sampled_from([1, 2, 4]),
    "dp": st.sampled_from([1, 2, 8, 64, 512]), "micro_batches": st.integers(1, 64),
    "schedule": st.sampled_from(["1f1b", "interleaved", "zero-bubble"]), "shard": st.sampled_from(["none", "full"]),
    "micro_batch": st.sampled_from([1, 2, 4]), "seq": st.sampled_from([2048, 8192, 32768]),
    "gpu": st.sampled_from(range(len(GPUS))), "recompute": st.sampled_from(["none", "selective", "full"])})


def _rate(lay: dict, **over) -> float:
    x = {**lay, **over}
    g = x.pop("gpu_obj", None) or GPUS[x["gpu"]]
    return train(L70, g, engine="megatron", precision="bf16-mixed", seq=x["seq"], recompute=x["recompute"],
                 pp=x["pp"], micro_batches=x["micro_batches"], schedule=x["schedule"], tp=x["tp"],
                 micro_batch=x["micro_batch"], dp=x["dp"], shard=x["shard"], cp=x["cp"],
                 step_tokens=x["dp"] * x["micro_batches"] * x["micro_batch"] * x["seq"]).tokens_per_s_per_gpu


@settings(max_examples=150, deadline=None)
@given(layouts)
def test_no_layout_beats_one_gpu_per_gpu(lay):
    """n GPUs never reach more than n × one GPU's rate: tokens/s per GPU of any layout <= one GPU's."""
    one = _rate(lay, tp=1, pp=1, cp=1, dp=1, shard="none")
    assert _rate(lay) <= one * (1 + 1e-12)


@settings(max_examples=100, deadline=None)
@given(layouts)
def test_recomputation_never_speeds_any_layout(lay):
    r = [_rate(lay, recompute=k) for k in ("none", "selective", "full")]
    assert r[0] >= r[1] * (1 - 1e-12) and r[1] >= r[2] * (1 - 1e-12)  # equal where the step is all traffic


@settings(max_examples=100, deadline=None)
@given(layouts)
def test_pcie_never_beats_nvlink(lay):
    g = GPUS[lay["gpu"]]
    nv, pcie = _rate(lay, gpu_obj=g), _rate(lay, gpu_obj=replace(g, interconnect_bw=None))
    assert pcie <= nv
    if lay["tp"] > 1:
        assert pcie < nv  # the per-layer all-reduces cross PCIe


def test_unsaid_virtual_stages_take_one_layer_per_chunk():
    """Llama 3.1 405B (126 layers) on PP 16: 8 virtual stages; the bubble at 16 micro-batches is
    16/(16 + 15/8) = 0.895 rather than 0.68 with the 2 stages once assumed."""
    assert default_virtual_stages(126, 16) == 8 and default_virtual_stages(80, 4) == 20
    assert default_virtual_stages(4, 8) == 1
    assert bubble(16, 16, "interleaved", default_virtual_stages(126, 16)) == pytest.approx(16 / (16 + 15 / 8))
    lay = dict(tp=8, pp=16, micro_batches=16, micro_batch=1, dp=128)
    kw = dict(engine="megatron", precision="bf16-mixed", seq=8192)
    h = GPUS[0]
    r405 = load("Llama-3.1-405B").spec
    unsaid = train(r405, h, schedule="interleaved", **lay, **kw)
    assert unsaid.bubble == pytest.approx(bubble(16, 16, "interleaved", 8))
    assert train(r405, h, schedule="interleaved", virtual_stages=8, **lay, **kw) == unsaid
    with pytest.raises(LlmsizeError):
        default_virtual_stages(0, 4)


def test_whole_run_hours_divide_by_the_llama3_goodput():
    assert GOODPUT == 0.9  # Llama 3 paper sec. 3.3.4: higher than 90% effective training time
    assert run_gpu_hours(3.6e9, 1000.0) == pytest.approx(1000 / 0.9)
    with pytest.raises(LlmsizeError):
        run_gpu_hours(0, 1.0)


def test_moe_training_has_its_own_efficiency_key_and_expert_gemm_shape(monkeypatch):
    """Mixture-of-experts training looks up `train[-path]-moe` first (grouped expert GEMMs, token
    dispatch), and its routed experts see only the tokens routed to them: fewer experts per token or
    more experts make the expert GEMMs thinner and the step slower."""
    from llmsize.speedmodel.efficiency import efficiency
    from llmsize.speedmodel.train import routed_expert_params

    h = GPUS[0]
    assert efficiency("megatron", h, "train", path="fp8", moe=True).key.endswith("train-fp8-moe")
    assert not efficiency("megatron", h, "train", path="fp8").key.endswith("-moe")
    q = load("Qwen3-30B-A3B").spec
    assert routed_expert_params(q) == 48 * 8 * 3 * 2048 * 768 and routed_expert_params(L70) == 0
    kw = dict(engine="megatron", precision="fp8-mixed", seq=4096, dp=8)
    # with a token-saturation constant (the fit may set it to 0), EP 8 gathers 8x the tokens per expert
    # GEMM of EP 1 (same node: the all-to-all is cheap), so it is faster
    import llmsize.speedmodel.train as T

    monkeypatch.setattr(T, "train_shape", lambda: {"x_half_tokens": 1000.0, "d_half": 1000.0, "attention_rel": 0.85,
                                                  "x_half_expert_tokens": 1000.0})
    assert train(q, h, ep=8, **kw).tokens_per_s_per_gpu > train(q, h, ep=1, **kw).tokens_per_s_per_gpu


def test_expert_all_to_all_pays_the_network_only_for_peers_in_other_nodes():
    from llmsize.speedmodel.comm import NETWORK_BYTES_PER_S, group_alltoall_s, link_bytes_per_s

    h, b = GPUS[0], 1e9
    inside = group_alltoall_s(h, b, 1, 8)
    assert inside == pytest.approx(7 * 5e-6 + b * 7 / 8 / link_bytes_per_s(h, 8))
    two_nodes = group_alltoall_s(h, b, 1, 16)  # half the peers across the network
    assert two_nodes == pytest.approx(15 * 5e-6 + b * 8 / 16 / NETWORK_BYTES_PER_S)
    assert inside < two_nodes < group_alltoall_s(h, b, 1, 64)
    assert group_alltoall_s(h, b, 1, 1) == 0.0
