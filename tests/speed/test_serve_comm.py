"""Serving's TP all-reduces, fixed per-layer costs and the engine's max-sequences cap (docs/speed.md)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.speedmodel import comm
from llmsize.speedmodel import serving as P
from llmsize.speedmodel.efficiency import serve_shape

L70 = load("Llama-3.1-70B").spec
L8 = load("Llama-3.1-8B").spec
H100 = get_gpu("H100-SXM")


def _ar(gpu, tp, tokens, latency=10e-6, share=0.7):
    return comm.tp_serve_allreduces_s(L70, gpu, tp, tokens, latency_s=latency, share=share)


def test_custom_all_reduce_latency_does_not_grow_with_the_ring_inside_a_node():
    # one decode token: the bytes are negligible, so TP2, TP4 and TP8 pay the same fixed cost per collective
    # (160 all-reduces of 80 layers x 10 us), where NCCL's ring pays 2(n - 1) steps of 5 us
    one = {tp: _ar(H100, tp, 1) for tp in (2, 4, 8)}
    assert all(v == pytest.approx(160 * 10e-6, rel=0.02) for v in one.values())
    ring8 = L70.num_layers * 2 * comm.allreduce_s(8192 * 2, 8, comm.link_bytes_per_s(H100, 8)) / 0.7
    assert one[8] < ring8
    # the bytes still move at the link's share: a wide pass costs more, and more so on a slower link
    assert _ar(H100, 8, 256) > one[8]
    assert _ar(get_gpu("A100-SXM-80GB"), 8, 256) > _ar(H100, 8, 256)


def test_without_nvlink_or_past_8_mb_the_ring_is_used():
    pcie_only = replace(H100, interconnect_bw=None)
    bw = comm.link_bytes_per_s(pcie_only, 4)
    ring = L70.num_layers * 2 * comm.allreduce_s(8192 * 2, 4, bw) / 0.5
    assert comm.tp_serve_allreduces_s(L70, pcie_only, 4, 1, latency_s=10e-6, share=0.5) == pytest.approx(ring)
    # a prompt pass of 2,048 tokens moves 32 MB per all-reduce: NCCL's ring, not the custom kernel
    big = 2048 * 8192 * 2
    assert big > comm.CUSTOM_AR_MAX_BYTES
    nccl = L70.num_layers * 2 * comm.allreduce_s(big, 4, comm.link_bytes_per_s(H100, 4)) / 0.7
    assert _ar(H100, 4, 2048) == pytest.approx(nccl)
    assert comm.tp_serve_allreduces_s(L70, H100, 1, 4096, latency_s=1.0, share=0.7) == 0.0


def test_a_prompts_pass_pays_its_per_layer_cost_in_ttft_not_in_tpot():
    sh = serve_shape()
    assert sh["prompt_layer_overhead_s"] > 0 and sh["layer_overhead_s"] > 0
    kw = dict(engine="vllm", weights="bf16", kv_dtype="bf16", prompt=248, output=194, concurrency=1)
    s = P.serve(L8, H100, **kw)
    # a lone request: TTFT is its prompt's pass plus one iteration's fixed costs; the prompt pass holds
    # L x t_pl on top of its roofline, the decode step L x t_l
    assert s.ttft_s == pytest.approx(s.prefill_s + sh["step_overhead_s"] + sh["seq_overhead_s"]
                                     + L8.num_layers * sh["layer_overhead_s"])
    assert s.prefill_s > L8.num_layers * sh["prompt_layer_overhead_s"]
    assert s.step_s > L8.num_layers * sh["layer_overhead_s"]
    # a bigger model pays more layers: 80 against 32
    assert P.serve(L70, H100, tp=4, **kw).prefill_s > s.prefill_s


def test_max_seqs_caps_the_batch_and_is_checked():
    kw = dict(engine="vllm", weights="bf16", kv_dtype="bf16", prompt=128, output=512, concurrency="max")
    a100 = get_gpu("A100-SXM-80GB")
    default = P.serve(L8, a100, **kw)
    assert default.batch == 256 and default.batch_limit == "max_seqs"  # vLLM's default --max-num-seqs
    wide = P.serve(L8, a100, max_seqs=1024, **kw)
    assert wide.batch > default.batch and wide.output_tokens_per_s > default.output_tokens_per_s
    assert P.serve(L8, a100, max_seqs=16, **kw).batch == 16
    # vLLM's V1 default on a GPU of 70 GiB or more that is not an A100 (get_batch_defaults): 1024
    assert P.serve(L8, H100, **kw).batch == P.serve(L8, H100, max_seqs=1024, **kw).batch > 256
    assert P.serve(L8, get_gpu("L40S"), **kw).batch <= 256
    for bad in (0, -3, 2.5, True, "256"):
        with pytest.raises(LlmsizeError, match="max sequences must be a positive integer"):
            P.serve(L8, H100, max_seqs=bad, **kw)


def _offline_row(gpu: str) -> dict:
    """An offline (every request queued) vLLM serving case of Llama 3.1 8B at 128 in / 512 out on one `gpu`."""
    return {"id": "x", "kind": "speed", "category": "serve_throughput", "model": "Llama-3.1-8B",
            "hardware": {"gpu": gpu, "count": 1}, "engine": "vllm",
            "workload": {"task": "serve", "weights": "bf16", "kv_dtype": "bf16", "prompt": 128, "output": 512,
                         "concurrency": "max", "request_rate": None, "tp": 1, "pp": 1, "dp": 1},
            "measured": {"metric": "output_tokens_per_s", "value": 10000.0}}


def test_a_speed_case_carries_max_seqs_to_the_prediction(tmp_path):
    import json

    from llmsize.validate_speed import validate_speed

    row = _offline_row("A100-SXM-80GB")
    cases = [row, {**row, "id": "y", "workload": {**row["workload"], "max_seqs": 1024}}]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    results, _ = validate_speed(path)
    x, y = results
    assert x.error is None and y.error is None and y.predicted > x.predicted
    # a count the schema rules out is a broken file, as every other count of a workload
    for bad, why in ((0, "integer >= 1"), (1 << 17, "at most 65,536")):
        path.write_text(json.dumps({**row, "id": "z", "workload": {**row["workload"], "max_seqs": bad}}) + "\n")
        with pytest.raises(LlmsizeError, match=f"line 1: workload.max_seqs must be (an )?{why}"):
            validate_speed(path)


def test_an_iterations_gemms_hide_only_part_of_the_shorter_of_reads_and_math(monkeypatch):
    """TensorRT-LLM v0.13's 70B FP16 on 4 A100 at 128 in / 2048 out runs ~230 sequences, where the weight
    reads and the math of a decode pass are close (the ridge point): u of the shorter stays exposed. A
    lone sequence's math is a few rows' worth and adds almost nothing; a prompt's own pass keeps max()."""
    import llmsize.speedmodel.efficiency as eff

    a100 = get_gpu("A100-SXM-80GB")
    kw = dict(engine="trt-llm", weights="fp16", kv_dtype="fp16", prompt=128, output=2048, tp=4)
    u = serve_shape()["gemm_unhidden"]
    assert 0 < u <= 1
    assert P.gemm_s(2.0, 3.0, u) == pytest.approx(3.0 + 2.0 * u) and P.gemm_s(3.0, 2.0, 0.0) == 3.0
    full, lone = P.serve(L70, a100, concurrency="max", **kw), P.serve(L70, a100, concurrency=1, **kw)
    monkeypatch.setitem(eff._table(), "serve", {**eff._table()["serve"], "gemm_unhidden": 0.0})
    full0, lone0 = P.serve(L70, a100, concurrency="max", **kw), P.serve(L70, a100, concurrency=1, **kw)
    assert full.batch == full0.batch > 200
    # a decode step's weight reads and its math (2N a row) at this batch: the same order (near the ridge)
    n, e, b = 4, full.efficiency.value, full.batch
    read = P.decode_read_bytes(L70, "fp16", b) / n / (a100.bandwidth * e)
    math_ = P.forward_flops(L70, b, 0) / (n * a100.peak_flops("fp16") * e * serve_shape()["compute_rel"])
    assert 0.25 < read / math_ < 4
    assert full.step_s - full0.step_s == pytest.approx(u * min(read, math_))
    assert lone.step_s - lone0.step_s < 0.02 * lone0.step_s and lone.prefill_s == lone0.prefill_s


