"""Properties the physics must have for any model and workload."""
from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmsize.families import TRAITS
from llmsize.memory import Workload, estimate
from llmsize.memory.device import kv_bytes_per_token
from llmsize.memory.weights import rope_buffers
from llmsize.params import count
from llmsize.quant.kv import kv_cache_bytes
from llmsize.spec import MLP, Attention, ModelSpec

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def specs(draw, min_layers: int = 1):
    heads = draw(st.sampled_from([1, 2, 4, 8]))
    kv = draw(st.sampled_from([k for k in (1, 2, 4, 8) if heads % k == 0]))
    hd = draw(st.sampled_from([8, 16, 32]))
    d = draw(st.sampled_from([32, 64, 128]))
    family = draw(st.sampled_from(["llama", "qwen2", "gpt2", "gpt_neox", "opt", "gemma2"]))
    gated = family in ("llama", "qwen2", "gemma2")
    mlp = MLP(kind="gated" if gated else "plain", intermediate_size=draw(st.sampled_from([32, 64, 256])),
              bias=not gated, activation={"gpt2": "gelu_new", "opt": "relu"}.get(family, "silu"))
    if family in ("gpt2", "gpt_neox", "opt"):
        kv = heads
    att = Attention(num_heads=heads, num_kv_heads=kv, head_dim=hd, qkv_bias=family != "llama",
                    fused_qkv=family in ("gpt2", "gpt_neox"))
    L = draw(st.integers(min_layers, 3))
    from llmsize.spec import Norms
    norms = Norms(kind="layernorm", bias=True) if family in ("gpt2", "gpt_neox", "opt") else \
        Norms(per_layer=4 if family == "gemma2" else 2)
    extra = {}
    if family in ("gpt2", "opt"):
        extra = dict(position="learned", max_position_embeddings=4096)
    if family == "opt":
        extra["position_offset"] = 2
    if family == "gpt_neox":
        extra = dict(rotary_fraction=0.25, parallel_residual=True)
    if family == "gemma2":
        extra = dict(layer_types=tuple("sliding" if i % 2 == 0 else "full" for i in range(L)), sliding_window=64)
    if family == "gpt2":
        extra.update(hidden_dropout=0.1, attention_dropout=0.1, embed_dropout=0.1)
    if family == "opt":
        extra["hidden_dropout"] = 0.1
    if family == "gemma2":
        extra.update(attn_softcap=50.0, final_softcap=30.0)
    return ModelSpec(name="p", model_type=family, traits=TRAITS[family], hidden_size=d, num_layers=L,
                     vocab_size=draw(st.sampled_from([64, 1000, 5000])), attention=att, mlp=mlp, norms=norms,
                     tie_word_embeddings=draw(st.booleans()), **extra)


@st.composite
def workloads(draw):
    mode = draw(st.sampled_from(["train", "forward", "generate"]))
    kw = dict(mode=mode, batch=draw(st.integers(1, 4)), seq_len=draw(st.integers(1, 200)),
              attn_impl=draw(st.sampled_from(["sdpa", "eager"])))
    if mode == "generate":
        kw["new_tokens"] = draw(st.integers(0, 40))
    if mode == "train":
        kw["optimizer"] = draw(st.sampled_from(["adamw", "sgd-momentum", "sgd"]))
        kw["grad_checkpointing"] = draw(st.booleans())
        if draw(st.booleans()):
            kw.update(weights_dtype="fp32", autocast=draw(st.sampled_from([None, "bf16"])))
    return Workload(**kw)


@SETTINGS
@given(specs(), workloads())
def test_monotone_in_batch_and_sequence(spec, wl):
    p = estimate(spec, wl).peak_bytes
    assert estimate(spec, replace(wl, batch=wl.batch + 1)).peak_bytes >= p
    assert estimate(spec, replace(wl, seq_len=wl.seq_len + 7)).peak_bytes >= p


@SETTINGS
@given(specs(), workloads())
def test_monotone_in_bits(spec, wl):
    """fp32 weights never need less than bf16 ones; a wider KV cache never less than a narrower one."""
    if wl.autocast is None and wl.weights_dtype != "fp32":
        assert estimate(spec, replace(wl, weights_dtype="fp32")).peak_bytes >= estimate(spec, wl).peak_bytes
    if wl.mode == "generate":
        lo = estimate(spec, replace(wl, kv_cache_dtype="fp8")).peak_bytes
        assert estimate(spec, replace(wl, kv_cache_dtype="fp32")).peak_bytes >= lo


@SETTINGS
@given(specs(), st.integers(1, 64), st.integers(1, 5000))
def test_kv_cache_linear_in_batch_times_tokens(spec, b, t):
    per = kv_bytes_per_token(spec, 2)
    a = spec.attention
    assert per == spec.num_layers * a.num_kv_heads * (a.head_dim + a.v_dim) * 2
    if not spec.layer_types:  # the quantization planner's cache formula (its own code) agrees
        assert kv_cache_bytes(spec, t, "bf16", batch=b) == b * t * per


@SETTINGS
@given(specs())
def test_gqa_kv_is_mha_kv_times_kv_over_heads(spec):
    a = spec.attention
    mha = spec.with_(attention=replace(a, num_kv_heads=a.num_heads))
    assert kv_bytes_per_token(spec, 2) * a.num_heads == kv_bytes_per_token(mha, 2) * a.num_kv_heads


@SETTINGS
@given(specs(min_layers=2), workloads())
def test_checkpointing_never_increases_the_training_peak(spec, wl):
    """Checkpointing keeps one hidden state per layer instead of everything a layer saves, so it
    never raises the peak once activations matter (b s >= 64 here). When the peak sits at the end of
    backward (tiny b s, SGD) the checkpoint still holds layer 0's input, which plain autograd may
    have dropped, and with eager attention its recompute's scores: at most one hidden state T d w and
    one score matrix b n_h s² w more. PyTorch does the same: a 2-layer d=32 Llama, b2 s4, bf16, SGD
    with momentum, eager, measured with `llmsize trace`: 78,088 B without, 78,696 B with checkpointing
    (+608 B; the model: +576 B, 78,112 -> 78,688; tests/data/truth_offgrid.jsonl holds the first)."""
    wl = replace(wl, mode="train", new_tokens=0, optimizer=wl.optimizer or "adamw")
    off = estimate(spec, replace(wl, grad_checkpointing=False)).peak_bytes
    on = estimate(spec, replace(wl, grad_checkpointing=True)).peak_bytes
    hidden = wl.batch * wl.seq_len * spec.hidden_size * wl.w_bytes
    scores = wl.batch * spec.attention.num_heads * wl.seq_len ** 2 * wl.w_bytes if wl.attn_impl == "eager" else 0
    assert on <= off + hidden + scores
    if wl.batch * wl.seq_len >= 64:
        assert on <= off


@SETTINGS
@given(specs(), workloads())
def test_weight_terms_are_the_parameter_count_and_the_peak_is_the_largest_phase(spec, wl):
    e = estimate(spec, wl)
    assert e.weights_bytes == count(spec).total * wl.w_bytes
    assert any(t.bytes == rope_buffers(spec) and t.name.startswith("rotary") for t in e.terms) == (
        rope_buffers(spec) > 0)
    assert all(t.bytes >= 0 for t in e.terms)
    assert e.peak_bytes == max(e.phases.values())
    assert e.phases[e.peak_phase] == e.peak_bytes
