"""torchtitan --float8 is planned, not just written: torchao's float8 casts and float8 all-gather in memory,
the linears' GEMMs at the FP8 peak in speed, refused on GPUs without FP8."""
from __future__ import annotations

import pytest

from llmsize.errors import LlmsizeError
from llmsize.export.command import run_export
from llmsize.float8 import float8_plan, float8_terms
from llmsize.load import load
from llmsize.pergpu import job_memory
from llmsize.planner.jobs import make_job, make_layout
from llmsize.planner.search import with_steps


def _mem(model: str, layout):
    spec, job = load(model).spec, make_job("train")
    return spec, job, job_memory(spec, job, with_steps(job, layout))


def test_casts_are_the_largest_linears_fp8_copies():
    spec, _, mem = _mem("Llama-3.1-8B", make_layout(1))  # one GPU: no FSDP, the weight is cast too
    (casts,) = float8_terms(spec, mem, tokens=4096, fp8_all_gather=False)
    # gate/up (14336 x 4096): input T·4096 (e4m3) + grad_output T·14336 twice (e5m2) + weight 14336·4096 (e4m3)
    assert casts.value == 4096 * 4096 + 2 * 4096 * 14336 + 14336 * 4096 == 192_937_984


def test_fsdp_float8_all_gather_halves_the_gathered_linear_weights():
    spec, _, mem = _mem("Llama-3.1-8B", make_layout(8, fsdp="full_shard"))
    casts, gather = float8_terms(spec, mem, tokens=4096, fp8_all_gather=True)
    assert casts.value == 4096 * 4096 + 2 * 4096 * 14336  # the weight arrives in float8
    gathered = sum(t.value for t in mem.terms if t.name in ("layers unsharded", "all gather buffers"))
    assert gathered > 0 and -gather.value < gathered // 2 and -gather.value > gathered * 0.49  # linears ≈ 99.99%


def test_float8_plan_speed_and_refusal():
    spec, job = load("Llama-3.1-70B").spec, make_job("train")
    lay = make_layout(64, fsdp="full_shard")
    p = float8_plan(spec, job, "H100", lay)
    assert p.tokens_per_s > p.bf16_tokens_per_s and p.peak_bytes < p.bf16_peak_bytes
    assert p.peak_bytes == p.bf16_peak_bytes + sum(t.value for t in p.terms)
    with pytest.raises(LlmsizeError, match="A100-SXM-80GB has none"):
        float8_plan(spec, job, "A100-80GB", lay)


def test_export_torchtitan_float8_plans_it():
    # FSDP over all 64 (the planner's pick ranks Megatron-style TP x PP against it by efficiency: pinned here)
    out = run_export("torchtitan", "Llama-3.1-70B", gpu_name="H100", gpus=64, float8=True, fsdp="full_shard")
    assert 'converters = ["quantize.linear.float8"]' in out.text
    note = out.notes[-1]
    assert note.startswith("float8 linears: ") and "FP8 GEMM peak" in note and "float8 all-gather -" in note
    p = float8_plan(load("Llama-3.1-70B").spec, make_job("train"), "H100", make_layout(64, fsdp="full_shard"))
    assert out.memory_per_gpu == p.peak_bytes
    with pytest.raises(LlmsizeError, match="FP8 tensor cores"):
        run_export("torchtitan", "Llama-3.1-70B", gpu_name="A100-80GB", gpus=64, float8=True)
