"""Every section's endpoint gives the CLI's --json for the same inputs."""
from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import cli_json

LLAMA = {"preset": "Llama-3.1-8B"}


def post(client, path, body):
    r = client.post(f"/api/v1/{path}", json=body)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("body, args", [
    ({"gpu": "RTX 4090", "context": 8192}, ["--gpu", "RTX 4090", "--context", "8192"]),
    ({"gpu": "T4", "context": 4096, "batch": 4, "kv_cache": "q8_0", "formats": ["bf16", "Q4_K_M", "gptq-int4-g128"]},
     ["--gpu", "T4", "--context", "4096", "--batch", "4", "--kv-cache", "q8_0", "--format", "bf16", "--format",
      "Q4_K_M", "--format", "gptq-int4-g128"]),
    ({"formats": ["Q4_K_M"], "tensors": True, "context": 2048}, ["--format", "Q4_K_M", "--tensors", "--context", "2048"]),
    ({"qlora": True, "rank": 16}, ["--qlora", "--rank", "16"]),
    ({"qlora": True, "rank": 16, "gpu": "A10G", "context": 4096}, ["--qlora", "--rank", "16", "--gpu", "A10G", "--context", "4096"]),
    ({"qlora": True, "rank": 8, "adapter_dtype": "bf16", "context": 2048, "batch": 2},
     ["--qlora", "--rank", "8", "--adapter-dtype", "bf16", "--context", "2048", "--batch", "2"]),
])
def test_quant_equals_cli(client, body, args):
    assert post(client, "quant", {"model": LLAMA, **body}) == cli_json("quant", "Llama-3.1-8B", *args)


def test_gpus_equals_cli(client):
    assert client.get("/api/v1/gpus").json() == cli_json("gpus")
    assert client.get("/api/v1/gpus", params={"q": "h100"}).json() == cli_json("gpus", "h100")


@pytest.mark.parametrize("engine, body, args", [
    ("vllm", {"layout": {"tp": 2}, "max_model_len": 8192}, ["--tp", "2", "--max-model-len", "8192"]),
    ("deepspeed", {"layout": {"gpus": 8, "zero": 3}, "micro_batch": 2}, ["--gpus", "8", "--zero", "3", "--micro-batch", "2"]),
    ("llamacpp", {"layout": {"tp": 2}}, ["--tp", "2"]),  # the old spelling of llama.cpp
    ("llama.cpp", {"layout": {"tp": 2}}, ["--tp", "2"]),
    ("vllm", {"gpu": "H100", "layout": {"gpus": 4}}, ["--gpu", "H100", "--gpus", "4"]),
    ("deepspeed", {"gpu": "H100", "layout": {"gpus": 8}}, ["--gpu", "H100", "--gpus", "8"]),
    ("fsdp", {"gpu": "H100", "layout": {"gpus": 64, "fsdp": "hybrid_shard"}, "shard_group": 32},
     ["--gpu", "H100", "--gpus", "64", "--fsdp", "hybrid_shard", "--shard-group", "32"]),
    ("torchrun", {"gpu": "H100", "layout": {"gpus": 12}}, ["--gpu", "H100", "--gpus", "12"]),
    ("megatron", {"gpu": "H100", "layout": {"gpus": 64}}, ["--gpu", "H100", "--gpus", "64"]),
    ("megatron", {"layout": {"gpus": 64, "tp": 8, "pp": 4, "zero": 1}, "virtual_stages": 2},
     ["--gpus", "64", "--tp", "8", "--pp", "4", "--zero", "1", "--virtual-stages", "2"]),
    ("torchtitan", {"gpu": "H100", "layout": {"gpus": 64}, "float8": True}, ["--gpu", "H100", "--gpus", "64", "--float8"]),
    ("torchtitan", {"layout": {"gpus": 16, "fsdp": "hybrid_shard"}, "shard_group": 4, "seq": 8192},
     ["--gpus", "16", "--fsdp", "hybrid_shard", "--shard-group", "4", "--seq", "8192"]),
])
def test_export_equals_cli(client, engine, body, args):
    """The API exports every engine the CLI does, from the same function: its text is the CLI's stdout and its
    notes the CLI's stderr lines."""
    model = "llama-3.1-8b-Q4_K_M.gguf" if engine in ("llamacpp", "llama.cpp") else "meta-llama/Llama-3.1-8B"  # llama.cpp: a GGUF
    if body.get("layout", {}).get("gpus", 0) >= 64 and engine != "torchtitan" or "float8" in body:
        model = "meta-llama/Llama-3.1-70B"
    rep = post(client, "export", {"engine": engine, "model_name": model, **body})
    out = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "export", engine,
                          model, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert rep["engine"] == ("llama.cpp" if engine == "llamacpp" else engine) and rep["text"] == out.stdout.rstrip("\n")
    assert [f"export: {n}" for n in rep["notes"]] == out.stderr.splitlines()
    assert rep["layout"] and (rep["memory_per_gpu_bytes"] is None) == ("gpu" not in body or "force" in body)


