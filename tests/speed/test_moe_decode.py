"""Decode reads the routed experts its tokens route to, not every expert; serving plans size the checkpoint's
own weight format unless --weights says otherwise."""
from __future__ import annotations

import json
import subprocess
import sys

from llmsize.load import load
from llmsize.quant.formats import weight_plan
from llmsize.speedmodel.predict import decode_read_bytes, weight_read_bytes


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def test_one_token_reads_top_k_of_e_experts():
    spec = load("gpt-oss-120b").spec
    plan = weight_plan(spec, "mxfp4")
    experts = sum(t.bytes for t in plan.tensors if t.role.split(".")[0].endswith("_exps"))
    dense = weight_read_bytes(spec, "mxfp4") - experts
    k, e = spec.moe.top_k, spec.moe.num_experts
    assert decode_read_bytes(spec, "mxfp4", 1) == dense + experts * k / e
    # more tokens touch more experts, never more than all of them
    reads = [decode_read_bytes(spec, "mxfp4", b) for b in (1, 2, 8, 64, 4096)]
    assert reads == sorted(reads) and reads[-1] <= dense + experts
    assert reads[-1] > dense + 0.99 * experts


def test_dense_models_read_every_weight_but_the_embedding_lookup():
    spec = load("Llama-3.1-8B").spec
    assert decode_read_bytes(spec, "bf16", 1) == decode_read_bytes(spec, "bf16", 64) == weight_read_bytes(spec, "bf16")


def test_serving_defaults_to_the_checkpoint_format_and_training_refuses_weights():
    r = cli("speed", "gpt-oss-120b", "--gpu", "H100", "--json")
    assert r.returncode == 0, r.stderr
    assert "mxfp4, the checkpoint's own (quantization_config)" in r.stderr
    d = json.loads(r.stdout)
    assert d["step_bytes_per_gpu"] < 0.1 * weight_plan(load("gpt-oss-120b").spec, "mxfp4").bytes
    bf16 = json.loads(cli("speed", "gpt-oss-120b", "--gpu", "H100", "--weights", "bf16", "--gpus", "4", "--tp", "4",
                          "--json").stdout)
    assert bf16["output_tokens_per_s"] > 0
    r = cli("plan", "Llama-3.1-8B", "--train", "--weights", "fp8", "--tokens", "1e9")
    assert r.returncode == 2 and "--weights applies to serving" in r.stderr
