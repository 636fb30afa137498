"""vLLM's `vllm serve` flag table: recorded from vLLM's source by scripts/refresh_vllm_flags.py (static
analysis, version recorded), every flag llmsize's vLLM export emits is in it, and the script's parser reads a
small vLLM-like source tree (tests/data/vllm_like) the way vLLM builds its parser, with no network."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from llmsize.errors import LlmsizeError
from llmsize.export import Setup, vllm_command
from llmsize.export.flags import VLLM_FLAGS, VLLM_QUANTIZATION, VLLM_SOURCE, VLLM_VALUES, VLLM_VERSION
from llmsize.export.parse import parse_vllm
from llmsize.parallel import Layout
from script_render import load_script

ROOT = Path(__file__).parents[2]


def _script():
    return load_script("scripts/refresh_vllm_flags.py")


def test_script_reads_vllm_like_source():
    d = ROOT / "tests" / "data" / "vllm_like"
    t = _script().flags_from((d / "arg_utils.py.txt").read_text(), (d / "cli_args.py.txt").read_text(),
                             [(d / "config.py.txt").read_text()])
    assert t["--tensor-parallel-size"] == (("-tp",), "int", None, None)
    # bool fields become --x / --no-x (argparse.BooleanOptionalAction), also through **{**kw["f"], ...}
    assert t["--enable-expert-parallel"] == (("-ep",), "flag", None, None) and "--no-enable-expert-parallel" in t
    assert t["--enable-prefix-caching"][1] == "flag" and "--no-enable-prefix-caching" in t
    assert t["--disable-cascade-attn"][1] == "flag" and "--no-enable-log-requests" in t
    # Literal | str: values only as metavar (alias of an alias resolved, sorted); Literal alone: choices
    assert t["--kv-cache-dtype"] == ((), "str", None, ("auto", "fp8", "fp8_e4m3", "fp8_e5m2"))
    assert t["--policy"] == ((), "str", ("fcfs", "priority"), None)
    assert t["--gpu-memory-utilization"] == (("--device-memory-utilization",), "float", None, None)
    assert t["--max-num-seqs"][1] == "int" and t["--cudagraph-capture-sizes"][1] == "list"
    # make_arg_parser's own arguments and FrontendArgs fields (bases included); the positional is not a flag
    assert t["--api-server-count"] == (("-asc",), "int", None, None) and t["--headless"][1] == "flag"
    assert t["--load-format"][2] == ("auto", "safetensors")
    assert t["--port"][1] == "int" and t["--host"][1] == "str" and t["--lora-modules"][1] == "list"
    assert "model_tag" not in t and "--model-tag" not in t


def test_recorded_table_is_vllm_0_34_with_its_source():
    assert VLLM_VERSION.startswith("0.34.0") and "pip download vllm==0.34.0" in VLLM_SOURCE
    assert len(VLLM_FLAGS) > 300 and "--swap-space" not in VLLM_FLAGS  # V1 has no CPU swap space
    assert VLLM_FLAGS["--data-parallel-size"][0] == ("-dp",)
    assert {"auto", "fp8", "fp8_e4m3", "fp8_e5m2"} <= set(VLLM_VALUES["--kv-cache-dtype"])
    assert {"awq", "fp8", "gptq", "compressed-tensors"} <= set(VLLM_QUANTIZATION)


@pytest.mark.parametrize("setup", [
    Setup(model="m", layout=Layout(tp=4), max_model_len=8192),
    Setup(model="m", layout=Layout(tp=2, pp=2, dp=2), kv_cache_dtype="fp8", quantization="awq", max_num_seqs=32),
    Setup(model="m", layout=Layout(dp=4, ep=4), gpu_memory_utilization=0.8),
])
def test_every_exported_flag_is_in_vllms_table(setup):
    cmd = vllm_command(setup)
    names = set(VLLM_FLAGS) | {a for v in VLLM_FLAGS.values() for a in v[0]}
    assert [t for t in shlex.split(cmd) if t.startswith("-") and t not in names] == []
    got = parse_vllm(cmd)
    assert got["tensor_parallel_size"] == setup.layout.tp and got.get("data_parallel_size", 1) == setup.layout.dp


def test_values_vllm_lists_are_checked():
    with pytest.raises(LlmsizeError, match="values vLLM lists"):
        parse_vllm("vllm serve m --quantization nf5")
    assert parse_vllm("vllm serve m --enable-prefix-caching --served-model-name a b")["served_model_name"] == ["a", "b"]