def test_export_refusals_are_422_or_the_clis_one_line(client):
    r = client.post("/api/v1/export", json={"engine": "fsdp", "model_name": "meta-llama/Llama-3.1-70B", "gpu": "H100",
                                            "layout": {"gpus": 64, "fsdp": "hybrid_shard"}})
    assert r.status_code == 422 and "--shard-group 32" in r.text
    r = client.post("/api/v1/export", json={"engine": "vllm", "model_name": "x", "float8": True})
    assert r.status_code == 422 and "torchtitan option" in r.text


@pytest.mark.parametrize("body, args", [
    ({"job": {"concurrency": 8}, "gpus": ["H100", "L4"]}, ["--serve", "--concurrency", "8", "--gpu", "H100", "--gpu", "L4"]),
    ({"job": {"mode": "train", "tokens": 1e11}, "gpus": ["H100"], "max_gpus": 64},
     ["--train", "--tokens", "1e11", "--gpu", "H100", "--max-gpus", "64"]),
    ({"job": {"mode": "train", "tokens": 1e11, "host_memory": "96GiB", "nvme": 30 * 10**12}, "gpus": ["H100"],
      "max_gpus": 8}, ["--train", "--tokens", "1e11", "--gpu", "H100", "--max-gpus", "8", "--host-memory", "96GiB",
                       "--nvme", "30TB"]),
])
def test_plan_equals_cli(client, body, args):
    assert post(client, "plan", {"model": LLAMA, **body}) == cli_json("plan", "Llama-3.1-8B", *args)


def test_cost_speed_fit_equal_cli(client):
    job = {"concurrency": 4, "prompt": 2048}
    assert post(client, "cost", {"model": LLAMA, "job": job, "gpus": ["H100", "A100-80GB"], "counts": [1, 2]}) == \
        cli_json("cost", "Llama-3.1-8B", "--concurrency", "4", "--prompt", "2048", "--gpu", "H100", "--gpu",
                 "A100-80GB", "--count", "1", "--count", "2")
    assert post(client, "speed", {"model": LLAMA, "job": job, "gpu": "H100", "layout": {"tp": 2}}) == \
        cli_json("speed", "Llama-3.1-8B", "--concurrency", "4", "--prompt", "2048", "--gpu", "H100", "--tp", "2")
    assert post(client, "fit", {"model": LLAMA, "job": job, "gpu": "H100", "find": ["batch", "context"]}) == \
        cli_json("fit", "Llama-3.1-8B", "--concurrency", "4", "--prompt", "2048", "--gpu", "H100", "--find", "batch",
                 "--find", "context")


def test_design_equals_cli(client):
    body = {"params": "7B", "candidates": 3, "ffn_mult": 1.3, "setting": {"gpu": "A100-80GB", "context": 4096}}
    assert post(client, "design", body) == cli_json("design", "--params", "7B", "-n", "3", "--ffn-mult", "1.3",
                                                    "--gpu", "A100-80GB", "--context", "4096")
    assert post(client, "design", {"compute": "5.76e23"}) == cli_json("design", "--compute", "5.76e23")


def test_scaling_compare_whatif_equal_cli(client):
    assert post(client, "scaling", {"compute": "1e24", "inference_tokens": "10T"}) == \
        cli_json("scaling", "--compute", "1e24", "--inference-tokens", "10T")
    body = {"models": [{"model": LLAMA}, {"model": {"preset": "Qwen2.5-7B"}}, {"design": "7B"}], "setting": {"batch": 4}}
    assert post(client, "compare", body) == cli_json("compare", "Llama-3.1-8B", "Qwen2.5-7B", "design:7B", "--batch", "4")
    assert post(client, "whatif", {"what": "attention", "model": LLAMA}) == cli_json("whatif", "attention", "Llama-3.1-8B")
    assert post(client, "whatif", {"what": "prune", "model": LLAMA, "drop_layers": 8}) == \
        cli_json("whatif", "prune", "Llama-3.1-8B", "--drop-layers", "8")


