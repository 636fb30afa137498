"""`infer --runtime llamacpp` and `fit --find ngl` are one model of llama.cpp's buffers (engines.offload.buffers_at
over engines.llamacpp / llamacpp_compute): with every layer on the GPU they give the same bytes, buffer by buffer."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.engines.llamacpp_compute import compute_buffer
from llmsize.engines.offload import serve_params
from llmsize.load import load
from llmsize.memory import Workload, estimate
from llmsize.memory.device import device_estimate


def cli(*args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args, "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("model, weights, prompt, output, batch", [
    ("Llama-3.1-8B", "Q4_K_M", 4096, 512, 1), ("Qwen3-0.6B", "Q8_0", 2048, 256, 4), ("gemma-3-1b-pt", "bf16", 8192, 128, 2),
])
def test_infer_llamacpp_equals_fit_ngl_all_on_gpu(model, weights, prompt, output, batch):
    inf = cli("infer", model, "--runtime", "llamacpp", "--gpu", "H100", "--weights", weights, "--context", str(prompt),
              "--new-tokens", str(output), "--batch", str(batch))["device"]
    fit = cli("fit", model, "--gpu", "H100", "--find", "ngl", "--weights", weights, "--prompt", str(prompt),
              "--output", str(output), "--concurrency", str(batch))
    full = fit["all_on_gpu"] if fit["ngl"] != fit["layers"] else fit["split"]
    terms = {t["name"]: t["bytes"] for t in inf["terms"]}
    assert terms["weights on the GPU (CUDA0 model buffer)"] == full["gpu_model"]
    assert terms["KV cache (n_ctx)"] == full["gpu_kv"] and terms["compute buffer (one ubatch)"] == full["gpu_compute"]
    assert inf["total_bytes"] == full["gpu_total"]


def test_device_view_compute_is_llamacpp_compute():
    spec = load("Qwen3-0.6B").spec
    wl = Workload(mode="generate", batch=2, seq_len=3000, weights_dtype="bf16")
    d = device_estimate(estimate(spec, wl), "llamacpp", spec=spec, batch=2, seq_tokens=3000, n_ubatch=256,
                        flash_attn=False)
    terms = {t.name: t.bytes for t in d.terms}
    assert terms["compute buffer (one ubatch)"] == compute_buffer(
        spec, serve_params(3000, 2, "f16", n_ubatch=256, flash_attn=False)).total
    with pytest.raises(Exception, match="KV cache types"):
        device_estimate(estimate(spec, wl), "llamacpp", spec=spec, kv_type="fp8")
