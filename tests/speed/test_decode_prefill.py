"""Single-stream llama.cpp decode and prefill: the named Llama-2-7B Q4_0 anchors on an RTX 4090 and an H100,
and the structure of a decode step (what it reads, what grows with context, the fixed cost per layer).

The anchors' source: XiongjieDai/GPU-Benchmarks-on-LLM-Inference, README 'Overview' table (LLaMA 2,
December 2023, llama.cpp ./main on RunPod): Llama-2-7B Q4_0 eval speed 149.37 tokens/s on an RTX 4090 and
133.77 on an H100 PCIe, builds from before llama.cpp's CUDA graphs. The CUDA scoreboard (ggml-org/llama.cpp
discussion 15013, builds of 2025, -fa 0) could not be read from this workplace directly; its entries were read
as transcribed with their commits by a public GPU catalog (the scoreboard-* rows): RTX 4090 tg128 186.21 and
pp512 11,992.70 tokens/s. It has no H100 entry there."""
from __future__ import annotations

import json

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.speedmodel.efficiency import arch_of, decode_shape
from llmsize.speedmodel.predict import decode, kv_bytes_per_token, weight_bytes, weight_read_bytes
from llmsize.validate_speed import model_spec, parse_case, predict_case
from script_render import load_script
from tests.conftest import DATA

ROWS = [json.loads(x) for x in (DATA / "speed_calib.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("rid, measured, lo, hi", [
    # RTX 4090: predicted 136.0 (-9%): the GeForce group's median efficiency is set by 2024-2025 rows
    ("xd-llama2-rtx4090-llama27b-q4_0-tg1024", 149.37, 132, 140),
    # H100 PCIe: predicted 135.5 (+1%): Hopper's fixed 140 µs per layer and 0.7 of its bandwidth, from the
    # 7B and 70B rows of the same table
    ("xd-llama2-h100pcie-llama27b-q4_0-tg1024", 133.77, 131, 140),
    # the scoreboard's RTX 4090 (a 2025 build with CUDA graphs): predicted 176.2 (-5.4%)
    ("scoreboard-rtx4090-llama2-7b-q4_0-tg128", 186.21, 172, 190),
])
def test_llama2_7b_q4_0_decode_anchors(rid, measured, lo, hi):
    n, row = next((i, r) for i, r in enumerate(ROWS, 1) if r["id"] == rid)
    assert row["model"] == "Llama-2-7b-hf" and row["workload"]["weights"] == "Q4_0"
    assert row["measured"]["value"] == measured
    assert "XiongjieDai" in row["source"]["url"] or row["source"]["url"].endswith("discussions/15013")
    assert lo <= predict_case(parse_case(row, n, rid)).predicted <= hi


def test_fit_skips_rows_on_gpus_not_in_the_catalog_yet():
    fit = load_script("scripts/fit_speed.py")
    assert fit.gpu_known("RTX-4090") and not fit.gpu_known("RTX-3070-not-a-gpu")
    rows = fit.load_rows(quiet=True)
    assert rows and all(fit.gpu_known(r["hardware"]["gpu"]) for r in rows)


def _dec(spec, gpu, **kw):
    args = dict(engine="llama.cpp", weights="Q4_0", kv_dtype="f16", batch=1, context=0, tokens=128)
    return decode(spec, gpu, **{**args, **kw})


def test_decode_reads_one_embedding_row_per_token():
    """An untied input embedding is a lookup: the step reads one row of it, the output head whole."""
    spec = model_spec("Llama-2-7b-hf", "x")
    v, d = spec.vocab_size, spec.hidden_size
    table = weight_bytes(spec, "F16") - weight_read_bytes(spec, "F16")
    assert table == 2 * v * d - 2 * d  # the F16 table less one F16 row
    assert _dec(spec, get_gpu("RTX-4090"), weights="F16").terms["bytes_per_step"] < weight_bytes(spec, "F16")


def test_kv_read_grows_with_context_and_without_flash_attention():
    spec, gpu = model_spec("Llama-3.1-8B", "x"), get_gpu("RTX-3090")
    kv = kv_bytes_per_token(spec, "f16")
    short, long = _dec(spec, gpu), _dec(spec, gpu, context=8192)
    assert long.terms["kv_bytes_per_step"] - short.terms["kv_bytes_per_step"] == pytest.approx(8192 * kv)
    assert long.value < short.value
    # without a fused kernel each KV head is read once per query head sharing it (Llama 3 8B: 32 / 8 = 4)
    nofa = _dec(spec, gpu, context=8192, flash_attn=False)
    assert nofa.terms["kv_bytes_per_step"] == pytest.approx(4 * long.terms["kv_bytes_per_step"])
    assert nofa.value < long.value
    # a multi-head model (Llama 2 7B: one query head per KV head) reads the same either way
    mha = model_spec("Llama-2-7b-hf", "x")
    assert _dec(mha, gpu, context=2048, flash_attn=False).value == _dec(mha, gpu, context=2048).value


