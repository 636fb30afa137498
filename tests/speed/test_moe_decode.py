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


def test_mxfp4_on_llama_cpp_is_its_gguf_file_type_with_q8_0_matrices_beside_the_experts():
    from llmsize.speedmodel.efficiency import engine_weights
    from llmsize.speedmodel.predict import weight_bytes

    wt, note = engine_weights("llama.cpp", "MXFP4")
    assert wt == "MXFP4_MOE" and "Q8_0" in note
    assert engine_weights("vllm", "MXFP4") == ("MXFP4", None)  # transformers' and vLLM's: the rest bf16
    assert engine_weights("llama.cpp", "Q4_0") == ("Q4_0", None)
    assert engine_weights("llama.cpp", "MXFP4 MoE")[0] == "MXFP4_MOE"  # llama-bench's label
    assert engine_weights("llama.cpp", "MXFP4_MOE") == ("MXFP4_MOE", None)
    # llama-bench's "gpt-oss 20B MXFP4 MoE | 11.27 GiB" and "gpt-oss 120B MXFP4 MoE | 59.02 GiB"
    # (tests/data/speed_calib.jsonl, the DGX Spark rows' notes)
    for name, gib in (("openai/gpt-oss-20b", 11.27), ("openai/gpt-oss-120b", 59.02)):
        assert round(weight_bytes(load(name).spec, "MXFP4_MOE") / 2**30, 2) == gib
    assert round(weight_bytes(load("openai/gpt-oss-20b").spec, "mxfp4") / 2**30, 2) == 12.82


def test_a_moe_layer_adds_its_fixed_cost_to_a_decode_step():
    from llmsize.catalog.hardware import get_gpu
    from llmsize.speedmodel.efficiency import decode_shape
    from llmsize.speedmodel.predict import decode, layer_overhead_s

    gpu, spec = get_gpu("RTX-4090"), load("Qwen/Qwen3-30B-A3B").spec
    r = decode(spec, gpu, engine="llama.cpp", weights="Q4_0", kv_dtype="f16", batch=1, context=0, tokens=128)
    t_moe = decode_shape(gpu)["moe_layer_s"]
    assert t_moe > 0 and spec.num_moe_layers == 48
    assert r.terms["fixed_s"] == spec.num_layers * layer_overhead_s(gpu, "llama.cpp") + 48 * t_moe
    given = decode(spec, gpu, engine="llama.cpp", weights="Q4_0", kv_dtype="f16", batch=1, context=0, tokens=128,
                   mbu=0.5)
    assert given.terms["fixed_s"] == 0.0  # a given --mbu is the whole step's


def test_the_cli_reads_llama_cpp_mxfp4_as_its_file_type_and_says_so():
    args = ("speed", "openai/gpt-oss-20b", "--gpu", "RTX-4090", "--serve", "--weights", "MXFP4")
    gguf = cli(*args, "--engine", "llama.cpp")
    vllm = cli(*args, "--engine", "vllm")
    assert gguf.returncode == 0 and vllm.returncode == 0
    assert "read as its GGUF file type MXFP4_MOE" in gguf.stderr and "MXFP4_MOE" not in vllm.stderr
    # attention, router and head in Q8_0 rather than bf16: 1.05 GiB less read a token (the KV read is the
    # mean context's, half of whose layers attend a 128-token window)
    assert "2.43 GiB read per GPU" in gguf.stdout and "3.48 GiB read per GPU" in vllm.stdout
    rep = json.loads(cli(*args, "--engine", "llama.cpp", "--json").stdout)
    assert rep["weights"] == "MXFP4_MOE" and rep["engine"] == "llama.cpp"
