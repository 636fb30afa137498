"""Published anchors, each with its source and tolerance."""
from __future__ import annotations

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.parallel import Breakdown, Layout, model_states
from llmsize.perf import train_time

from planner_specs import GPT3, LLAMA_31_405B, spec

GIB = 2**30

# t5-3b as DeepSpeed counts it (docs/code-docs/source/memory.rst): 2851M params, largest layer = the
# shared 32128 x 1024 embedding. Exact count of T5Model("t5-3b") as PyTorch counts it (2,851,598,336 with
# torch 2.13.0, transformers 5.23.0; tests/test_t5.py checks llmsize's count against it): 24 encoder layers
# of 50,333,696 and 24 decoder layers of 67,111,936 (self + cross attention 2 x 4 x 1024 x 4096, feed-forward
# 2 x 1024 x 16384, three RMSNorm weights), plus the relative-position table (32 buckets x 32 heads) in the
# first layer of each stack, two final norms and one shared embedding.
T5_3B = 24 * 50_333_696 + 24 * 67_111_936 + 2 * 32 * 32 + 2 * 1024 + 32128 * 1024
T5_LARGEST = 32128 * 1024
# bf16 mixed-precision Adam as DeepSpeed keeps it: 2-byte params and grads, fp32 master and Adam m, v.
DS_BF16 = Breakdown(weights=2 * T5_3B, gradients=2 * T5_3B, master_weights=4 * T5_3B, optimizer=8 * T5_3B,
                    weight_bytes_per_param=2, grad_bytes_per_param=2)


@pytest.mark.parametrize("zero, opt, par, documented", [
    (2, "none", "none", 15.93), (2, "cpu", "none", 5.31),
    (3, "none", "none", 6.10), (3, "cpu", "none", 0.79), (3, "cpu", "cpu", 0.12),
])
def test_deepspeed_t5_3b_zero_table(zero, opt, par, documented):
    """DeepSpeed memory.rst, t5-3b on 1 node x 8 GPUs, per-GPU model-state GB (GiB) to its 2 decimals.

    Source: deepspeed-memory. Tolerance: 0.005 GiB (the table's rounding)."""
    lay = Layout(dp=8, engine="deepspeed", zero=zero, offload_optimizer=opt, offload_params=par)
    terms, _ = model_states(DS_BF16, lay, params_on_gpu=T5_3B, total_params=T5_3B, largest_unit=T5_LARGEST)
    got = sum(v for _, v, _, _ in terms) / GIB
    assert got == pytest.approx(documented, abs=0.005)


def test_gpt3_175b_34_days():
    """GPT-3 175B, 300B tokens, 1024 A100s at 140 TFLOP/s each with recomputation: ~34 days.

    Source: narayanan2021 (sec. 5.1, 8TP/(nX)). Tolerance 5% (we add the attention FLOPs they drop)."""
    s = spec(GPT3, "GPT-3 175B")
    a100 = get_gpu("A100-SXM-80GB")
    tt = train_time(s, tokens=300e9, gpus=1024, peak_flops=a100.peak_flops("bf16"), seq_len=2048,
                    mfu=140e12 / a100.peak_flops("bf16"), recompute=True)
    assert tt.days == pytest.approx(34, rel=0.05)


def test_llama_31_405b_gpu_hours():
    """Llama 3.1 405B: 15.6T tokens, 8K sequences, BF16 MFU 38-43% on H100 -> 30.84M GPU-hours.

    Source: dubey2024. Tolerance 10% at 40% MFU (the middle of the reported range)."""
    s = spec(LLAMA_31_405B, "Llama-3.1-405B")
    h100 = get_gpu("H100-SXM")
    tt = train_time(s, tokens=15.6e12, gpus=16384, peak_flops=h100.peak_flops("bf16"), seq_len=8192, mfu=0.40)
    assert tt.gpu_hours == pytest.approx(30.84e6, rel=0.10)
