"""The FP4 compute path and the k-quant prompt key of Metal's quantized prompts."""
from __future__ import annotations

import pytest

from llmsize.catalog import hardware as hw
from llmsize.load import load
from llmsize.speedmodel.efficiency import is_super_block, phase_key, serve_path
from llmsize.speedmodel.predict import prefill
from llmsize.speedmodel.serving import serve


# ------------------------------------------------------------------ FP4

def test_fp4_rates_are_dense_and_sourced():
    b200, b300, r5090, pro = (hw.get_gpu(n) for n in ("B200", "B300", "RTX-5090", "RTX-PRO-6000"))
    assert b200.peak_flops("fp4") == 9e15 == 2 * b200.peak_flops("fp8")
    assert b300.peak_flops("fp4") == 13.5e15 == 3 * b300.peak_flops("fp8")  # Blackwell Ultra: 1.5x B200's fp4
    assert r5090.peak_flops("fp4") == pytest.approx(4 * r5090.peak_flops("fp8"), rel=1e-3)  # GeForce fp8 is fp32-acc
    assert pro.peak_flops("fp4") == 2 * pro.peak_flops("fp8")
    for g in hw.gpus():
        if g.has("fp4"):
            assert "fp4 (dense" in g.note and g.flops["fp4"] >= g.flops["fp8"], g.name
    assert not hw.get_gpu("H100-SXM").has("fp4")


# the 16-bit stand-in of a weight-only format is fp16 (serve_path: weight-only formats dequantise to fp16)
@pytest.mark.parametrize(("engine", "weights", "gpu", "path"), [
    ("trt-llm", "nvfp4", "B200", "fp4"),  # W4A4
    ("vllm", "nvfp4", "RTX-PRO-6000", "fp4"),
    ("sglang", "nvfp4", "GB200", "fp4"),
    ("vllm", "nvfp4", "H100-SXM", "fp16"),  # Marlin weight-only
    ("trt-llm", "mxfp4", "B200", "fp8"),  # W4A8: MXFP8 activations
    ("sglang", "mxfp4", "GB300", "fp8"),
    ("vllm", "mxfp4", "B200", "fp16"),  # FlashInfer MXFP4 x BF16, vLLM's default
    ("trt-llm", "mxfp4", "H200-SXM", "fp16"),  # Triton, 16-bit math
    ("trt-llm", "mxfp4", "RTX-PRO-6000", "fp16"),
    ("llama.cpp", "MXFP4", "B200", "int8"),  # MMQ
])
def test_four_bit_paths(engine, weights, gpu, path):
    assert serve_path(engine, weights, hw.get_gpu(gpu)) == path


def test_an_fp4_checkpoint_serves_faster_than_its_bf16_on_compute_bound_work():
    spec = load("Llama-3.3-70B-Instruct").spec
    g = hw.get_gpu("B200")
    kw = dict(engine="trt-llm", kv_dtype="fp8", prompt=8192, output=1024, concurrency="max", serve_efficiency=0.5)
    fp4, bf16 = serve(spec, g, weights="nvfp4", **kw), serve(spec, g, weights="bf16", tp=2, **kw)
    assert fp4.path == "fp4" and bf16.path == "bf16"
    assert fp4.prompt_compute_s < bf16.prompt_compute_s


# ------------------------------------------------------------------ k-quant prompts on the 16-bit path

def test_k_quant_prompts_on_metal_have_their_own_key():
    assert is_super_block("Q4_K_M") and is_super_block("IQ4_XS") and is_super_block("q6_k")
    assert not is_super_block("Q4_0") and not is_super_block("Q8_0")
    assert phase_key("prefill", "fp16", "Q4_K_M") == "prefill-kq"
    assert phase_key("prefill", "fp16", "Q4_0") == "prefill-q"
    assert phase_key("decode", "fp16", "Q4_K_M") == "decode-q"  # a decode step's unpacking is dequant_s
    assert phase_key("prefill", "int8", "Q4_K_M") == "prefill-int8"


def test_apple_k_quant_prompts_run_below_legacy_ones():
    spec = load("Llama-2-7b-hf").spec
    g = hw.get_gpu("M2-Ultra")
    q4_0 = prefill(spec, g, engine="llama.cpp", weights="Q4_0", batch=1, tokens=512)
    q4_k = prefill(spec, g, engine="llama.cpp", weights="Q4_K_M", batch=1, tokens=512)
    assert q4_k.efficiencies[0].key.endswith("prefill-kq") and q4_0.efficiencies[0].key.endswith("prefill-q")
    assert q4_k.efficiencies[0].value < q4_0.efficiencies[0].value
