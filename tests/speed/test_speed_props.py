"""Properties of the speed model that must hold whatever the fitted efficiencies are."""
from __future__ import annotations

from dataclasses import replace

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.speedmodel import predict as P
from llmsize.speedmodel import serving as S
from llmsize.speedmodel.efficiency import efficiency
from llmsize.speedmodel.train import bubble, train

L8 = load("Llama-3.1-8B").spec
L70 = load("Llama-3.1-70B").spec
H100 = get_gpu("H100-SXM")


@pytest.mark.parametrize("tp", [2, 4, 8])
def test_more_gpus_never_beat_linear_scaling(tp):
    one = P.decode(L70, H100, engine="vllm", weights="bf16", kv_dtype="bf16", batch=8, context=1024, tokens=128)
    many = P.decode(L70, H100, engine="vllm", weights="bf16", kv_dtype="bf16", batch=8, context=1024, tokens=128,
                    tp=tp)
    assert many.value < tp * one.value
    t1 = train(L70, H100, engine="megatron", precision="bf16-mixed", seq=4096, micro_batch=1)
    tn = train(L70, H100, engine="megatron", precision="bf16-mixed", seq=4096, micro_batch=1, tp=tp)
    assert tn.tokens_per_s_per_gpu < t1.tokens_per_s_per_gpu  # per GPU: never faster
    tpp = train(L70, H100, engine="megatron", precision="bf16-mixed", seq=4096, pp=tp, micro_batches=8)
    assert tpp.tokens_per_s_per_gpu < t1.tokens_per_s_per_gpu


def test_tp_over_pcie_is_slower_per_gpu_than_over_nvlink():
    pcie_only = replace(H100, interconnect_bw=None)
    kw = dict(engine="vllm", weights="bf16", kv_dtype="bf16", batch=32, context=2048, tokens=128, tp=4)
    assert P.decode(L70, pcie_only, **kw).value < P.decode(L70, H100, **kw).value
    tk = dict(engine="megatron", precision="bf16-mixed", seq=4096, micro_batch=1, tp=8)
    assert train(L70, pcie_only, **tk).tokens_per_s_per_gpu < train(L70, H100, **tk).tokens_per_s_per_gpu
    s = dict(engine="vllm", weights="bf16", kv_dtype="bf16", prompt=1000, output=500, concurrency=64, tp=4)
    assert S.serve(L70, pcie_only, **s).output_tokens_per_s < S.serve(L70, H100, **s).output_tokens_per_s


def test_recomputation_never_speeds_training():
    r = {k: train(L8, H100, engine="torchtitan", precision="bf16-mixed", seq=8192, recompute=k).tokens_per_s_per_gpu
         for k in ("none", "selective", "full")}
    assert r["none"] > r["selective"] > r["full"]
    # MFU counts model FLOPs only: full recomputation's extra forward is hardware work, not model work
    f = train(L8, H100, engine="torchtitan", precision="bf16-mixed", seq=8192, recompute="full")
    assert f.hardware_flops_per_token > f.model_flops_per_token == 6 * f.flops["weights"] // 6 + f.flops["attention"]


def test_throughput_used_for_cost_includes_prefill():
    s = S.serve(L8, H100, engine="vllm", weights="bf16", kv_dtype="bf16", prompt=2000, output=200, concurrency="max")
    decode_only = s.batch / s.step_s
    assert s.output_tokens_per_s < decode_only
    # each iteration carries the batch's decode tokens and the prompts of the requests that replace the
    # finishing ones (B·S_in/S_out tokens): the throughput pays for them all, a request's time per output
    # token for the other B − 1 clients' ((B − 1)·S_in/S_out: its own came before its first token)
    assert s.batch / s.output_tokens_per_s > s.tpot_s > s.step_s
    assert s.input_tokens_per_s == pytest.approx(s.output_tokens_per_s * 10)
    # the same batch with a one-token prompt serves more output tokens per second
    short = S.serve(L8, H100, engine="vllm", weights="bf16", kv_dtype="bf16", prompt=1, output=200,
                    concurrency=s.batch)
    assert short.output_tokens_per_s > s.output_tokens_per_s


