"""T5 (encoder-decoder): parameters equal PyTorch's count of T5ForConditionalGeneration for the t5-3b
reference config, per layer (counted with torch 2.13.0, transformers 5.23.0 under FakeTensorMode)."""
from __future__ import annotations

import sys
from pathlib import Path

from llmsize.families import read
from llmsize.params import count

sys.path.insert(0, str(Path(__file__).parent / "planner"))
from test_anchors import T5_3B  # noqa: E402

T5_3B_CFG = dict(model_type="t5", d_model=1024, d_kv=128, d_ff=16384, num_layers=24, num_heads=32, vocab_size=32128,
                 decoder_start_token_id=0)


def test_t5_3b_equals_pytorch_per_layer():
    """sum(numel) of T5ForConditionalGeneration(t5-3b config): 2,851,598,336; encoder layer 0 50,334,720
    (with the 32 x 32 relative-position table), layers 1-23 50,333,696; decoder layer 0 67,112,960, layers
    1-23 67,111,936 (torch 2.13.0, transformers 5.23.0). The planner's DeepSpeed anchor uses the same count."""
    pc = count(read(T5_3B_CFG, "t5-3b"))
    assert pc.total == 2_851_598_336 == T5_3B
    per = {i: k.params for k in pc.layer_kinds for i in k.layers}
    assert [per[i] for i in range(48)] == [50_334_720] + [50_333_696] * 23 + [67_112_960] + [67_111_936] * 23


# -- memory: the whole encoder-decoder replayed (memory/t5.py, memory/seq2seq.py) -------------------------
# Truth: tests/data/truth_t5.jsonl, measured with scripts/gen_encoder_truth.py (the shared generator's
# measure(), T5ForConditionalGeneration; torch 2.13.0, transformers 5.23.0, peft 0.21.2): 4 configs (t5 v1.0
# relu tied, v1.1 gated-gelu untied with 3 encoder / 2 decoder layers, a flan-like one without dropout, an
# odd relu one with 3 heads of 40, 24 buckets, vocab 777), train / LoRA q,v / forward / generate, 11 shapes.
# Reached when written (median / max |error|): forward 0 / 0, generate 0 / 2.5e-6, train 5.7e-5 / 1.7e-4,
# LoRA train 5.1e-5 / 0.45% (small-t5 b2 s256, peak in the forward's last cross-attention).
BAR = {"forward": (0.0, 1e-6), "generate": (1e-6, 5e-6), "train": (1e-4, 2e-4), "lora train": (1e-4, 0.0046)}


def test_t5_truth_per_mode_at_the_accuracy_reached():
    from tests.test_encoders import errors_by_mode

    results, summ, by = errors_by_mode("truth_t5.jsonl")
    assert len(results) >= 44
    assert set(by) == set(BAR)
    for mode, errs in by.items():
        med, mx = BAR[mode]
        assert summ[mode]["median"] <= med and max(errs) <= mx, (mode, summ[mode])


def _small_t5(**kw):
    return read({**dict(model_type="t5", d_model=256, d_kv=64, d_ff=512, num_layers=3, num_heads=4, vocab_size=1000,
                        decoder_start_token_id=0), **kw}, "small-t5")


def test_t5_autocast_train_equals_measured_peak():
    """fp32 weights with a bf16 autocast forward (the CLI's default training precision), small-t5, AdamW, b2 s256:
    PyTorch's peak 182,014,232 B (scripts/memlab.py t5s train 2 256 --opt adamw --wd float32 --ac bfloat16, the
    shared generator's measure(); torch 2.13.0, transformers 5.23.0). The residual stream stays fp32, SDPA casts
    the fp32 position-bias mask, the feed-forward casts back to fp32 before wo, the loss runs in fp32."""
    from llmsize.memory import estimate
    from llmsize.memory.workload import Workload

    e = estimate(_small_t5(), Workload(mode="train", batch=2, seq_len=256, weights_dtype="fp32", autocast="bf16"))
    assert abs(e.peak_bytes / 182_014_232 - 1) <= 1e-4


def test_t5_workload_meaning_is_printed_and_terms_sum_to_the_peak():
    from llmsize.memory import estimate
    from llmsize.memory.workload import Workload

    e = estimate(_small_t5(), Workload(mode="generate", batch=2, seq_len=256, new_tokens=16))
    assert any("encoder reads the 256-token prompt" in n and "16 tokens" in n for n in e.notes)
    assert sum(t.bytes for t in e.terms) == e.peak_bytes
    kv = next(t for t in e.terms if t.category == "kv_cache") if e.peak_phase == "decode" else None
    assert kv is None or kv.bytes > 0
    e = estimate(_small_t5(), Workload(mode="train", batch=2, seq_len=256))
    names = {t.name for t in e.terms}
    assert "saved activations" in names and sum(t.bytes for t in e.terms) == e.peak_bytes


def test_t5_generation_positions_are_per_stack(tmp_path):
    """A T5 prompt of 512 (n_positions) with 64 new tokens fits: the encoder sees 512 positions, the decoder
    64; the CLI header names both lengths."""
    import json
    import subprocess

    d = tmp_path / "t5"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(dict(model_type="t5", d_model=64, d_kv=16, d_ff=128, num_layers=2,
                                                   num_heads=4, vocab_size=100)))
    r = subprocess.run([sys.executable, "-m", "llmsize", "infer", str(d), "--seq-len", "512", "--new-tokens", "64"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "encoder 512 tokens, decoder 64 new tokens" in " ".join(r.stdout.split())


def test_t5_checkpointing_is_refused_pointing_to_trace():
    import pytest

    from llmsize.errors import LlmsizeError
    from llmsize.memory import estimate
    from llmsize.memory.workload import Workload

    with pytest.raises(LlmsizeError, match="llmsize trace"):
        estimate(_small_t5(), Workload(mode="train", batch=1, seq_len=64, grad_checkpointing=True))


# eager attention, measured with scripts/memlab.py (the shared generator's measure(), T5ForConditionalGeneration;
# torch 2.13.0, transformers 5.23.0, peft 0.21.2): (config, mode, batch, seq, new tokens, LoRA q,v, PyTorch's peak)
_V11 = dict(d_kv=32, d_ff=640, num_decoder_layers=2, num_heads=6, feed_forward_proj="gated-gelu",
            tie_word_embeddings=False)
EAGER = [({}, "forward", 2, 64, 0, False, 9_253_888), ({}, "generate", 2, 64, 4, False, 9_008_128),
         ({}, "train", 1, 200, 0, False, 53_676_084), ({}, "train", 1, 33, 0, True, 13_112_352),
         ({}, "train", 2, 256, 0, True, 80_698_516), (_V11, "forward", 3, 200, 0, False, 15_934_848)]


def test_t5_eager_attention_equals_measured_peaks():
    """T5's eager_attention_forward: scores in the compute dtype (* scaling, + position bias, + the decoder's
    b x 1 x q x k causal float mask), softmax without upcast, the weights kept by the block's `_`. Reached:
    within 0.006% (training), forward and generate exact."""
    from llmsize.memory import estimate
    from llmsize.memory.workload import LoRA, Workload

    for kw, mode, b, s, new, lora, peak in EAGER:
        lo = LoRA(r=16, alpha=32, target_modules=("q", "v")) if lora else None
        e = estimate(_small_t5(**kw), Workload(mode=mode, batch=b, seq_len=s, new_tokens=new, attn_impl="eager",
                                               lora=lo))
        assert abs(e.peak_bytes / peak - 1) <= (1e-6 if mode != "train" else 7e-5), (mode, b, s, e.peak_bytes, peak)
