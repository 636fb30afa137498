"""transformers' eager generate() issues every layer's kernels from Python, so a pass takes at least L·t_h
however fast the GPU (`predict.host_floor_s`, fitted per kind of linear kernels on transformers' own rows by
scripts/fit_host.py). Before, transformers borrowed llama.cpp's efficiency and launch cost: its 34 published
decode and prefill rows came out +148% (decode) and +53% (prefill) at the median."""
from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.load import load
from llmsize.speedmodel import predict as P
from llmsize.speedmodel.efficiency import efficiency, host_kind, host_layer_s
from llmsize.speedmodel.serving import serve
from tests.conftest import DATA
from tests.script_render import load_script

L8 = load("Llama-3.1-8B").spec
H100 = get_gpu("H100-SXM")


@pytest.mark.parametrize("weights, kind", [("bf16", "16-bit"), ("fp16", "16-bit"), ("Q4_K_M", "16-bit"),
                                           ("nf4", "bnb-4bit"), ("int8", "bnb-int8"), ("gptq-int4", "int4-kernels"),
                                           ("gptq-int4-g128", "int4-kernels"), ("awq-int4", "int4-kernels")])
def test_kinds_of_linear_kernels(weights, kind):
    assert host_kind(weights) == kind


def test_the_floor_is_per_layer_for_transformers_only():
    t = host_layer_s("transformers", "bf16")
    assert 5e-4 < t < 1.5e-3  # eager Llama-3.1-8B on an H100: 24.4 ms a step over 32 layers
    assert P.host_floor_s(L8, "transformers", "bf16") == pytest.approx(32 * t)
    for engine in ("vllm", "sglang", "trt-llm", "llama.cpp", "unknown"):
        assert P.host_floor_s(L8, engine, "bf16") == 0.0
    # LLM.int8() has no rows in the fit (docs/speed.md): it takes the 16-bit cost
    assert host_layer_s("transformers", "int8") == t
    assert host_layer_s("transformers", "nf4") > t  # bitsandbytes' 4-bit linears issue more from Python


def test_an_eager_decode_is_host_bound_and_batch_barely_moves_it():
    kw = dict(engine="transformers", weights="bf16", kv_dtype="bf16", context=64, tokens=64)
    one, b8 = P.decode(L8, H100, batch=1, **kw), P.decode(L8, H100, batch=8, **kw)
    assert one.terms["bound"] == b8.terms["bound"] == "host"
    assert one.terms["step_s"] == b8.terms["step_s"] == pytest.approx(P.host_floor_s(L8, "transformers", "bf16"))
    assert b8.value == pytest.approx(8 * one.value)
    # a given bandwidth utilisation is the whole step's: no floor, as for llama.cpp
    given = P.decode(L8, H100, batch=1, mbu=0.5, **kw)
    assert given.terms["host_s"] == 0.0 and given.terms["bound"] == "memory"
    # llama.cpp's step is its GPU time
    assert P.decode(L8, H100, engine="llama.cpp", weights="bf16", kv_dtype="bf16", batch=1, context=64,
                    tokens=64).terms["host_s"] == 0.0


def test_a_long_prompt_is_gpu_bound_a_short_one_host_bound():
    short = P.prefill(L8, H100, engine="transformers", weights="bf16", batch=1, tokens=8)
    long = P.prefill(L8, H100, engine="transformers", weights="bf16", batch=16, tokens=2048)
    assert short.terms["bound"] == "host" and long.terms["bound"] == "compute"
    # one forward pass for the batch's prompts (no llama.cpp ubatches): its weights are read once
    e_read = efficiency("transformers", H100, "decode", None, long.terms["path"], "bf16")
    assert long.terms["read_s"] == pytest.approx(P.decode_read_bytes(L8, "bf16", 16 * 2048) /
                                                 (H100.bandwidth * e_read.value), rel=1e-12)
    llama = P.prefill(L8, H100, engine="llama.cpp", weights="bf16", batch=16, tokens=2048)
    assert llama.terms["read_s"] > 60 * long.terms["read_s"]  # 64 ubatches of 512 tokens, each reading them


def test_serving_with_transformers_pays_the_floor_in_every_pass():
    kw = dict(weights="bf16", kv_dtype="bf16", prompt=512, output=128, concurrency=4)
    tf, vllm = serve(L8, H100, engine="transformers", **kw), serve(L8, H100, engine="vllm", **kw)
    floor = P.host_floor_s(L8, "transformers", "bf16")
    assert tf.step_s >= floor and tf.prefill_s >= floor and tf.tpot_s >= floor
    assert vllm.step_s < floor  # vLLM replays CUDA graphs
    assert (tf.bound, vllm.bound) == ("host", "memory")
    # generate() decodes the batch of requests it is given (it was capped at one sequence)
    assert (tf.batch, tf.batch_limit) == (4, "concurrency")


def test_the_stored_floor_is_what_fit_host_derives():
    fit = load_script("scripts/fit_speed.py")
    rows, _ = fit.split(fit.load_rows())
    stored = tomllib.loads(resources.files("llmsize.catalog").joinpath("efficiency.toml").read_text())["host"]
    assert fit.fit_host(rows) == stored
    assert (DATA / "speed_calib.jsonl").read_text().count('"engine": "transformers"') >= 30


def test_transformers_dequantizes_a_gguf_to_fp32_and_runs_it_in_fp32():
    """from_pretrained(gguf_file=...) dequantizes to fp32 unless a dtype is given (transformers' GGUF guide):
    a Q4_K_M served by transformers reads fp32 weights on the fp32 path, and says so."""
    from llmsize.speedmodel.efficiency import engine_weights, serve_path

    w, note = engine_weights("transformers", "Q4_K_M")
    assert w == "fp32" and "dequantizes a GGUF file to fp32" in note
    assert engine_weights("llama.cpp", "Q4_K_M") == ("Q4_K_M", None)
    assert engine_weights("transformers", "bf16") == ("bf16", None)
    assert serve_path("transformers", "fp32", H100) == "fp32" and serve_path("vllm", "bf16", H100) == "bf16"
    from tests.web.conftest import cli_json

    rep = cli_json("speed", "Llama-3.1-8B", "--serve", "--engine", "transformers", "--weights", "Q4_K_M",
                   "--gpu", "H100-SXM")
    assert rep["weights"] == "fp32" and rep["compute_path"] == "fp32"
    assert rep["decode_bound"] == "host" and "waits for the host to issue its layers' kernels" in rep["note"]
