"""Exact layouts of the non-GGUF formats, and published checkpoint sizes from the config alone."""
import pytest
from quant_specs import spec

from llmsize.errors import LlmsizeError
from llmsize.quant import layouts
from llmsize.quant.formats import get_format, list_formats, weight_plan

GIB = 2**30


def test_llama_33_70b_fp8_dynamic(specs):
    """RedHatAI Llama-3.3-70B-Instruct-FP8-dynamic: 67.68 GiB of weights (fp8 Linear weights with bf16
    per-channel scales; embeddings, lm_head and norms bf16)."""
    p = weight_plan(specs["llama-3.3-70b"], "fp8")
    assert p.bytes == 72_669_806_592
    assert abs(p.bytes / GIB - 67.68) / 67.68 < 0.005
    head = next(t for t in p.tensors if t.role == "output")
    assert head.format == "bf16"


def test_qlora_llama2_7b_nf4_double_quant(specs):
    """NF4 + double quant, Llama-2-7B: 3.60 GiB, inside the 3.5-3.9 GiB that QLoRA users report.
    Terms: 6,476,005,376 quantized params -> 3,238,002,688 packed bytes + 101,187,584 uint8 absmax +
    1,581,056 fp32 nested absmax + 1 KiB nested code per tensor; embeddings + head 524,288,000 bytes bf16."""
    p = weight_plan(specs["llama-2-7b"], "nf4-dq")
    q = [t for t in p.tensors if t.format == "nf4-dq"]
    assert sum(t.params for t in q) == 6_476_005_376
    parts = {}
    for t in q:
        for k, v in t.parts:
            parts[k] = parts.get(k, 0) + v
    assert parts["weight"] == 3_238_002_688
    assert parts["absmax"] == 6_476_005_376 // 64
    assert parts["nested_quant_map"] == 224 * 1024 and parts["quant_map"] == 224 * 64
    kept = sum(t.bytes for t in p.tensors if t.format == "bf16")
    assert kept == 2 * (2 * 32000 * 4096 + 65 * 4096)
    assert 3.5 < p.bytes / GIB < 3.9
    assert round(p.bytes / GIB, 2) == 3.60
    # without double quant the absmax are fp32: 4 bytes per 64 weights more
    assert weight_plan(specs["llama-2-7b"], "nf4").bytes - p.bytes > 2.9 * parts["absmax"]


def test_gpt_oss_mxfp4(specs):
    """gpt-oss model card: checkpoints of 12.8 GiB (20b) and 60.8 GiB (120b): MXFP4 experts, bf16 rest."""
    p = weight_plan(specs["gpt-oss-20b"], "mxfp4")
    assert round(p.bytes / GIB, 1) == 12.8
    assert round(weight_plan(specs["gpt-oss-120b"], "mxfp4").bytes / GIB, 1) == 60.8
    assert {t.format for t in p.tensors if t.role == "ffn_down_exps"} == {"mxfp4"}
    assert {t.format for t in p.tensors if t.role == "attn_q"} == {"bf16"}


def test_layouts_exact():
    assert layouts.gptq(4096, 4096, bits=4, group=128) == (
        ("qweight", 4096 * 4096 // 2), ("qzeros", 32 * 512 * 4), ("scales", 32 * 4096 * 2), ("g_idx", 4096 * 4))
    assert layouts.awq(11008, 4096) == (("qweight", 4096 * 1376 * 4), ("qzeros", 32 * 1376 * 4),
                                        ("scales", 32 * 11008 * 2))
    assert layouts.bnb_int8(8, 16) == (("weight", 128), ("SCB", 32), ("weight_format", 1))
    assert layouts.mxfp4(2880, 2880) == (("blocks", 2880 * 1440), ("scales", 2880 * 90))
    assert dict(layouts.nvfp4(64, 64)) == {"weight": 2048, "weight_scale": 256, "weight_scale_2": 4, "input_scale": 4}
    assert dict(layouts.fp8(300, 200, scale="block")) == {"weight": 60000, "weight_scale_inv": 3 * 2 * 4}
    assert sum(b for _, b in layouts.gptq(4096, 4096, bits=3, group=128)) == (
        4096 * 4096 * 3 // 8 + 32 * 384 * 4 + 32 * 4096 * 2 + 4096 * 4)


def test_group_size_must_divide():
    with pytest.raises(LlmsizeError, match="group size 96 does not divide the input dimension 4096"):
        layouts.gptq(4096, 4096, group=96)
    with pytest.raises(LlmsizeError, match="does not divide"):
        weight_plan(spec("tiny-llama"), "gptq-int4-g100")


def test_unknown_format():
    with pytest.raises(LlmsizeError, match="unknown weight format 'nf5'"):
        get_format("nf5")
    with pytest.raises(LlmsizeError, match="did you mean"):
        get_format("Q4_K_MM")


def test_format_names():
    assert get_format("gptq-w3g64").key == "gptq-int3-g64"
    assert get_format("GPTQ-int8-g-1").options == {"bits": 8, "group": -1, "g_idx": True}
    assert get_format("gguf-q4_k_m").key == "Q4_K_M" and get_format("q4_k").key == "Q4_K_M"
    assert get_format("qlora").key == "nf4-dq"


def test_never_zero_bytes(specs):
    for f in list_formats():
        p = weight_plan(specs["tiny-llama"], f)
        assert p.bytes > 0 and p.params == sum(t.params for t in p.tensors)


def test_what_stays_16_bit(specs):
    p = weight_plan(specs["mixtral-8x7b"], "gptq-int4-g128")
    fmt = {t.role: t.format for t in p.tensors}
    assert fmt["token_embd"] == fmt["output"] == fmt["ffn_gate_inp"] == fmt["norm"] == "bf16"
    assert fmt["ffn_gate_up_exps"] == fmt["attn_q"] == "gptq-int4-g128"
