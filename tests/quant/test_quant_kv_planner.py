"""KV-cache dtypes, the quantization planner and QLoRA terms."""
from fractions import Fraction

import pytest

from llmsize.errors import LlmsizeError
from llmsize.quant.formats import weight_plan
from llmsize.quant.kv import kv_bytes_per_element, kv_cache_bytes, kv_dtype, kv_row_bytes
from llmsize.quant.planner import active_weight_bytes, plan_quant, weights_and_kv
from llmsize.quant.qlora import lora_params, qlora_memory


def test_kv_bytes_per_element():
    assert kv_bytes_per_element("fp16") == 2 and kv_bytes_per_element("bf16") == 2
    assert kv_bytes_per_element("fp8") == 1 == kv_bytes_per_element("fp8_e5m2")
    assert kv_bytes_per_element("q8_0") == Fraction(34, 32)
    assert kv_bytes_per_element("q4_0") == Fraction(18, 32) == kv_bytes_per_element("iq4_nl")
    assert kv_bytes_per_element("q4_1") == Fraction(20, 32)
    assert kv_bytes_per_element("q5_0") == Fraction(22, 32) and kv_bytes_per_element("q5_1") == Fraction(24, 32)
    assert kv_dtype("Q8_0") == "q8_0" and kv_dtype("f16") == "fp16"
    with pytest.raises(LlmsizeError, match="unknown KV-cache dtype 'q3_k'"):
        kv_dtype("q3_k")


def test_kv_row_exact_and_block_rule():
    assert kv_row_bytes("q8_0", 1024) == 32 * 34
    with pytest.raises(LlmsizeError, match="not a multiple"):
        kv_row_bytes("q4_0", 48)


def test_kv_cache_bytes(specs):
    s = specs["llama-3.1-8b"]
    # 2 (K, V) · 32 layers · 8 KV heads · 128 · 2 bytes = 128 KiB per token
    assert kv_cache_bytes(s, 1, "bf16") == 131072
    assert kv_cache_bytes(s, 8192, "q8_0") == 8192 * 32 * 2 * 32 * 34
    g = specs["gpt-oss-20b"]  # half the layers slide over 128 tokens
    assert kv_cache_bytes(g, 1000, "bf16") == (12 * 1000 + 12 * 128) * 2 * 8 * 64 * 2
    ds = specs["deepseek-r1"]  # MLA caches the 512 + 64 latent
    assert kv_cache_bytes(ds, 1, "bf16") == 61 * 576 * 2


def test_planner_rows_sorted_and_fit(specs):
    r = plan_quant(specs["llama-3.1-8b"], gpu="24GiB", context=8192)
    assert r.best is not None and r.best.fits
    fits = [x for x in r.rows if x.fits]
    assert [x.weight_bytes for x in fits] == sorted((x.weight_bytes for x in fits), reverse=True)
    q4 = next(x for x in r.rows if x.format == "Q4_K_M")
    assert q4.quality is not None and q4.quality.value == 0.1754
    assert q4.max_context is not None and q4.max_context >= 8192
    assert any(f == "mxfp4" for f, _ in r.skipped)


def test_planner_max_context_and_no_fit(specs):
    s = specs["llama-3.3-70b"]
    r = plan_quant(s, gpu="48GiB", context=4096, formats=["bf16", "Q4_K_M"], memory=weights_and_kv)
    bf16 = next(x for x in r.rows if x.format == "bf16")
    q4 = next(x for x in r.rows if x.format == "Q4_K_M")
    assert bf16.fits is False and bf16.max_context is None
    usable = 48 * 2**30
    c = q4.max_context
    assert c is not None and q4.weight_bytes + kv_cache_bytes(s, c) <= usable < q4.weight_bytes + kv_cache_bytes(s, c + 1)
    assert r.rows[0].format == "Q4_K_M"  # what fits comes first


def test_decode_speed_from_bandwidth(specs):
    s = specs["mixtral-8x7b"]
    plan = weight_plan(s, "Q4_0")
    active = active_weight_bytes(s, plan)
    assert active < plan.bytes * 0.35  # 2 of 8 experts
    r = plan_quant(s, gpu="H100", context=1, formats=["Q4_0"])
    row = r.rows[0]
    assert row.decode_tokens_per_s == pytest.approx(r.bandwidth / (active + row.kv_bytes))


def test_planner_explicit_bad_format(specs):
    with pytest.raises(LlmsizeError, match="does not divide"):
        plan_quant(specs["tiny-llama"], formats=["gptq-int4-g100"])


def test_qlora_llama2_7b_peft_counts(specs):
    """peft's print_trainable_parameters for Llama-2-7B loaded in 4-bit with LoRA r=64 on all linear
    layers: 'trainable params: 159,907,840 || all params: 3,660,320,768' (4-bit weights counted as
    packed uint8 pairs)."""
    s = specs["llama-2-7b"]
    n, targets = lora_params(s, 64)
    assert n == 159_907_840
    assert targets == ("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj")
    plan = weight_plan(s, "nf4-dq")
    packed = sum(t.params // 2 for t in plan.tensors if t.format == "nf4-dq")
    kept = sum(t.params for t in plan.tensors if t.format == "bf16")
    assert packed + kept + n == 3_660_320_768
    m = qlora_memory(s, rank=64)
    assert m.weights_bytes == plan.bytes
    terms = {t.name: t.value for t in m.terms}
    assert terms["optimizer states"] == 8 * n and terms["LoRA adapters"] == 4 * n == terms["adapter gradients"]
    assert {t.name: t.value for t in qlora_memory(s, rank=64, adapter_dtype="bf16").terms}["LoRA adapters"] == 2 * n
    assert terms["dequantized weight (transient)"] == 2 * 11008 * 4096


def test_qlora_bad_target(specs):
    with pytest.raises(LlmsizeError, match="not Linear modules"):
        lora_params(specs["llama-2-7b"], 8, ["query"])


def test_memory_bridge_uses_exact_weight_bytes(specs):
    from llmsize.memory import Workload, estimate
    from llmsize.quant.memory_bridge import inference_bytes

    s = specs["llama-3.1-8b"]
    plan = weight_plan(s, "Q4_K_M")
    total, kv, other, _ = inference_bytes(s, plan, 4096, "bf16", 1)
    est = estimate(s, Workload(mode="generate", seq_len=4096, new_tokens=1, kv_cache_dtype="bf16"),
                   weights_bytes_override=plan.bytes)
    assert total == est.peak_bytes and other == total - plan.bytes - kv
    t8, kv8, _, _ = inference_bytes(s, plan, 4096, "q8_0", 1)
    assert kv8 * 32 == kv * 34 // 2 and t8 - kv8 == total - kv  # same cache, 34 bytes per 32 values
    nf4 = weight_plan(s, "nf4")
    tn, _, _, _ = inference_bytes(s, nf4, 4096, "bf16", 1)
    assert tn > nf4.bytes + kv  # bitsandbytes: plus its dequantization buffer


def test_qlora_peak_through_memory(specs):
    from llmsize.quant.qlora import qlora_peak

    s = specs["llama-2-7b"]
    est = qlora_peak(s, rank=64, seq_len=512)
    assert est.trainable_params == 159_907_840
    assert est.weights_bytes == weight_plan(s, "nf4-dq").bytes + 4 * 159_907_840  # + fp32 adapters
    assert 5 * 2**30 < est.peak_bytes < 8 * 2**30