def test_llama_cpp_batches_the_slots_asked_for():
    """llama-server decodes its -np slots at once and `export llamacpp` writes -np as the requests served at
    once, up to LLAMA_MAX_SEQ = 256 slots (it had one sequence, llama-bench's, so 8 clients queued behind one)."""
    kw = dict(engine="llama.cpp", weights="Q4_K_M", kv_dtype="f16", prompt=1024, output=256)
    g = get_gpu("RTX-4090")
    eight = P.serve(L8, g, concurrency=8, **kw)
    assert (eight.batch, eight.batch_limit) == (8, "concurrency")
    one = P.serve(L8, g, concurrency=1, **kw)
    assert eight.output_tokens_per_s > 4 * one.output_tokens_per_s
    # every request queued at once: the KV cache bounds it, as for any engine without a cap
    assert P.serve(L8, g, concurrency="max", **kw).batch_limit == "kv"
    # a short request: the memory would hold more than llama-server's 256 slots
    short = P.serve(L8, H100, **{**kw, "prompt": 64, "output": 64}, concurrency=1000)
    assert (short.batch, short.batch_limit) == (256, "max_seqs")
    # vLLM keeps its --max-num-seqs default: 256 on an A100, 1024 on an H100 (what its memory holds below it)
    vllm = dict(engine="vllm", weights="bf16", kv_dtype="bf16", prompt=128, output=512, concurrency=1000)
    assert P.serve(L8, get_gpu("A100-SXM-80GB"), **vllm).batch == 256
    assert P.serve(L8, H100, **vllm).batch_limit == "kv"


