"""The backward replay is complete: the parameter gradients it produces, layer by layer, add up to
exactly the trainable bytes (P x w, or the LoRA adapters x 4), for every model of the truth sets and
every precision; so each backward point holds the gradients made so far, no more, no less."""
from __future__ import annotations

import json

import pytest

from llmsize.adapters.hf_config import spec_from_config
from llmsize.memory import LoRA, Workload, estimate
from llmsize.memory.estimate import context
from llmsize.memory.regions import layer_regions, run_head
from llmsize.memory.weights import weights
from tests.conftest import DATA

CONFIGS = {}
for f in ("calib.jsonl", "truth_extra.jsonl"):
    for line in (DATA / f).read_text().splitlines():
        r = json.loads(line)
        CONFIGS.setdefault(r["model"], r["config"])

WORKLOADS = {
    "bf16": Workload(mode="train", batch=2, seq_len=64),
    "eager-b1": Workload(mode="train", batch=1, seq_len=64, attn_impl="eager"),
    "amp": Workload(mode="train", batch=2, seq_len=64, weights_dtype="fp32", autocast="bf16"),
    "fp32-gc": Workload(mode="train", batch=2, seq_len=64, weights_dtype="fp32", grad_checkpointing=True),
    "lora-all": Workload(mode="train", batch=2, seq_len=64, lora=LoRA(target_modules=("all-linear",))),
    "lora-gc": Workload(mode="train", batch=2, seq_len=64, grad_checkpointing=True,
                        lora=LoRA(r=8, target_modules=("all-linear",))),
}


@pytest.mark.parametrize("model", sorted(CONFIGS))
@pytest.mark.parametrize("wname", sorted(WORKLOADS))
def test_replayed_gradients_equal_trainable_bytes(model, wname):
    spec = spec_from_config(CONFIGS[model], model)
    wl = WORKLOADS[wname]
    cx = context(spec, wl)
    regs = layer_regions(cx, wl.lora is None or wl.grad_checkpointing, True)
    head = run_head(cx, "train", True)
    emb = spec.vocab_size * spec.word_embed_dim * cx.w if cx.train_base else 0
    pos = (spec.max_position_embeddings + spec.position_offset) * spec.hidden_size * cx.w \
        if spec.position == "learned" and cx.train_base else 0
    made = sum(r.pgrad for r in regs) + head.pgrad + (0 if spec.tie_word_embeddings else emb) + pos
    assert made == weights(spec, wl).trainable_bytes


@pytest.mark.parametrize("wl", [Workload(mode="train", batch=4, seq_len=512),
                                Workload(mode="train", batch=2, seq_len=256, attn_impl="eager"),
                                Workload(mode="forward", batch=2, seq_len=512),
                                Workload(mode="generate", batch=2, seq_len=128, new_tokens=16)],
                         ids=["train", "train-eager", "forward", "generate"])
def test_knob_built_gpt2_equals_the_gpt2_preset(wl):
    """The replay reads spec facts (norm kind, fused qkv, dropout rates, activation), not the family name:
    GPT-2 described with knobs costs what the gpt2 preset costs, except what only GPT-2's own code does:
    its eager attention keeps the softmax in bf16, and GPT2Block holds `attn_output` (b q d w) to its end,
    which shows where the peak sits inside a block (prefill with logits_to_keep=1)."""
    from llmsize.load import from_knobs, load

    knobs = from_knobs(hidden=768, layers=12, heads=12, vocab=50257, gated=False, ffn=3072, tied=True,
                       norm="layernorm", bias=True, positions="learned", max_positions=1024, fused_qkv=True,
                       dropout=0.1, act="gelu_new")
    preset = load("gpt2").spec
    ours, theirs = estimate(knobs, wl).peak_bytes, estimate(preset, wl).peak_bytes
    if wl.attn_impl == "eager":
        assert ours > theirs  # transformers' eager upcasts the scores to fp32
    elif wl.mode == "generate":
        assert ours == theirs - wl.batch * wl.seq_len * 768 * 2
    else:
        assert ours == theirs