@pytest.mark.parametrize("engine", ["vllm", "sglang"])  # a prompt riding in the decode pass, or a pass of its own
def test_replicas_serve_only_the_requests_they_are_given(engine):
    # C requests over dp replicas: one request keeps one replica busy, not dp of them; 10 over 8 replicas of
    # at most 2 each serve 10 of the 16 the replicas could hold
    kw = dict(engine=engine, weights="bf16", kv_dtype="bf16", prompt=1024, output=256)
    one, one_of_8 = S.serve(L8, H100, concurrency=1, **kw), S.serve(L8, H100, concurrency=1, dp=8, **kw)
    assert one_of_8.output_tokens_per_s == pytest.approx(one.output_tokens_per_s) and one_of_8.ttft_s == one.ttft_s
    ten, sixteen = (S.serve(L8, H100, concurrency=c, dp=8, **kw) for c in (10, 16))
    assert ten.batch == sixteen.batch == 2
    assert ten.output_tokens_per_s == pytest.approx(sixteen.output_tokens_per_s * 10 / 16)


@pytest.mark.parametrize("engine, weights, scheduled", [("vllm", "bf16", 4), ("trt-llm", "bf16", 4),
                                                         ("llama.cpp", "Q4_K_M", 1)])
def test_each_micro_batch_under_pp_pays_the_hosts_step(monkeypatch, engine, weights, scheduled):
    # PP4: vLLM and TensorRT-LLM schedule each of the 4 micro-batches in flight as an iteration of its own, so
    # one more ms of fixed host work per iteration adds 4 ms to a decode step;
    # llama.cpp's layer split runs its one batch through the GPUs: 1 ms
    base = S.serve_shape()
    kw = dict(engine=engine, weights=weights, kv_dtype="f16" if engine == "llama.cpp" else "bf16", prompt=512,
              output=128, concurrency=8, pp=4)
    before = S.serve(L8, H100, **kw)
    monkeypatch.setattr(S, "serve_shape", lambda: {**base, "step_overhead_s": base["step_overhead_s"] + 1e-3})
    after = S.serve(L8, H100, **kw)
    assert after.step_s - before.step_s == pytest.approx(scheduled * 1e-3, rel=1e-9)


def test_under_pp_the_next_prompt_waits_for_the_first_stage_not_the_whole_pipeline():
    # prompts arriving at 0.9 per pass time t_p load a PP4 replica's first stage to ρ = 0.9/4: an M/D/1 wait of
    # ρ/(2(1 − ρ))·t_p/4 ≈ 0.04·t_p, not the 4.5·t_p of a queue on the whole pass (TTFT 14 s for DeepSeek-V3
    # at PP16 in `plan`, 0.33 s now)
    kw = dict(engine="vllm", weights="bf16", kv_dtype="bf16", prompt=4096, output=64, concurrency=256, pp=4)
    t_p = S.serve(L70, H100, **kw).prefill_s
    at = S.serve(L70, H100, request_rate=0.9 / t_p, **kw)
    assert t_p < at.ttft_s < 2 * t_p


@pytest.mark.parametrize("new_tokens", [1, 8, 2048])
def test_a_lone_clients_tpot_is_its_decode_step_whatever_its_prompt(new_tokens):
    # one client: no other prompt rides beside its decode (its own came before its first token, in TTFT);
    # 8,192 prompt tokens spread over one new token put TPOT at 243 ms before
    kw = dict(engine="vllm", weights="bf16", kv_dtype="bf16", prompt=8192, output=new_tokens)
    one = S.serve(L8, H100, concurrency=1, **kw)
    assert one.tpot_s == pytest.approx(one.step_s) and one.tpot_p90_s == one.tpot_s
    # 16 clients: the other 15 prompts ride (15·S_in/S_out tokens an iteration), so TPOT is above the step
    many = S.serve(L8, H100, concurrency=16, **kw)
    assert many.tpot_s > many.step_s and many.tpot_p90_s > many.tpot_s


