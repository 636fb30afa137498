"""The checkpoint's own format is the default: quantization_config, safetensors and GGUF headers drive the
weight bytes of `infer` (and the API); `--weights` overrides with the override named."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.load import load
from llmsize.quant.formats import weight_plan
from llmsize.quant.native import choose_weights, native_weights, quant_config_format


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def infer_json(*args: str) -> dict:
    r = cli("infer", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_gpt_oss_120b_fits_one_h100_in_mxfp4():
    d = infer_json("gpt-oss-120b", "--gpu", "H100")
    spec = load("gpt-oss-120b").spec
    assert d["weights"]["format"] == "mxfp4" and d["weights"]["origin"] == "quantization_config"
    assert d["weights_bytes"] == weight_plan(spec, "mxfp4").bytes
    assert d["device"]["fits"] is True
    as_bf16 = infer_json("gpt-oss-120b", "--gpu", "H100", "--weights", "bf16")
    assert as_bf16["weights"]["origin"] == "--weights" and as_bf16["device"]["fits"] is False
    assert as_bf16["weights_bytes"] > 3 * d["weights_bytes"]


def test_deepseek_v3_weights_are_fp8():
    d = infer_json("DeepSeek-V3")
    assert d["weights"]["format"] == "fp8-block"
    assert d["weights_bytes"] == weight_plan(load("DeepSeek-V3").spec, "fp8-block").bytes


def test_float_checkpoint_keeps_its_dtype_and_any_quant_format_is_accepted():
    d = infer_json("Llama-3.1-8B")
    assert d["weights"] == {"format": "bf16", "origin": "config dtype", "file_bytes": None, "note": None,
                            "bytes": d["weights_bytes"]}
    q = infer_json("Llama-3.1-8B", "--weights", "Q4_K_M")
    assert q["weights_bytes"] == weight_plan(load("Llama-3.1-8B").spec, "Q4_K_M").bytes
    r = cli("infer", "Llama-3.1-8B", "--weights", "Q4_K_X")
    assert r.returncode == 2 and "unknown weight format" in r.stderr


@pytest.mark.parametrize("q, key", [
    ({"quant_method": "mxfp4"}, "mxfp4"),
    ({"quant_method": "fp8", "weight_block_size": [128, 128]}, "fp8-block"),
    ({"quant_method": "fbgemm_fp8"}, "fp8"),
    ({"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": True}, "gptq-int4-g128"),
    ({"quant_method": "gptq", "bits": 8, "group_size": 32, "desc_act": False}, "gptq-int8-g32-no-gidx"),
    ({"quant_method": "awq", "bits": 4, "group_size": 128}, "awq-int4-g128"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
      "bnb_4bit_use_double_quant": True}, "nf4-dq"),
    ({"quant_method": "bitsandbytes", "load_in_8bit": True}, "int8"),
    ({"quant_method": "compressed-tensors",
      "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "float", "strategy": "channel"}}}}, "fp8"),
    ({"quant_method": "compressed-tensors",
      "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "float", "group_size": 16}}}}, "nvfp4"),
])
def test_quantization_config_formats(q, key):
    assert quant_config_format(q)[0] == key


def test_unknown_quantization_config_is_said_not_silent():
    loaded = load("Llama-3.1-8B")
    from dataclasses import replace

    odd = replace(loaded, config={**loaded.config, "quantization_config": {"quant_method": "hqq"}})
    w = native_weights(odd)
    assert w.key == "bf16" and "hqq" in w.note and "ignored" in w.note
    assert choose_weights(odd, "fp8").origin == "--weights"


def test_api_infer_defaults_to_the_checkpoint_format():
    from fastapi.testclient import TestClient

    from llmsize.web.app import create_app

    c = TestClient(create_app())
    r = c.post("/api/v1/infer", json={"model": {"preset": "gpt-oss-120b"}, "gpu": "H100"})
    assert r.status_code == 200, r.text
    assert r.json()["weights"]["format"] == "mxfp4" and r.json()["device"]["fits"] is True
    r = c.post("/api/v1/infer", json={"model": {"preset": "gpt-oss-120b"}, "weights": "fp8", "dtype": "bf16"})
    assert r.status_code == 422
