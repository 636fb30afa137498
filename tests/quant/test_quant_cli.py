"""`llmsize quant` and `llmsize inspect`: JSON shape, one-line errors, files."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

CFG = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
       "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 4096}


def run(args, stdin=None):
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, input=stdin, timeout=120)


def test_quant_json_rows():
    r = run(["quant", "-", "--gpu", "1GiB", "--context", "1024", "--json"], stdin=json.dumps(CFG))
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["context"] == 1024 and obj["best"] == obj["rows"][0]["format"]
    row = obj["rows"][0]
    assert {"format", "weight_bytes", "total_bytes", "fits", "max_context", "decode_tokens_per_s", "quality"} <= set(row)
    assert all(isinstance(x["weight_bytes"], int) and x["weight_bytes"] > 0 for x in obj["rows"])


def test_quant_one_format_with_tensors():
    r = run(["quant", "-", "--format", "Q4_K_M", "--tensors", "--json"], stdin=json.dumps(CFG))
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["plan"]["format"] == "gguf-Q4_K_M"
    assert sum(t["bytes"] for t in obj["plan"]["tensors"]) == obj["plan"]["bytes"] == obj["rows"][0]["weight_bytes"]


def test_quant_text_and_qlora():
    r = run(["quant", "-", "--gpu", "H100", "--context", "2048"], stdin=json.dumps(CFG))
    assert r.returncode == 0, r.stderr
    assert "Best that fits" in r.stdout and "Q4_K_M" in r.stdout
    r = run(["quant", "-", "--qlora", "--rank", "8", "--json"], stdin=json.dumps(CFG))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["lora_params"] == 2 * 8 * (2 * 512 + 2 * 384 + 3 * 768)


def test_qlora_with_a_gpu_has_the_train_verdict():
    """`quant --qlora --gpu`: the peak plus CUDA context and allocator reserve against the usable memory,
    counted as `train --gpu` counts them (the web page's QLoRA verdict)."""
    from llmsize.catalog.hardware import parse_gpu
    from llmsize.load import load_preset
    from llmsize.memory.device import CUDA_CONTEXT, device_estimate
    from llmsize.quant.qlora import qlora_peak

    peak_est = qlora_peak(load_preset("Llama-3.1-8B").spec, rank=16, seq_len=4096)
    for gpu, fits in (("A10G", True), ("0.5GiB", False)):
        r = run(["quant", "Llama-3.1-8B", "--qlora", "--rank", "16", "--context", "4096", "--gpu", gpu, "--json"])
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        dev, usable = d["device"], parse_gpu(gpu).usable
        assert d["peak"]["peak_bytes"] == peak_est.peak_bytes
        assert dev["total_bytes"] == device_estimate(peak_est, "torch", usable).total_bytes  # as train --gpu counts
        assert dev["total_bytes"] > peak_est.peak_bytes + CUDA_CONTEXT and dev["gpu_memory_bytes"] == usable
        assert dev["fits"] is fits and dev["headroom_bytes"] == dev["gpu_memory_bytes"] - dev["total_bytes"]
        text = run(["quant", "Llama-3.1-8B", "--qlora", "--rank", "16", "--context", "4096", "--gpu", gpu]).stdout
        assert ("does not fit" in text) is not fits and "headroom" in text
    assert json.loads(run(["quant", "Llama-3.1-8B", "--qlora", "--json"]).stdout)["device"] is None


@pytest.mark.parametrize("args,needle", [
    (["--format", "nf5"], "unknown weight format 'nf5'"),
    (["--format", "gptq-int4-g100"], "does not divide"),
    (["--kv-cache", "q3"], "unknown KV-cache dtype"),
    (["--gpu", "H1000"], "unknown GPU"),
    (["--tensors"], "--tensors needs exactly one --format"),
    (["--qlora", "--gpu", "H1000"], "unknown GPU"),
    (["--qlora", "--format", "nf4"], "--format does not apply with --qlora"),
    (["--qlora", "--kv-cache", "fp8"], "--kv-cache-dtype does not apply with --qlora"),
    (["--qlora", "--tensors"], "--tensors does not apply with --qlora"),
    (["--rank", "8"], "--lora-r needs --qlora"),
    (["--adapter-dtype", "bf16"], "--adapter-dtype needs --qlora"),
])
def test_quant_errors_one_line(args, needle):
    r = run(["quant", "-", *args], stdin=json.dumps(CFG))
    assert r.returncode == 2
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_quant_duplicate_formats_are_one():
    r = run(["quant", "-", "--format", "Q4_0", "--format", "q4_0", "--tensors", "--json"], stdin=json.dumps(CFG))
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert [x["format"] for x in obj["rows"]] == ["Q4_0"] and obj["plan"]["tensors"]
    r = run(["quant", "-", "--format", "Q4_0", "--format", "q4_0", "--format", "bf16"], stdin=json.dumps(CFG))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("Q4_0 ") == 1, r.stdout


def test_inspect_reads_through_load_read_checkpoint(tmp_path, monkeypatch):
    """inspect has no path dispatch of its own: llmsize.load.read_checkpoint decides safetensors or GGUF."""
    from click.testing import CliRunner

    import llmsize.load
    from llmsize.cli.quant import inspect_cmd

    seen = []

    def fake(path):
        seen.append(path)
        raise llmsize.load.LlmsizeError("stop")

    monkeypatch.setattr(llmsize.load, "read_checkpoint", fake)
    f = tmp_path / "x.gguf"
    f.write_bytes(b"GGUF")
    CliRunner().invoke(inspect_cmd, [str(f)])
    assert seen == [f]


def test_inspect_safetensors_and_gguf(tmp_path):
    import struct

    h = json.dumps({"w.qweight": {"dtype": "I32", "shape": [32, 64], "data_offsets": [0, 8192]},
                    "w.scales": {"dtype": "F16", "shape": [2, 64], "data_offsets": [8192, 8448]},
                    "w.qzeros": {"dtype": "I32", "shape": [2, 8], "data_offsets": [8448, 8512]},
                    "w.g_idx": {"dtype": "I32", "shape": [256], "data_offsets": [8512, 9536]}}).encode()
    p = tmp_path / "m.safetensors"
    p.write_bytes(struct.pack("<Q", len(h)) + h + b"\0" * 9536)
    r = run(["inspect", str(p), "--json", "--tensors"])
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["params"] == 256 * 64 and obj["bytes"] == 9536 and obj["quantization"] == "gptq"
    r = run(["inspect", str(p)])
    assert r.returncode == 0 and "gptq-int4" in r.stdout
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00")
    r = run(["inspect", str(bad)])
    assert r.returncode == 2 and "truncated" in r.stderr