def test_transformers_dynamic_cache_copies_itself_every_step():
    # torch.cat grows each layer's K and V: the whole cache is read and written again every decode step, on top
    # of attention's read (3x the KV bytes); paged and preallocated caches write one token in place
    kw = dict(weights="bf16", kv_dtype="bf16", batch=16, context=512, tokens=512)
    tf, vllm = P.decode(L8, H100, engine="transformers", **kw), P.decode(L8, H100, engine="vllm", **kw)
    assert tf.terms["kv_bytes_per_step"] == pytest.approx(3 * vllm.terms["kv_bytes_per_step"])
    assert P.kv_cache_copy_bytes(L8, "vllm", 768, "bf16") == 0


def test_pipeline_schedules_order_and_the_bubble_is_outside_the_efficiency():
    assert bubble(8, 16, "1f1b") < bubble(8, 16, "interleaved", 2) < bubble(8, 16, "interleaved", 4) \
        < bubble(8, 16, "zero-bubble") == 1.0
    assert bubble(1, 1) == 1.0
    a = train(L70, H100, engine="megatron", precision="bf16-mixed", seq=4096, pp=4, micro_batches=4)
    b = train(L70, H100, engine="megatron", precision="bf16-mixed", seq=4096, pp=1)
    # the bubble multiplies the compute-only rate; the last stage's output layer (3 × the head's time, the
    # head 1.4% of a 70B's matmul FLOPs: 1 / (1 + 0.042)) and the stage-boundary sends add a little on top
    from llmsize.speedmodel.efficiency import train_shape

    work = b.flops["weights"] + b.flops["attention"] / train_shape()["attention_rel"]  # time at one rate
    head = 1 / (1 + 3 * 6 * L70.vocab_size * L70.hidden_size / work)
    ideal = b.tokens_per_s_per_gpu * bubble(4, 4)
    assert 0.99 * ideal * head < a.tokens_per_s_per_gpu < ideal * head
    with pytest.raises(LlmsizeError, match="schedule"):
        bubble(4, 4, "gpipe-ish")


@pytest.mark.parametrize("gpu", ["V100-SXM2-32GB", "T4"])
def test_fp16_only_gpus_are_timed(gpu):
    g = get_gpu(gpu)
    assert P.decode(L8, g, engine="vllm", weights="fp16", kv_dtype="fp16", batch=1, context=0, tokens=128).value > 0
    assert P.prefill(L8, g, engine="vllm", weights="fp16", batch=1, tokens=512).terms["path"] == "fp16"
    assert train(L8, g, engine="deepspeed", precision="bf16-mixed", seq=2048).path == "fp16"
    with pytest.raises(LlmsizeError, match="FP8"):
        train(L8, g, engine="deepspeed", precision="fp8-mixed", seq=2048)


def test_compute_paths_follow_engine_and_weights():
    r4090 = get_gpu("RTX-4090")
    kw = dict(batch=1, context=0, tokens=128, kv_dtype="f16")
    assert P.decode(L8, r4090, engine="llama.cpp", weights="Q4_K_M", **kw).terms["path"] == "int8"
    assert P.decode(L8, r4090, engine="vllm", weights="awq-int4-g128", **kw).terms["path"] == "fp16"
    assert P.decode(L8, H100, engine="trt-llm", weights="fp8", **kw).terms["path"] == "fp8"
    assert P.decode(L8, get_gpu("A100-SXM-80GB"), engine="vllm", weights="fp8", **kw).terms["path"] == "fp16"
    # llama.cpp's F16 GEMMs accumulate in fp16: GeForce runs that at twice its fp32-accumulate rate
    assert P.prefill(L8, r4090, engine="llama.cpp", weights="F16", batch=1, tokens=512).terms["path"] == "fp16acc"
    assert r4090.peak_flops("fp16acc") == pytest.approx(2 * r4090.peak_flops("fp16"), rel=1e-3)
    assert H100.peak_flops("fp16acc") == \
        H100.peak_flops("fp16")


