"""Hugging Face repo ids, against a local server that mimics the Hub (HF_ENDPOINT): the count equals the
same config given as a file; safetensors and GGUF repos are sized from headers fetched by range requests
only; gated, missing and offline cases are one-line errors with exit status 2."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from hub_server import Hub, Repo, VFile, serve
from llmsize.adapters.hub import RepoRef, parse_repo_ref
from llmsize.catalog.presets import get_preset, preset_config

pytest.importorskip("huggingface_hub")

GiB = 1 << 30


def st_file(tensors: dict[str, tuple[str, list[int]]]) -> VFile:
    """A virtual safetensors file: a real header, then zeros for the data."""
    bits = {"BF16": 16, "F32": 32, "U8": 8, "F8_E4M3": 8}
    header, off = {}, 0
    for name, (dt, shape) in tensors.items():
        n = 1
        for s in shape:
            n *= s
        nb = n * bits[dt] // 8
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + nb]}
        off += nb
    raw = json.dumps(header).encode()
    return VFile(struct.pack("<Q", len(raw)) + raw, 8 + len(raw) + off)


def text(obj: object) -> VFile:
    b = json.dumps(obj).encode()
    return VFile(b, len(b))


def llama_tensors(cfg: dict, layers: range) -> dict[str, tuple[str, list[int]]]:
    d, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = d // cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"] * hd
    out: dict[str, tuple[str, list[int]]] = {}
    for i in layers:
        p = f"model.layers.{i}."
        out |= {p + "self_attn.q_proj.weight": ("BF16", [d, d]), p + "self_attn.k_proj.weight": ("BF16", [kv, d]),
                p + "self_attn.v_proj.weight": ("BF16", [kv, d]), p + "self_attn.o_proj.weight": ("BF16", [d, d]),
                p + "mlp.gate_proj.weight": ("BF16", [f, d]), p + "mlp.up_proj.weight": ("BF16", [f, d]),
                p + "mlp.down_proj.weight": ("BF16", [d, f]), p + "input_layernorm.weight": ("BF16", [d]),
                p + "post_attention_layernorm.weight": ("BF16", [d])}
    return out


def sharded_repo(cfg: dict, shards: int) -> Repo:
    """A repo laid out as transformers saves it: an index and `shards` shard files."""
    n = cfg["num_hidden_layers"]
    per = -(-n // shards)
    files: dict[str, VFile] = {"config.json": text(cfg), "README.md": text("readme")}
    wm = {}
    for s in range(shards):
        t = llama_tensors(cfg, range(s * per, min(n, (s + 1) * per)))
        if s == 0:
            t["model.embed_tokens.weight"] = ("BF16", [cfg["vocab_size"], cfg["hidden_size"]])
        if s == shards - 1:
            t["model.norm.weight"] = ("BF16", [cfg["hidden_size"]])
            t["lm_head.weight"] = ("BF16", [cfg["vocab_size"], cfg["hidden_size"]])
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        files[name] = st_file(t)
        wm |= {k: name for k in t}
    files["model.safetensors.index.json"] = text({"metadata": {}, "weight_map": wm})
    return Repo(files=files)


@pytest.fixture()
def hub(tmp_path):
    h = Hub()
    srv, url = serve(h)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {"HF_ENDPOINT": url, "HF_HOME": str(tmp_path / "hf"), "LLMSIZE_CACHE": str(tmp_path / "cache"),
            "HF_HUB_DISABLE_TELEMETRY": "1"}
    h.env = env  # type: ignore[attr-defined]
    yield h
    srv.shutdown()


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def params_json(env: dict[str, str], ref: str) -> dict:
    r = run(env, "params", ref, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_parse_repo_ref():
    assert parse_repo_ref("Qwen/Qwen3-8B") == RepoRef("Qwen/Qwen3-8B", None, None)
    assert parse_repo_ref("org/name@v1.0:Q4_K_M") == RepoRef("org/name", "v1.0", "Q4_K_M")
    assert parse_repo_ref("org/name:model-Q8_0.gguf").selector == "model-Q8_0.gguf"
    for bad in ("Qwen3-8B", "./a/b", "a/b/c", "-a/b", "a/b.", "a/../b", "a/b@", "a/b:", "~nouser/x", "x" * 600):
        assert parse_repo_ref(bad) is None, bad


def test_repo_equals_config_file_and_reads_headers_only(hub, tmp_path):
    cfg = preset_config(get_preset("Llama-3.1-70B"))
    cfg.pop("_name_or_path", None)
    repo = sharded_repo(cfg, 30)
    hub.repos["acme/big-70b"] = repo
    weights = sum(f.size for n, f in repo.files.items() if n.endswith(".safetensors"))
    assert weights > 100 * GiB  # a multi-GB repo
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    via_file = params_json(hub.env, str(tmp_path / "config.json"))
    via_hub = params_json(hub.env, "acme/big-70b")
    assert via_hub["total_params"] == via_file["total_params"] == 70_553_706_496
    assert via_hub["terms"] == via_file["terms"]
    assert via_hub["model"] == "big-70b"
    assert hub.bytes_sent < 1_000_000, hub.bytes_sent
    assert all("bytes=" in r for r in hub.requests if ".safetensors " in r and "index" not in r)
    # inspect reads the same headers: every tensor, exact bytes
    r = run(hub.env, "inspect", "acme/big-70b", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["params"] == 70_553_706_496


def test_offline_uses_cache_and_revision_pins(hub):
    cfg = preset_config(get_preset("Qwen3-0.6B"))
    hub.repos["Qwen/tiny"] = Repo(files={"config.json": text(cfg)}, revisions=("main", "v1"))
    first = params_json(hub.env, "Qwen/tiny@v1")
    sent = hub.bytes_sent
    off = dict(hub.env, HF_HUB_OFFLINE="1")
    assert params_json(off, "Qwen/tiny@v1") == first
    assert hub.bytes_sent == sent  # nothing fetched offline
    r = run(off, "params", "Qwen/other")
    assert r.returncode == 2 and "HF_HUB_OFFLINE" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("ref, words", [
    ("acme/missing", "no such model repo"),
    ("acme/gated", "gated"),
    ("acme/noconfig", "no config.json"),
    ("Qwen/tiny@nope", "no revision 'nope'"),
])
def test_errors_are_one_line_exit_2(hub, ref, words):
    hub.repos["acme/gated"] = Repo(files={"config.json": text({})}, gated=True)
    hub.repos["acme/noconfig"] = Repo(files={"README.md": text("x")})
    hub.repos["Qwen/tiny"] = Repo(files={"config.json": text(preset_config(get_preset("Qwen3-0.6B")))})
    env = {k: v for k, v in hub.env.items() if k != "HF_TOKEN"}
    r = run(env, "params", ref)
    assert r.returncode == 2, r.stderr
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_gated_repo_with_token(hub):
    hub.repos["acme/gated"] = Repo(files={"config.json": text(preset_config(get_preset("Qwen3-0.6B")))}, gated=True)
    r = run(dict(hub.env, HF_TOKEN="hf_test"), "params", "acme/gated", "--json")
    assert r.returncode == 0, r.stderr


def test_unreachable_hub_is_exit_2(tmp_path):
    env = dict(os.environ, HF_ENDPOINT="http://127.0.0.1:9", LLMSIZE_CACHE=str(tmp_path), HF_HOME=str(tmp_path))
    r = run(env, "params", "acme/anything")
    assert r.returncode == 2 and "cannot reach the Hub" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_gguf_repo_by_tag_reads_a_growing_header_prefix(hub, tmp_path):
    gguf = pytest.importorskip("gguf")
    from test_gguf import write_gguf  # noqa: E402 - the GGUF writer the adapter tests use

    from llmsize.adapters.gguf import read_header
    from llmsize.adapters.hf_config import spec_from_config

    cfg = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 160_000,
           "max_position_embeddings": 1024, "tie_word_embeddings": False}
    spec = spec_from_config(cfg, "tiny")
    files: dict[str, VFile] = {"README.md": text("x")}
    for ftype in ("Q4_K_M", "Q8_0"):
        p = tmp_path / f"tiny-{ftype}.gguf"
        write_gguf(p, spec, ftype)
        _, tensors, _, size = read_header(p)
        start = min(t.offset for t in tensors)
        assert start > 1 << 20  # the tokenizer makes the header larger than the first read
        files[f"tiny-{ftype}.gguf"] = VFile(p.read_bytes()[:start], size)
        local = params_json(hub.env, str(p))
    hub.repos["acme/tiny-GGUF"] = Repo(files=files)
    via_hub = params_json(hub.env, "acme/tiny-GGUF:Q4_K_M")
    assert via_hub["total_params"] == local["total_params"]
    served = hub.bytes_sent
    assert served < 2 * files["tiny-Q4_K_M.gguf"].size // 3 + 4 * (1 << 20)
    r = run(hub.env, "inspect", "acme/tiny-GGUF:tiny-Q8_0.gguf", "--json")
    assert r.returncode == 0, r.stderr
    r = run(hub.env, "params", "acme/tiny-GGUF")
    assert r.returncode == 2 and "Q4_K_M" in r.stderr and "Q8_0" in r.stderr
    r = run(hub.env, "params", "acme/tiny-GGUF:IQ2_XXS")
    assert r.returncode == 2 and "no GGUF file matches" in r.stderr
