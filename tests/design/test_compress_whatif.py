"""Compression and architecture what-ifs: exact counts, real storage, published anchors."""
from __future__ import annotations

import pytest

from llmsize.design import compress, whatif
from llmsize.design.metrics import Setting
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.params import count
from llmsize.quant.kv import kv_cache_bytes

FAST = Setting()


@pytest.fixture(scope="module")
def llama8b():
    return load("Llama-3.1-8B").spec


def test_minitron_depth_and_width_pruning_land_on_the_published_4_5b(llama8b):
    # Sreenivas et al. 2024, table 1: Llama-3.1-Minitron 4B-Depth and 4B-Width both have 4.5B parameters
    depth = compress.prune(llama8b, drop_layers=16)
    width = compress.prune(llama8b, hidden=3072, ffn=9216)
    assert depth.after.params == 4_540_469_248
    assert width.after.params == 4_512_746_496
    for ch in (depth, width):
        assert ch.after.params == pytest.approx(4.5e9, rel=0.01)
        assert count(ch.spec_after).total == ch.after.params
        assert ch.after.weight_bytes < ch.before.weight_bytes
        assert any(q.source == "sreenivas2024" for q in ch.quality)
    assert width.spec_after.attention.head_dim == 128 and width.spec_after.attention.num_heads == 32


@pytest.mark.parametrize("kw, needle", [
    (dict(drop_layers=32), "can drop 0 to 31"), (dict(ffn=20000), "can only shrink"),
    (dict(), "say what to remove"), (dict(heads=30), "must divide"),
])
def test_prune_rejects_nonsense(llama8b, kw, needle):
    with pytest.raises(LlmsizeError, match=needle):
        compress.prune(llama8b, **kw)


def test_2_4_storage_is_half_the_values_plus_2_bit_indices(llama8b):
    ch = compress.sparse24(llama8b, FAST)
    d = dict(ch.details)
    n = d["sparse_params"]
    assert d["nonzero_params"] == n // 2
    assert d["value_bytes"] == n // 2 * 2  # bf16 values kept
    assert d["metadata_bytes"] == n // 2 * 2 // 8  # 2 bits per kept value
    assert d["value_bytes"] + d["metadata_bytes"] == d["dense_bytes_replaced"] * 9 // 16  # 18 of 32 bits
    assert ch.after.weight_bytes == ch.before.weight_bytes - d["dense_bytes_replaced"] + d["value_bytes"] \
        + d["metadata_bytes"]
    # embeddings and head stay dense: 2 x 128256 x 4096 bf16 values
    assert ch.before.weight_bytes - d["dense_bytes_replaced"] >= 2 * 2 * 128_256 * 4096
    assert ch.after.decode_tokens_per_s > ch.before.decode_tokens_per_s
    assert ch.before.serve_peak_bytes - ch.after.serve_peak_bytes == ch.before.weight_bytes - ch.after.weight_bytes
    assert {q.source for q in ch.quality} == {"sun2023"}


def test_2_4_rejects_fp32(llama8b):
    with pytest.raises(LlmsizeError, match="16-bit or 8-bit"):
        compress.sparse24(llama8b, Setting(dtype="fp32"))


def test_quantize_uses_the_quant_module(llama8b):
    from llmsize.quant.formats import weight_plan

    ch = compress.quantize(llama8b, "Q4_K_M")
    assert ch.after.weight_bytes == weight_plan(llama8b, "Q4_K_M").bytes
    assert ch.after.params == ch.before.params
    assert ch.after.decode_tokens_per_s > 2 * ch.before.decode_tokens_per_s
    # the memory model is fed the quantized bytes
    assert ch.after.serve_peak_bytes < ch.before.serve_peak_bytes
    assert ch.before.serve_peak_bytes - ch.after.serve_peak_bytes < ch.before.weight_bytes - ch.after.weight_bytes


def test_distillation_adds_the_teacher_forward(llama8b):
    student = load("Llama-3.2-1B").spec
    ch = compress.distill(llama8b, student, tokens=94 * 10**9)
    d = dict(ch.details)
    assert d["total_flops"] > ch.after.train_flops
    assert d["gpu_hours"] > ch.after.gpu_hours
    assert ch.after.train_tokens == 94 * 10**9


def test_attention_variants_move_kv_exactly(llama8b):
    w = whatif.attention(llama8b, FAST)
    kv = {v.label: v.metrics.kv_bytes_per_token for v in w.variants}
    assert kv["as is"] == 2 * 32 * 8 * 128 * 2  # GQA-8: K and V, 32 layers, bf16
    assert kv["mha"] == 4 * kv["as is"] and kv["mqa"] == kv["as is"] // 8
    assert kv["mla"] == (512 + 64) * 32 * 2  # one latent of d_c + d_rope per layer (DeepSeek-V2 proportions)
    assert "gqa:8" not in kv  # the variant the model already is
    mla = next(v for v in w.variants if v.label == "mla").spec
    assert kv_cache_bytes(mla, 1) == kv["mla"]


def test_moe_keeps_active_parameters(llama8b):
    w = whatif.moe(llama8b, FAST)
    base = w.variants[0].metrics
    for v in w.variants[1:]:
        assert v.metrics.active_params == pytest.approx(base.active_params, rel=0.002)  # + router
        assert v.metrics.params > 3 * base.params
        assert v.metrics.train_flops_per_token == pytest.approx(base.train_flops_per_token, rel=0.002)


def test_vocab_and_shape(llama8b):
    v = whatif.vocab(llama8b, FAST, (32_000, 262_144))
    assert [x.metrics.vocab for x in v.variants] == [128_256, 32_000, 262_144]
    diff = v.variants[2].metrics.params - v.variants[0].metrics.params
    assert diff == 2 * (262_144 - 128_256) * 4096  # embeddings and untied head
    s = whatif.shape(llama8b, FAST)
    assert all(abs(x.metrics.params / s.variants[0].metrics.params - 1) < 0.05 for x in s.variants)


def test_moe_rejects_a_moe(llama8b):
    with pytest.raises(LlmsizeError, match="already"):
        whatif.moe_spec(load("Mixtral-8x7B-v0.1").spec, 8, 2)
    with pytest.raises(LlmsizeError, match="unknown kind"):
        whatif.attention_spec(llama8b, "linear")


def test_attention_whatif_states_the_layer_types_its_kv_assumes():
    from llmsize.design.compare import whatif_report

    # Mistral-7B-v0.1's stored config (a reconstructed copy) has no sliding_window: all layers full, said so
    m = whatif_report(load("Mistral-7B-v0.1").spec, "attention", kinds="mqa")
    note = next(n for n in m["notes"] if "KV cache per token" in n)
    assert "32 full attention" in note and "no sliding window" in note
    assert {v["kv_layers"] for v in m["variants"]} == {"32 full attention"}
    # gemma-2 alternates sliding (4,096) and full layers; at an 8K context the sliding ones hold the window
    g = load("gemma-2-9b").spec
    rep = whatif_report(g, "attention", kinds="mqa", setting=Setting(context=8192))
    note = next(n for n in rep["notes"] if "KV cache per token" in n)
    assert "21 full attention + 21 sliding window (4,096 tokens)" in note and "the last 4,096 tokens" in note
    base = rep["variants"][0]
    assert base["kv_layers"] == "21 full attention + 21 sliding window (4,096 tokens)"
    assert base["kv_bytes"] == kv_cache_bytes(g, 8192) == base["kv_bytes_per_token"] * (8192 + 4096) // 2