def test_every_gguf_type_is_timed_and_smaller_types_decode_faster():
    kw = dict(engine="llama.cpp", kv_dtype="f16", batch=1, context=0, tokens=128)
    g = get_gpu("RTX-4090")
    rates = [P.decode(L8, g, weights=w, **kw).value for w in ("F16", "Q8_0", "Q6_K", "Q4_K_M", "IQ2_XXS")]
    assert rates == sorted(rates)


def test_decode_reads_one_embedding_row_and_the_kv_attended():
    full = P.weight_bytes(L8, "bf16")
    read = P.weight_read_bytes(L8, "bf16")
    emb = L8.vocab_size * L8.hidden_size * 2
    assert full - read == emb - emb // L8.vocab_size  # untied: the table is a lookup of one row
    tied = load("Llama-3.2-1B").spec
    assert tied.tie_word_embeddings and P.weight_read_bytes(tied, "bf16") == P.weight_bytes(tied, "bf16")
    kw = dict(engine="vllm", weights="bf16", kv_dtype="bf16", batch=8, tokens=128)
    short, long = P.decode(L8, H100, context=0, **kw), P.decode(L8, H100, context=32768, **kw)
    assert long.terms["bytes_per_step"] - short.terms["bytes_per_step"] == \
        8 * 32768 * P.kv_bytes_per_token(L8, "bf16")


def test_request_rate_mode_queues_and_refuses_overload():
    kw = dict(engine="vllm", weights="bf16", kv_dtype="bf16", prompt=1000, output=200, concurrency="max")
    peak = S.serve(L8, H100, **kw)
    req_max = peak.output_tokens_per_s / 200
    lo = S.serve(L8, H100, request_rate=0.2 * req_max, **kw)
    hi = S.serve(L8, H100, request_rate=0.9 * req_max, **kw)
    assert lo.ttft_s < hi.ttft_s and lo.ttft_p90_s <= hi.ttft_p90_s and lo.batch <= hi.batch
    assert lo.ttft_s <= lo.ttft_p90_s and lo.tpot_s <= lo.tpot_p90_s
    with pytest.raises(LlmsizeError, match="overloaded"):
        S.serve(L8, H100, request_rate=1.1 * req_max, **kw)


def test_efficiency_lookup_says_its_key_and_falls_back():
    e = efficiency("llama.cpp", get_gpu("RTX-4090"), "decode", path="int8")
    assert e.key == "llama.cpp/geforce/decode-int8" and e.rows > 0
    e = efficiency("vllm", get_gpu("MI300X"), "train")
    assert e.key.endswith("/train") and e.key.startswith("*/")
    assert efficiency("vllm", H100, "serve", 0.5).key == "given/serve"
    with pytest.raises(LlmsizeError, match="engine"):
        efficiency("tgi-ish", H100, "serve")


def test_data_parallel_traffic_over_pcie_is_exposed_and_full_shard_pays_more():
    """8 × RTX 4090 (PCIe only) with a small step: the gradient/parameter collectives outlast compute;
    FSDP's three collectives cost more than DDP's all-reduce; on NVLink H100s the same step hides them."""
    g = get_gpu("RTX-4090")
    kw = dict(engine="fsdp", precision="bf16-mixed", seq=512, recompute="full", dp=8, step_tokens=8 * 512)
    alone = train(L8, g, engine="fsdp", precision="bf16-mixed", seq=512, recompute="full").tokens_per_s_per_gpu
    ddp = train(L8, g, shard="none", **kw).tokens_per_s_per_gpu
    full = train(L8, g, shard="full", **kw).tokens_per_s_per_gpu
    assert full < ddp < alone
    h = dict(kw, step_tokens=2048 * 512)
    assert train(L8, H100, shard="full", **h).tokens_per_s_per_gpu == pytest.approx(
        train(L8, H100, engine="fsdp", precision="bf16-mixed", seq=512, recompute="full").tokens_per_s_per_gpu)