def test_fixed_cost_per_layer_is_per_architecture():
    """Small models fall further short of the bandwidth roofline: the fixed cost per layer is a larger part
    of their step; it is fitted per GPU architecture (kernel launches differ by backend)."""
    h100, m2 = get_gpu("H100-PCIe"), get_gpu("M2-Ultra")
    assert arch_of(h100) == "hopper" and arch_of(m2) == "apple"
    gpu = get_gpu("RTX-4090")
    by_arch = {a: decode_shape(g)["layer_overhead_s"] for a, g in (("hopper", h100), ("apple", m2), ("geforce", gpu))}
    assert len(set(by_arch.values())) > 1, by_arch  # each GPU reads its own class's fitted value
    small, big = model_spec("Llama-3.2-1B", "x"), model_spec("Llama-2-13b-hf", "x")
    bw_share = [_dec(s, gpu).terms["memory_s"] / _dec(s, gpu).terms["step_s"] for s in (small, big)]
    assert bw_share[0] < bw_share[1]


def test_bad_flash_attn_field_is_refused():
    from llmsize.errors import LlmsizeError

    row = dict(next(r for r in ROWS if r["id"] == "xd-llama2-rtx4090-llama27b-q4_0-tg1024"))
    row["workload"] = {**row["workload"], "flash_attn": "yes"}
    with pytest.raises(LlmsizeError, match="flash_attn must be true, false or null"):
        predict_case(parse_case(row, 1, row["id"]))


def test_metal_dequantising_kernels_have_their_own_efficiency():
    """A GGUF block type on a GPU without int8 units (Metal) runs dequantise-in-kernel matrix products, no
    faster than its F16 ones (both reach the width-limited fp16 roofline on Apple's rows, the table's
    cap of 1) and the k-quant super-blocks slower: their own keys (``prefill-q``, ``prefill-kq``,
    ``decode-q``); CUDA's quantized kernels stay on the int8 path."""
    from llmsize.speedmodel.predict import prefill

    spec = model_spec("Llama-2-7b-hf", "x")
    m2, ada = get_gpu("M2-Ultra"), get_gpu("RTX-4090")
    kw = dict(engine="llama.cpp", batch=1, tokens=512)
    q, f16 = prefill(spec, m2, weights="Q4_0", **kw), prefill(spec, m2, weights="F16", **kw)
    assert q.efficiencies[0].key == "llama.cpp/apple/prefill-q" and f16.efficiencies[0].key == "llama.cpp/apple/prefill"
    kq = prefill(spec, m2, weights="Q4_K_M", **kw)
    assert kq.efficiencies[0].key == "llama.cpp/apple/prefill-kq"
    assert kq.efficiencies[0].value < q.efficiencies[0].value <= f16.efficiencies[0].value
    assert _dec(spec, m2).efficiencies[0].key == "llama.cpp/apple/decode-q"
    assert prefill(spec, ada, weights="Q4_0", **kw).efficiencies[0].key == "llama.cpp/geforce/prefill-int8"


def test_a_prompt_micro_batch_reads_its_weights_and_a_moes_can_bound_it():
    """Each n_ubatch-token micro-batch reads the weights it multiplies by: a dense 7B's math outweighs that
    on an RTX 4090, while a micro-batch of Qwen3-30B-A3B touches nearly all 128 experts of every layer
    (8 a token), 17 GiB of Q4_K_M against 3.3B active parameters' math: at llama-bench -ub 128 the reads
    bound a 512-token prompt."""
    from llmsize.speedmodel.efficiency import efficiency
    from llmsize.speedmodel.predict import decode_read_bytes, prefill

    g = get_gpu("RTX-4090")
    dense = prefill(model_spec("Llama-2-7b-hf", "x"), g, engine="llama.cpp", weights="Q4_0", batch=1, tokens=512)
    assert dense.terms["bound"] == "compute" and dense.terms["read_s"] < 0.2 * dense.terms["compute_s"]
    moe = model_spec("Qwen3-30B-A3B", "x")
    r = prefill(moe, g, engine="llama.cpp", weights="Q4_K_M", batch=1, tokens=512, ubatch=128)
    assert r.terms["bound"] == "memory" and r.terms["read_s"] > r.terms["compute_s"]
    e = efficiency("llama.cpp", g, "decode", None, r.terms["path"], "Q4_K_M").value
    one = decode_read_bytes(moe, "Q4_K_M", 128)
    assert 0.999 < one / weight_read_bytes(moe, "Q4_K_M") < 1  # 1 - (1 - 8/128)^128 of the experts
    assert r.terms["read_s"] == pytest.approx(4 * one / (g.bandwidth * e))
    assert r.value == pytest.approx(512 / (r.terms["read_s"] + r.terms["scores_s"]))
    # the default micro-batch of 512 reads them once
    r512 = prefill(moe, g, engine="llama.cpp", weights="Q4_K_M", batch=1, tokens=512)
    assert r512.terms["read_s"] == pytest.approx(decode_read_bytes(moe, "Q4_K_M", 512) / (g.bandwidth * e))
