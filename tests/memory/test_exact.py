"""Exact bytes on a tiny Llama (d=8, L=2), every number derived by hand in the test.

Tiny spec: d=8, L=2, n_h=2, n_kv=1, d_h=4, f=16 (gated SiLU), tied embeddings, vocab V.
  P = 8V (embedding) + 2 x [2 norms 16 + q 64 + k 32 + v 32 + o 64 + MLP 3*8*16=384] + final norm 8
    = 8V + 1192;   20 parameter tensors;   rotary buffers inv_freq + original: 2 x (4/2) x 4 = 16 B.
"""
from __future__ import annotations

import pytest

from llmsize.errors import LlmsizeError
from llmsize.memory import LoRA, Workload, estimate
from llmsize.memory.device import kv_bytes_per_token
from llmsize.memory.sim import Sim
from llmsize.spec import MLP, Attention, ModelSpec


def tiny(vocab: int) -> ModelSpec:
    return ModelSpec(name="tiny", model_type="llama", hidden_size=8, num_layers=2, vocab_size=vocab,
                     attention=Attention(num_heads=2, num_kv_heads=1, head_dim=4),
                     mlp=MLP(kind="gated", intermediate_size=16), tie_word_embeddings=True)


def params(vocab: int) -> int:
    return 8 * vocab + 2 * (16 + 64 + 32 + 32 + 64 + 384) + 8


def test_weights_and_buffers():
    e = estimate(tiny(32), Workload(mode="forward", batch=1, seq_len=1))
    assert params(32) == 1448
    assert e.weights_bytes == 2 * 1448
    assert any(t.name.startswith("rotary") and t.bytes == 16 for t in e.terms)


def test_optimizer_step_peak_is_five_weights():
    """bf16 AdamW, b=s=1: peak in the step = W + G + exp_avg + exp_avg_sq + sqrt temporary
    = 5 x 2P + 20 fp32 step tensors + 16 B buffers."""
    e = estimate(tiny(32), Workload(mode="train", batch=1, seq_len=1))
    P = params(32)
    assert e.peak_phase == "optimizer step"
    assert e.peak_bytes == 5 * 2 * P + 4 * 20 + 16 == 14576
    by = {t.name: t.bytes for t in e.terms}
    assert by["weights (bf16)"] == by["gradients"] == by["optimizer step temporaries"] == 2 * P
    assert by["optimizer states (adamw)"] == 2 * 2 * P + 4 * 20  # exp_avg, exp_avg_sq (bf16) + fp32 steps


def test_forward_peak_is_logits_plus_last_hidden():
    """Eval forward with full logits, V=4096 >> d, f: W + T V 2 (logits) + T d 2 (final norm output)."""
    V, T = 4096, 4
    e = estimate(tiny(V), Workload(mode="forward", batch=1, seq_len=T))
    W = 2 * params(V) + 16
    assert e.peak_bytes == W + T * V * 2 + T * 8 * 2 == 100768


def test_training_backward_peak_by_hand():
    """bf16 training, V=4096, b=1, s=4 (T=4): the peak is the loss backward.

    Saved per layer (bf16): two RMSNorms 2 x (fp32 input 4Td + rstd 4T + bf16 h 2Td + output 2Td),
    rotated q 2T n_h d_h, rotated k 2T n_kv d_h, v 2T n_kv d_h, SDPA output 2T n_h d_h, log-sum-exp
    4 b n_h s, MLP gate, act, up, product 4 x 2Tf: 16Td + 8T + 4T n_h d_h + 4T n_kv d_h + 4 b n_h s + 8Tf
    = 128T + 8T + 32T + 16T + 8T + 128T = 320T.
    Head: final norm 8Td + 4T = 68T, log-softmax 4TV; at log_softmax_backward two more fp32 T x V.
    Rotary cos and sin (2 x s x d_h x 2) and the int64 positions (8s), saved by every layer: 24T."""
    V, T = 4096, 4
    P = params(V)
    W, M = 2 * P + 16, 2 * 2 * P + 4 * 20
    e = estimate(tiny(V), Workload(mode="train", batch=1, seq_len=T))
    assert e.peak_phase == "backward"
    assert e.peak_bytes == W + M + 2 * 320 * T + 24 * T + 68 * T + 12 * T * V == 403392