@pytest.mark.parametrize("path, body, needle", [
    ("quant", {"model": LLAMA, "formats": ["Q9_X"]}, "unknown weight format"),
    ("quant", {"model": LLAMA, "gpu": "H1000"}, "did you mean"),
    ("quant", {"model": LLAMA, "tensors": True}, "exactly one format"),
    ("quant", {"model": LLAMA, "qlora": True, "gpu": "H1000"}, "did you mean"),
    ("quant", {"model": LLAMA, "qlora": True, "formats": ["nf4"], "kv_cache": "fp8"}, "--format, --kv-cache-dtype do not"),
    ("quant", {"model": LLAMA, "rank": 8}, "--lora-r needs --qlora"),
    ("quant", {"model": LLAMA, "adapter_dtype": "bf16"}, "--adapter-dtype needs --qlora"),
    ("infer", {"model": LLAMA, "forward": True, "new_tokens": 512}, "--new-tokens"),
    ("infer", {"model": LLAMA, "forward": True, "kv_dtype": "fp8"}, "--kv-cache-dtype"),
    ("train", {"model": LLAMA, "lora_targets": "q_proj"}, "--lora-targets needs --lora-r"),
    ("design", {"params": "7Q"}, "cannot read"),
    ("design", {"params": "7B", "head_dim": 129}, "head_dim 129 divides none of the widths"),
    ("compare", {"models": [{"model": LLAMA}]}, "models"),
    ("compare", {"models": [{"model": LLAMA}, {"model": LLAMA, "design": "7B"}]}, "exactly one of model or design"),
    ("whatif", {"what": "teleport", "model": LLAMA}, "what"),
    ("export", {"engine": "vllm", "model_name": "x", "layout": {"tp": 3, "gpus": 4}}, "does not divide"),
])
def test_section_errors_are_422(client, path, body, needle):
    r = client.post(f"/api/v1/{path}", json=body)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"], r.json()["detail"]


@pytest.mark.parametrize("body, args", [
    ({"context": 8192, "new_tokens": 512, "gpu": "T4"}, ["--context", "8192", "--new-tokens", "512", "--gpu", "T4"]),
    ({"batch": 4, "context": 2048, "kv_dtype": "fp8", "runtime": "vllm", "gpu": "H100"},
     ["--batch", "4", "--context", "2048", "--kv-dtype", "fp8", "--runtime", "vllm", "--gpu", "H100"]),
    ({"forward": True, "dtype": "fp32", "attn": "eager"}, ["--forward", "--dtype", "fp32", "--attn", "eager"]),
    ({"runtime": "llamacpp", "gpu": "RTX 4090"}, ["--runtime", "llamacpp", "--gpu", "RTX 4090"]),
])
def test_infer_equals_cli(client, body, args):
    assert post(client, "infer", {"model": LLAMA, **body}) == cli_json("infer", "Llama-3.1-8B", *args)


@pytest.mark.parametrize("body, args", [
    ({"seq_len": 2048, "grad_checkpointing": True, "gpu": "H100"}, ["--seq-len", "2048", "--grad-checkpointing",
                                                                    "--gpu", "H100"]),
    ({"amp": "bf16", "optimizer": "sgd-momentum", "batch": 2}, ["--amp", "bf16", "--optimizer", "sgd-momentum",
                                                                "--batch", "2"]),
    ({"lora_r": 16, "lora_targets": "all-linear", "grad_accum": 4}, ["--lora-r", "16", "--lora-targets", "all-linear",
                                                                     "--grad-accum", "4"]),
])
def test_train_equals_cli(client, body, args):
    assert post(client, "train", {"model": LLAMA, **body}) == cli_json("train", "Llama-3.1-8B", *args)


def test_sweep_points_are_the_estimates(client):
    rep = post(client, "infer/sweep", {"model": LLAMA, "contexts": [1024, 4096], "batches": [1, 8], "new_tokens": 0})
    assert rep["bytes"][1][1] == cli_json("infer", "Llama-3.1-8B", "--context", "4096", "--batch", "8",
                                          "--new-tokens", "0")["peak_bytes"]
    rep = post(client, "train/sweep", {"model": LLAMA, "contexts": [512], "batches": [2], "grad_checkpointing": True})
    assert rep["bytes"][0][0] == cli_json("train", "Llama-3.1-8B", "--seq-len", "512", "--batch", "2",
                                          "--grad-checkpointing")["peak_bytes"]