def test_interconnect_catalogue_is_sourced_and_the_gpu_catalogue_agrees():
    from llmsize.speedmodel.comm import NETWORK_BYTES_PER_S, links, link_bytes_per_s

    lk = links()
    assert {x["kind"] for x in lk.values()} == {"nvlink", "pcie", "network"}
    assert all(x["source"].startswith("https://") and x["retrieved"] for x in lk.values())
    assert NETWORK_BYTES_PER_S == lk["InfiniBand-NDR"]["bytes_per_s"] == 50e9
    # one direction of the GPU catalogue's bidirectional NVLink / PCIe figures
    assert link_bytes_per_s(H100, 8) == lk["NVLink4"]["bytes_per_s"]
    assert link_bytes_per_s(get_gpu("A100-SXM-80GB"), 8) == lk["NVLink3"]["bytes_per_s"]
    assert link_bytes_per_s(get_gpu("RTX-4090"), 2) == lk["PCIe4"]["bytes_per_s"]
    assert link_bytes_per_s(H100, 16) == NETWORK_BYTES_PER_S


def test_pipeline_expert_and_context_exchanges_cost_more_across_nodes():
    """PP sends, EP all-to-alls and the CP ring are timed over NVLink inside a node and over the network
    across nodes (catalog/interconnects.toml): spreading a group over nodes is never faster."""
    from llmsize.speedmodel.comm import train_stage_comm_s

    mix = load("Mixtral-8x7B-v0.1").spec
    kw = dict(virtual_stages=1, mb_tokens=8192, passes=2)
    inside = train_stage_comm_s(mix, H100, tp=1, pp=2, cp=1, ep=4, dp=4, **kw)  # 8 GPUs: one node
    across = train_stage_comm_s(mix, H100, tp=1, pp=2, cp=1, ep=4, dp=4, gpus_per_node=2, **kw)
    assert 0 < inside["pp"] < across["pp"] and 0 < inside["ep"] < across["ep"]
    cp_in = train_stage_comm_s(L70, H100, tp=2, pp=1, cp=4, ep=1, **kw)["cp"]
    cp_out = train_stage_comm_s(L70, H100, tp=2, pp=1, cp=4, ep=1, gpus_per_node=4, **kw)["cp"]
    assert 0 < cp_in < cp_out
    assert train_stage_comm_s(L70, H100, tp=8, pp=1, cp=1, ep=8, **kw)["ep"] == 0  # a dense model has no experts
    # in the rate: expert parallelism across nodes is slower per GPU than inside one
    a = train(mix, H100, engine="megatron", precision="bf16-mixed", seq=4096, ep=8)
    b = train(mix, H100, engine="megatron", precision="bf16-mixed", seq=4096, ep=8, gpus_per_node=4)
    # (no EP is not the ceiling: EP 8 gathers 8x the tokens per expert GEMM, test_train_props.py)
    assert b.tokens_per_s_per_gpu < a.tokens_per_s_per_gpu


def test_fp8_training_is_faster_on_hopper_and_refused_without_fp8_units():
    bf = train(L70, H100, engine="megatron", precision="bf16-mixed", seq=4096)
    f8 = train(L70, H100, engine="megatron", precision="fp8-mixed", seq=4096)
    assert f8.path == "fp8" and f8.tokens_per_s_per_gpu > bf.tokens_per_s_per_gpu
    with pytest.raises(LlmsizeError, match="FP8"):
        train(L70, get_gpu("A100-SXM-80GB"), engine="megatron", precision="fp8-mixed", seq=4096)
