"""Properties of per-GPU memory placement (hypothesis) and layout rejection with reasons."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmsize.errors import LlmsizeError
from llmsize.load import from_knobs
from llmsize.parallel import Breakdown, Layout, check_layout, layout_problems, per_gpu, shard_numels
from llmsize.tensors import tensors

specs = st.builds(
    lambda heads, kv_div, hd, layers, ffn, vocab, tied: from_knobs(
        hidden=heads * hd, layers=layers, heads=heads, kv_heads=heads // kv_div, head_dim=hd, ffn=ffn * 8,
        vocab=vocab, tied=tied),
    heads=st.sampled_from([8, 16, 32]), kv_div=st.sampled_from([1, 2, 4, 8]), hd=st.sampled_from([16, 32, 64]),
    layers=st.integers(2, 12), ffn=st.integers(8, 64), vocab=st.integers(100, 5000), tied=st.booleans())


def _bd(spec):
    from llmsize.params import count

    p = count(spec).total
    return Breakdown(weights=2 * p, gradients=2 * p, master_weights=4 * p, optimizer=8 * p,
                     activations=spec.num_layers * 10**7, transient=10**7, kv_cache=spec.num_layers * 10**6,
                     weight_bytes_per_param=2, grad_bytes_per_param=2)


@settings(max_examples=60, deadline=None)
@given(spec=specs, dp=st.sampled_from([1, 2, 3, 4, 8, 16]), fsdp=st.booleans())
def test_sharded_memory_never_grows_with_more_gpus(spec, dp, fsdp):
    """ZeRO-3 / FSDP full_shard: doubling the data-parallel GPUs never adds bytes per GPU."""
    kw = dict(engine="fsdp", fsdp="full_shard", zero=3) if fsdp else dict(engine="deepspeed", zero=3)
    b = _bd(spec)
    one = per_gpu(spec, b, Layout(dp=dp, **kw)).peak_bytes
    two = per_gpu(spec, b, Layout(dp=2 * dp, **kw)).peak_bytes
    assert two <= one


@settings(max_examples=60, deadline=None)
@given(spec=specs, sp=st.booleans())
def test_tp_memory_never_grows(spec, sp):
    """Each valid TP size holds no more bytes per GPU than the next smaller valid one."""
    b = _bd(spec)
    sizes = [t for t in (1, 2, 4, 8) if not layout_problems(spec, Layout(tp=t))]
    peaks = [per_gpu(spec, b, Layout(tp=t, sequence_parallel=sp)).peak_bytes for t in sizes]
    assert peaks == sorted(peaks, reverse=True)


@settings(max_examples=60, deadline=None)
@given(spec=specs, tp=st.sampled_from([1, 2, 4, 8]))
def test_tp_shards_sum_to_the_whole(spec, tp):
    """Σ over TP ranks of every split tensor equals the tensor when the sizes divide."""
    for t in tensors(spec):
        parts = shard_numels(t, tp)
        if len(t.shape) >= 2 and t.shape[0] % tp == 0:
            assert sum(parts) == t.numel
            assert len(set(parts)) == 1
        elif len(t.shape) < 2:
            assert parts == [t.numel] * tp  # replicated


def test_heads_not_divisible_is_rejected_with_reason(llama8b):
    problems = layout_problems(llama8b, Layout(tp=3))
    assert any("attention heads (32) not divisible by TP 3" in p for p in problems)
    with pytest.raises(LlmsizeError, match="not divisible by TP 3"):
        check_layout(llama8b, Layout(tp=3))


def test_layout_product_must_match_gpu_count(llama8b):
    with pytest.raises(LlmsizeError, match="not 16"):
        check_layout(llama8b, Layout(tp=2, pp=2, dp=2), gpus=16)


def test_pipeline_ends_hold_embedding_and_head(llama8b):
    from llmsize.parallel import placement

    p = placement(llama8b, 1, 4, 1)
    assert p.layers == (8, 8, 8, 8)
    emb = 128256 * 4096
    assert p.per_stage[0] - p.per_stage[1] == emb + 0  # embedding on the first stage
    assert p.per_stage[3] - p.per_stage[1] == emb + 4096  # untied head + final norm on the last


def test_1f1b_first_stage_keeps_p_microbatches(llama8b):
    b = Breakdown(weights=0, activations=32 * 1000)
    m = per_gpu(llama8b, b, Layout(pp=4, grad_accum=8))
    acts = [s for s in m.per_stage]
    assert acts == [8 * 4 * 1000, 8 * 3 * 1000, 8 * 2 * 1000, 8 * 1000]


@pytest.mark.parametrize("kw, msg", [
    (dict(zero=4), "ZeRO stage"), (dict(tp=0), "positive"), (dict(engine="ddp", zero=1), "DDP"),
    (dict(offload_params="cpu", engine="deepspeed", zero=2), "ZeRO-3"), (dict(ep=3, dp=4), "EP"),
])
def test_bad_layouts(kw, msg):
    with pytest.raises(LlmsizeError, match=msg):
        Layout(**kw)