def test_checkpointed_backward_peak_by_hand():
    """Same with checkpointing: the layers keep only their inputs (2 x T d 2 = 32T), so the loss
    backward drops to W + M + 32T + 24T + 68T + 12TV = 400960 and the peak moves to the end of backward,
    where the tied embedding's dense gradient (V d 2) is summed with the head's into a new tensor after the
    incoming gradient (T d 2) is released: W + M + G + max(T d 2 + V d 2, 2 V d 2) = 402848 (measured on
    tied tiny Llamas, tests/data/truth_offgrid.jsonl: odd-llama-3h within 0.001%)."""
    V, T = 4096, 4
    P = params(V)
    W, M = 2 * P + 16, 4 * P + 80
    e = estimate(tiny(V), Workload(mode="train", batch=1, seq_len=T, grad_checkpointing=True))
    assert e.phases["backward"] >= W + M + 32 * T + 24 * T + 68 * T + 12 * T * V == 400960
    assert e.peak_phase == "backward"
    assert e.peak_bytes == W + M + 2 * P + max(T * 8 * 2 + V * 8 * 2, 2 * V * 8 * 2) == 402848


def test_lora_trainable_by_hand():
    """r=2 on q (8->8) and v (8->4): per layer 2(8+8) + 2(8+4) = 56; two layers 112."""
    e = estimate(tiny(32), Workload(mode="train", lora=LoRA(r=2, alpha=4, target_modules=("q_proj", "v_proj"))))
    assert e.trainable_params == 112
    assert e.weights_bytes == 2 * params(32) + 4 * 112


def test_kv_bytes_per_token_by_hand():
    """L x n_kv x (d_h + d_v) x bytes = 2 x 1 x 8 x 2 = 32 B per token."""
    assert kv_bytes_per_token(tiny(32), 2) == 32


def test_sim_saves_and_frees_like_autograd():
    """new/drop/op/backward on hand-made tensors: an activation saved by one node survives its
    Python variable and is freed when that node runs in backward."""
    g = Sim(grad=True)
    x = g.external(100, rg=True)
    y = g.new(200, True)
    g.op((x,), (y,), (x,))  # y = f(x), saves x
    z = g.new(300, True)
    g.op((y,), (z,), (z,))  # z = h(y), saves z (like relu)
    g.drop(y)  # y not saved: freed
    g.drop(x)  # the caller's handle: x stays, saved
    g.drop(z)  # z stays too: saved by its own node
    assert g.peak == 600 and g.live == 400
    assert g.saved_bytes() == 400  # x and z
    peak, end, pg = g.backward(z, start=400 + 300)  # saved + grad of z
    # node h: + grad y (200) -> 900, frees grad z and z; node f: + grad x (100), frees grad y and x
    assert peak == 900 and end == 100 and pg == 0


def test_terms_sum_to_peak_and_use_known_categories():
    e = estimate(tiny(512), Workload(mode="generate", batch=2, seq_len=16, new_tokens=8))
    by = {t.name: t.bytes for t in e.terms}
    # peak inside layer 1 of the prefill: layer 0's cache is complete, b s n_kv (d_h + d_v) 2 = 2*16*1*8*2
    assert by["KV cache"] == 2 * 16 * 1 * 8 * 2 == 512
    # inputs_embeds b s d w + rotary cos/sin 2 s d_rot w + position ids 8 s
    assert by["held by the model body (embeddings, masks, previous logits)"] == 2 * 16 * 8 * 2 + 2 * 16 * 4 * 2 + 8 * 16
    assert {t.category for t in e.terms} <= {"weights", "activations", "transient", "kv_cache"}
    assert set(e.phases) == {"prefill", "decode"}


def test_unknown_lora_target_is_an_error():
    with pytest.raises(LlmsizeError, match="gate_up"):
        estimate(tiny(32), Workload(mode="train", lora=LoRA(target_modules=("gate_up",))))
