"""The llama.cpp build a measurement ran: CUDA graphs in a decode step (PR 6766, 2024-05) and MMQ for quantized
prompts (PR 8075, 2024-06), and the prompt terms they sit beside (output head, materialised scores)."""
from __future__ import annotations

import json

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.speedmodel.builds import build_number, llamacpp_graphs, llamacpp_mmq
from llmsize.speedmodel.efficiency import serve_path
from llmsize.speedmodel.predict import decode, head_params, layer_overhead_s, prefill, score_bytes
from llmsize.validate_speed import model_spec
from tests.conftest import DATA

ROWS = [json.loads(x) for x in (DATA / "speed_calib.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("text, n", [("b6100", 6100), ("build 93bc3839 (3622)", 3622), ("commit 2241453", None),
                                     ("master before PR 4766 (CUDA)", None), (None, None)])
def test_build_number(text, n):
    assert build_number(text) == n


@pytest.mark.parametrize("gpu, version, date, graphs, mmq", [
    ("RTX-4090", "b6100", None, True, True),
    ("RTX-4090", "build 32d9f7d9 (1786)", "2024-01", False, False),  # the number wins over the month
    ("RTX-4090", "master before PR 12183", "2025-03", True, True),
    ("RTX-4090", "llama.cpp of 2024-05", "2024-05", False, False),  # the merge's own month: before it
    ("RTX-3090", None, "2024-06", True, False),  # graphs (May) but not yet MMQ (late June)
    ("RTX-4090", None, None, True, True),  # no source: today's llama.cpp
    ("P40", "b6100", None, False, True),  # Pascal: no graphs; MMQ (dp4a) always
    ("M2-Ultra", None, "2025-08", False, True),  # Metal: neither switch applies
    ("RX-7900-XTX", None, "2026", False, True),  # ROCm: HIP graphs are off by default
    ("Quadro-RTX-6000", None, "2025-08", False, True),  # Turing: tensor cores, no graphs before 2026
    ("V100-PCIe-32GB", None, "2024-01", False, False),  # Volta: FP16 tensor cores, cuBLAS then
    ("GB10", "b6100", None, True, True),  # the DGX Spark's Blackwell
])
def test_graphs_and_mmq_by_gpu_and_build(gpu, version, date, graphs, mmq):
    g = get_gpu(gpu)
    assert llamacpp_graphs(g, version, date) is graphs and llamacpp_mmq(g, version, date) is mmq


def test_graphs_shorten_a_decode_step_by_its_layers_fixed_cost():
    spec, g = model_spec("Llama-2-7b-hf", "x"), get_gpu("RTX-4090")
    args = dict(engine="llama.cpp", weights="Q4_0", kv_dtype="f16", batch=1, context=0, tokens=128)
    old, new = decode(spec, g, cuda_graphs=False, **args), decode(spec, g, cuda_graphs=True, **args)
    saved = layer_overhead_s(g, "llama.cpp", False) - layer_overhead_s(g, "llama.cpp", True)
    assert saved > 0 and old.terms["step_s"] - new.terms["step_s"] == pytest.approx(spec.num_layers * saved)
    # other engines and GPUs without graphs keep the whole fixed cost
    assert layer_overhead_s(g, "vllm", True) == layer_overhead_s(g, "llama.cpp", False)
    p40 = get_gpu("P40")
    assert layer_overhead_s(p40, "llama.cpp", None) == layer_overhead_s(p40, "llama.cpp", False)


def test_an_old_build_multiplies_quantized_prompts_in_fp16():
    g = get_gpu("RTX-4090")
    assert serve_path("llama.cpp", "Q4_0", g, mmq=True) == "int8"
    assert serve_path("llama.cpp", "Q4_0", g, mmq=False) == "fp16acc"
    assert serve_path("vllm", "bf16", g, mmq=False) == "bf16"


def test_a_prompt_projects_only_its_last_token_to_the_vocabulary():
    spec, g = model_spec("Llama-2-7b-hf", "x"), get_gpu("RTX-4090")
    one = prefill(spec, g, engine="llama.cpp", weights="F16", batch=1, tokens=1, prefill_efficiency=0.5)
    many = prefill(spec, g, engine="llama.cpp", weights="F16", batch=1, tokens=512, prefill_efficiency=0.5)
    assert head_params(spec) == spec.hidden_size * spec.vocab_size
    # 512 tokens cost less than 512 single-token prompts by about 511 output heads (attention aside)
    assert many.value > one.value


def test_materialised_scores_cost_memory_time_without_flash_attention():
    row = next(r for r in ROWS if r["id"] == "llamacpp-rtx4090-qwen25coder3b-q4_0-pp4096")
    spec, g = model_spec(row["model"], "x"), get_gpu("RTX-4090")
    assert score_bytes(spec, 1, 4096, None) == 0 and score_bytes(spec, 1, 4096, True) == 0
    a = spec.attention
    assert score_bytes(spec, 1, 4096, False) == spec.attention_layers * a.num_heads * 4096 * (4096 + 512) // 2 * 16
    args = dict(engine="llama.cpp", weights="Q4_0", batch=1)
    for n in (512, 4096):
        fa, no = prefill(spec, g, tokens=n, flash_attn=True, **args), prefill(spec, g, tokens=n, flash_attn=False, **args)
        assert no.value < fa.value and no.terms["scores_s"] > 0 == fa.terms["scores_s"]
    # the long prompt loses more to its scores than the short one
    s512 = prefill(spec, g, tokens=512, flash_attn=False, **args).terms
    s4k = prefill(spec, g, tokens=4096, flash_attn=False, **args).terms
    assert s4k["scores_s"] / s4k["seconds"] > s512["scores_s"] / s512["seconds"]
