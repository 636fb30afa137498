"""Bad input raises LlmsizeError with a message naming the flag (or the line)."""
from __future__ import annotations

import pytest

from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.memory import LoRA, Workload, estimate


@pytest.mark.parametrize("kw, flag", [
    (dict(batch=0), "--batch"), (dict(batch=-2), "--batch"), (dict(seq_len=0), "--seq-len"),
    (dict(seq_len=-5), "--seq-len"), (dict(new_tokens=-1), "--new-tokens"), (dict(grad_accumulation=0), "--grad-accum"),
    (dict(optimizer="adamx"), "--optimizer"), (dict(weights_dtype="fp13"), "--dtype"), (dict(autocast="fp32"), "--amp"),
    (dict(attn_impl="magic"), "--attn"), (dict(kv_cache_dtype="int3"), "--kv-cache-dtype"), (dict(runtime="tgi"), "--runtime"),
    (dict(mode="serve"), "mode"), (dict(batch=True), "--batch"),
])
def test_bad_workload(kw, flag):
    with pytest.raises(LlmsizeError, match=flag):
        Workload(**kw)


def test_bad_optimizer_suggests():
    with pytest.raises(LlmsizeError, match="adamw"):
        Workload(optimizer="adamww")


@pytest.mark.parametrize("kw, flag", [(dict(r=0), "--lora-r"), (dict(alpha=-1), "--lora-alpha"),
                                      (dict(target_modules=()), "--lora-targets")])
def test_bad_lora(kw, flag):
    with pytest.raises(LlmsizeError, match=flag):
        LoRA(**kw)


def test_unknown_lora_target_names_it():
    spec = load("Llama-3.2-1B").spec
    with pytest.raises(LlmsizeError, match="qkv_proj"):
        estimate(spec, Workload(mode="train", lora=LoRA(target_modules=("qkv_proj",))))


def test_lora_layers_out_of_range():
    spec = load("Llama-3.2-1B").spec
    with pytest.raises(LlmsizeError, match="out of range"):
        estimate(spec, Workload(mode="train", lora=LoRA(layers=(0, 99))))


def test_lora_only_for_training():
    with pytest.raises(LlmsizeError, match="train"):
        Workload(mode="generate", lora=LoRA())


def test_bad_override():
    spec = load("Llama-3.2-1B").spec
    with pytest.raises(LlmsizeError, match="weights_bytes_override"):
        estimate(spec, Workload(mode="forward"), weights_bytes_override=-1)
