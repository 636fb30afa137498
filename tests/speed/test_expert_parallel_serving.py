"""Serving with the routed experts split over data-parallel ranks (attention data parallel: TensorRT-LLM's
DEP columns, SGLang's --enable-dp-attention, `llmsize speed --gpus N --ep N`): each GPU holds and reads
E/ep of the experts for the tokens of all ep ranks and pays the MoE layers' all-to-alls; and the error
reached on TensorRT-LLM's 76 DEP cells (tests/data/speed_dep_check.jsonl, not fitted)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmsize.catalog import hardware as hw
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.speedmodel import predict as P
from llmsize.speedmodel.comm import ep_serve_alltoalls_s
from llmsize.speedmodel.serving import serve
from llmsize.validate_speed import parse_speed_cases, predict_or_error, speed_summary, validate_speed

DATA = Path(__file__).resolve().parents[1] / "data"
QWEN = load("Qwen3-235B-A22B").spec
KW = dict(engine="trt-llm", weights="nvfp4", kv_dtype="fp8", prompt=1024, output=1024, concurrency=64)


def test_each_rank_holds_and_reads_its_share_of_the_experts():
    exp, total = P.expert_bytes(QWEN, "nvfp4"), P.weight_bytes(QWEN, "nvfp4")
    assert 0.9 < exp / total < 1  # Qwen3-235B is 97% routed experts
    # B tokens on each of ep ranks touch 1 − (1 − k/E)^(ep·B) of the experts; a rank holds E/ep of them
    dense = P.decode_read_bytes(QWEN, "nvfp4", 1) - exp * (1 - (1 - 8 / 128) ** 1)
    for b, ep in ((1, 4), (16, 4), (64, 8)):
        want = dense + exp * (1 - (1 - 8 / 128) ** (ep * b)) / ep
        assert P.decode_read_bytes(QWEN, "nvfp4", b, ep) == pytest.approx(want, rel=1e-12)
    assert P.decode_read_bytes(QWEN, "nvfp4", 16, 1) == P.decode_read_bytes(QWEN, "nvfp4", 16)
    g = hw.get_gpu("B200")
    one, dep = serve(QWEN, g, **KW), serve(QWEN, g, ep=4, **KW)
    # the memory a rank saves goes to its KV cache: room for more tokens
    saved = exp * 3 / 4
    assert dep.kv_capacity_tokens > one.kv_capacity_tokens
    assert (dep.kv_capacity_tokens - one.kv_capacity_tokens) * P.kv_bytes_per_token(QWEN, "fp8") \
        == pytest.approx(saved, rel=1e-3)
    assert dep.step_bytes < one.step_bytes


def test_the_all_to_alls_cost_two_calls_per_moe_layer_and_nothing_without_ep():
    g = hw.get_gpu("H200-SXM")
    t = ep_serve_alltoalls_s(QWEN, g, 8, 1000, latency_s=2e-5, share=0.7)
    bw = g.interconnect_bw / 2
    assert t == pytest.approx(QWEN.num_moe_layers * 2 * (2e-5 + 7 / 8 * 1000 * 8 * QWEN.hidden_size * 2 / (0.7 * bw)))
    assert ep_serve_alltoalls_s(QWEN, g, 1, 1000, latency_s=2e-5, share=0.7) == 0
    assert ep_serve_alltoalls_s(load("Llama-3.1-8B").spec, g, 8, 1000, latency_s=2e-5, share=0.7) == 0


def test_ep_needs_routed_experts_to_split():
    g = hw.get_gpu("H100")
    with pytest.raises(LlmsizeError, match="needs a mixture-of-experts model"):
        serve(load("Llama-3.1-8B").spec, g, engine="vllm", weights="bf16", kv_dtype="auto", prompt=8, output=8,
              concurrency=1, ep=2)
    with pytest.raises(LlmsizeError, match="whole number"):
        serve(QWEN, g, ep=0, **KW)


def _case(w: dict, model: str = "Qwen/Qwen3-235B-A22B", gpu: str = "B200", count: int = 4) -> dict:
    return {"id": "x", "kind": "speed", "model": model, "hardware": {"gpu": gpu, "count": count}, "engine": "trt-llm",
            "workload": {"task": "serve", "weights": "nvfp4", "kv_dtype": "fp8", "prompt": 1024, "output": 1024,
                         "concurrency": "max", **w}}


def _predict(obj: dict):
    (case,) = parse_speed_cases([json.dumps(obj)], "t")
    return predict_or_error(case)


@pytest.mark.parametrize("w", [{"tp": 4, "ep": 4, "attention_dp": True}, {"tp": 4, "attention_dp": True},
                               {"tp": 1, "dp": 4, "ep": 4}, {"tp": 1, "dp": 4, "ep": 4.0}])
def test_the_ways_a_dep_run_is_written_time_the_same_deployment(monkeypatch, w):
    """TensorRT-LLM's flags (--tp 4 --ep 4, enable_attention_dp) and the ranks (dp 4, ep 4), said in the notes."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    want = _predict(_case({"tp": 1, "pp": 1, "dp": 4, "ep": 4}))
    r = _predict(_case({"pp": 1, **w}))
    assert r.error is None and r.predicted == pytest.approx(want.predicted, rel=1e-12)
    if w.get("attention_dp"):
        assert any(n.startswith("attention_dp: TP4 × DP1 run attention as 4 data-parallel ranks") for n in r.notes)
    # Qwen3-235B in NVFP4 fits one B200: dp 4 alone is four whole replicas, each reading all its experts
    plain = _predict(_case({"tp": 1, "pp": 1, "dp": 4}))
    assert plain.error is None and plain.predicted < want.predicted