def test_a_prompt_runs_through_the_pipeline_stages_one_after_another():
    """One request's prompt under PP visits each stage in turn, each holding 1/PP of the layers: its pass
    takes as long as on one GPU (before, PP2 halved a lone request's TTFT as TP2 would)."""
    kw = dict(engine="vllm", weights="bf16", kv_dtype="bf16", prompt=2048, output=128, concurrency=1)
    one, pp2, tp2 = P.serve(L8, H100, **kw), P.serve(L8, H100, pp=2, **kw), P.serve(L8, H100, tp=2, **kw)
    assert pp2.prefill_s == pytest.approx(one.prefill_s)
    assert pp2.ttft_s == pytest.approx(one.ttft_s)
    assert tp2.ttft_s < one.ttft_s  # TP splits every layer's GEMMs: a lone prompt gains


def test_llama_cpp_pipelines_a_prompts_ubatches_over_its_layer_split():
    """llama.cpp over a layer split overlaps a prompt's 512-token ubatches across the GPUs (its scheduler's
    pipeline parallelism): k ubatches take (k + p - 1) stage steps of 1/k of the prompt each."""
    g = get_gpu("RTX-4090")
    kw = dict(engine="llama.cpp", weights="Q4_K_M", kv_dtype="f16", output=128, concurrency=1)
    for prompt, k in ((512, 1), (2048, 4), (8192, 16)):
        one, pp2 = P.serve(L8, g, prompt=prompt, **kw), P.serve(L8, g, prompt=prompt, pp=2, **kw)
        assert pp2.prefill_s < one.prefill_s or k == 1
        # the pass beyond its fixed per-layer cost shrinks by (k + 1) / (2k)
        body = one.prefill_s - L8.num_layers * serve_shape()["prompt_layer_overhead_s"]
        body2 = pp2.prefill_s - L8.num_layers * serve_shape()["prompt_layer_overhead_s"]
        assert body2 == pytest.approx(body * (k + 1) / (2 * k), rel=1e-9), prompt


def test_a_vllm_v0_run_keeps_v0s_256_sequences_on_a_large_gpu(tmp_path):
    """vLLM's 1024-sequence default on an H100 is V1's (0.8 on): a v0.6 row is timed at V0's 256, and says so."""
    import json

    from llmsize.validate_speed import validate_speed

    row = _offline_row("H100-SXM")
    v0 = {**row, "id": "v0", "source": {"engine_version": "vLLM v0.6.0", "date": "2024-09"}}
    v1 = {**row, "id": "v1", "source": {"engine_version": "vLLM 0.10.2", "date": "2025-10"}}
    pinned = {**v1, "id": "pinned", "workload": {**row["workload"], "max_seqs": 256}}
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in (v0, v1, pinned)))
    (a, b, c), _ = validate_speed(path)
    assert a.predicted == c.predicted < b.predicted
    assert "vLLM V0 build: --max-num-seqs default 256 (V1's on H100-SXM is 1024)" in a.notes