def test_dp_ranks_of_a_moe_model_one_gpu_cannot_hold_split_its_experts(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fp8 = {"tp": 1, "pp": 1, "dp": 4, "weights": "fp8"}  # 235 GB of FP8 weights, 141 GB on an H200
    r = _predict(_case(fp8, gpu="H200-SXM"))
    assert r.error is None
    assert r.predicted == pytest.approx(_predict(_case({**fp8, "ep": 4}, gpu="H200-SXM")).predicted, rel=1e-12)
    assert any("ep not given and one GPU cannot hold Qwen3-235B-A22B" in n for n in r.notes), r.notes


def test_ep_inside_tp_is_timed_as_tp_and_said(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = _predict(_case({"tp": 4, "pp": 1, "dp": 1, "ep": 4}))
    tp = _predict(_case({"tp": 4, "pp": 1, "dp": 1}))
    assert r.predicted == tp.predicted
    assert any("ep 4 inside TP4" in n for n in r.notes)
    bad = _predict(_case({"tp": 1, "pp": 1, "dp": 4, "ep": 3}))
    assert "must divide the 4 data-parallel ranks" in bad.error
    dense = _predict(_case({"tp": 1, "dp": 4, "ep": 4}, model="Llama-3.3-70B-Instruct"))
    assert "has no routed experts" in dense.error


def test_tensorrt_llm_dep_cells_are_predicted_and_their_error_is_the_one_reached(monkeypatch):
    """Not fitted (the calibration file keeps TP/PP cells only). Reached: median 24%, 51% within ±25%;
    Blackwell's Maverick within -24..+8%, its Qwen3-235B and DeepSeek-R1 -2..+47%; Hopper's FP8/MXFP4
    MoE cells +18..+150% (H200's Maverick at 1024/8192 the worst), where the same models at TP were
    closer: the model's grouped-GEMM and attention-DP costs are missing (docs/speed.md). (Before attention
    ran on its own path and the serving constants were fitted per category: 31%, 32%, +148%; with
    TensorRT-LLM's own KV budget, 0.9 of the memory free after loading, 24.3%, 51%, +155%.)"""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    results, summ = validate_speed(DATA / "speed_dep_check.jsonl")
    v = summ["serve_throughput"]
    assert v["n"] == 76 and v["unpredicted"] == 0
    assert v["median"] < 0.245 and v["within_25"] >= 0.51 and v["max"] < 1.56, v
    assert speed_summary(results)["all"]["n"] == 76


def test_speed_times_a_cli_ep_layout_with_the_experts_split():
    """`llmsize speed --gpus 4 --ep 4` (EP over the data-parallel ranks, the layout's rule) used to time four
    replicas each reading every expert; its per-GPU bytes now hold a quarter of them."""
    from click.testing import CliRunner

    from llmsize.cli import cli

    def rep(*flags: str) -> dict:
        r = CliRunner().invoke(cli, ["speed", "Qwen3-235B-A22B", "--gpu", "B200", "--weights", "nvfp4",
                                     "--engine", "trt-llm", "--batch", "64", "--json", *flags])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    plain, dep = rep("--gpus", "4"), rep("--gpus", "4", "--ep", "4")
    assert dep["layout"] == "DP4 EP4" and dep["replicas"] == plain["replicas"] == 4
    assert dep["step_bytes_per_gpu"] < 0.5 * plain["step_bytes_per_gpu"]
    assert dep["output_tokens_per_s"] > plain["output_tokens_per_s"]
