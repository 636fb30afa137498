"""Measure peak-memory truth and PyTorch parameter counts for small configs of the encoder families
(bert, roberta, modernbert) and the encoder-decoder t5, with the shared generator's own `measure()`.

    /work/venv-truth/bin/python scripts/gen_encoder_truth.py --generator /work/shared/truth \
        --out tests/data/truth_encoders.jsonl --params-out tests/data/param_counts_encoders.json [--only S]

The shared `measure()` builds `AutoModelForCausalLM`; the minimal extension here swaps in the class a
user trains each type with, and nothing else of the measurement changes (MemTracker under
FakeTensorMode, same patches, same two training iterations, same peft setup):
  - encoders: `AutoModelForMaskedLM` (BertForMaskedLM, RobertaForMaskedLM, ModernBertForMaskedLM),
    train = `model(input_ids=x, labels=x).loss` (the MLM loss with labels = input_ids, no token masked
    out: every position is scored), forward = `model(input_ids=x, use_cache=False)` under no_grad (all
    b x s logits); no attention_mask is passed (no padding). Encoders do not generate.
  - t5: `AutoModelForSeq2SeqLM` (T5ForConditionalGeneration), train = `model(input_ids=x, labels=x)`:
    encoder over s tokens, decoder over s tokens (decoder_input_ids = labels shifted right); forward =
    `model(input_ids=x, decoder_input_ids=x, use_cache=False)` under no_grad (encoder and decoder over the
    same s tokens, all b x s logits); generate = the encoder once over the s-token prompt, then the decoder
    from one start token (decoder_start_token_id) with an EncoderDecoderCache, and new_tokens - 1 further
    one-token steps on that cache (self-attention keys/values grow by one token a step, cross-attention
    keys/values are computed at the first step over the s encoder tokens and reused). That is what
    `llmsize trace` runs (src/llmsize/trace.py) and what `generate()` allocates without its bookkeeping.
    The shared generator's forward/generate calls (`model(input_ids=x, use_cache=...)`,
    `model(input_ids=nxt, past_key_values=...)`) are mapped onto these by `_seq2seq_class()`.
LoRA "qv" targets: bert/roberta query+value, modernbert Wqkv, t5 q+v (encoder and decoder, self and
cross attention). Needs torch 2.13 + transformers 5.23 + peft. Resumable: cases already in --out are
skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

SMALL = dict(hidden_size=256, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4, vocab_size=1000)
CONFIGS = {
    "small-bert": dict(SMALL, model_type="bert", max_position_embeddings=512, pad_token_id=0),
    "small-bert-nodrop": dict(SMALL, model_type="bert", max_position_embeddings=512, pad_token_id=0,
                              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, type_vocab_size=1,
                              hidden_size=384, num_attention_heads=6, hidden_act="relu"),
    "small-roberta": dict(SMALL, model_type="roberta", max_position_embeddings=514, type_vocab_size=1,
                          pad_token_id=1, bos_token_id=0, eos_token_id=2),
    "small-modernbert": dict(SMALL, model_type="modernbert", intermediate_size=384, num_hidden_layers=5,
                             max_position_embeddings=1024, local_attention=64, pad_token_id=0, bos_token_id=0,
                             eos_token_id=0, cls_token_id=0, sep_token_id=0),
    "small-modernbert-bias": dict(SMALL, model_type="modernbert", num_hidden_layers=3, global_attn_every_n_layers=2,
                                  norm_bias=True, attention_bias=True, mlp_bias=True, classifier_bias=True,
                                  decoder_bias=False, tie_word_embeddings=False, pad_token_id=0, bos_token_id=0,
                                  eos_token_id=0, cls_token_id=0, sep_token_id=0),
    "small-t5": dict(model_type="t5", d_model=256, d_kv=64, d_ff=512, num_layers=3, num_heads=4, vocab_size=1000,
                     decoder_start_token_id=0),
    "small-t5-v1_1": dict(model_type="t5", d_model=256, d_kv=32, d_ff=640, num_layers=3, num_decoder_layers=2,
                          num_heads=6, vocab_size=1000, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                          decoder_start_token_id=0),
    # off the grid above: flan-t5-like (gated-gelu, untied, no dropout in the config), t5 v1.0 relu with odd
    # shapes (3 heads of 40, 2 encoder / 3 decoder layers, 24 buckets, vocab 777)
    "small-flan-t5": dict(model_type="t5", d_model=320, d_kv=64, d_ff=768, num_layers=2, num_decoder_layers=3,
                          num_heads=5, vocab_size=1200, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                          dropout_rate=0.0, decoder_start_token_id=0),
    "odd-t5-relu": dict(model_type="t5", d_model=120, d_kv=40, d_ff=300, num_layers=2, num_decoder_layers=3,
                        num_heads=3, vocab_size=777, relative_attention_num_buckets=24, dropout_rate=0.05,
                        decoder_start_token_id=0),
}
T5 = {k for k, v in CONFIGS.items() if v["model_type"] == "t5"}
ENCODERS = {"bert", "roberta", "modernbert"}
QV = {"bert": ["query", "value"], "roberta": ["query", "value"], "modernbert": ["Wqkv"], "t5": ["q", "v"]}
# (mode, batch, seq, new tokens, LoRA kind)
GRID = [("train", 2, 256, 0, None), ("train", 2, 256, 0, "qv"), ("forward", 2, 256, 0, None),
        ("train", 1, 500, 0, None), ("train", 3, 200, 0, "qv"), ("forward", 4, 500, 0, None)]
T5_GRID = GRID + [("generate", 2, 256, 16, None), ("generate", 1, 500, 8, None), ("generate", 3, 100, 1, None),
                  ("train", 3, 77, 0, None), ("forward", 1, 33, 0, None)]


def model_class(model_type: str):
    from transformers import AutoModelForMaskedLM
    return _seq2seq_class() if model_type == "t5" else AutoModelForMaskedLM


def _seq2seq_class():
    """T5ForConditionalGeneration, with the shared generator's causal-LM calls mapped onto seq2seq ones
    (the same calls `llmsize trace` makes): train (labels given) unchanged; forward (use_cache False):
    decoder_input_ids = input_ids; generate prefill (use_cache True, no cache): the encoder over the prompt,
    kept, then the decoder on one start token; later steps: the decoder on the given token with the kept
    encoder output and the cache. logits_to_keep is dropped (the decoder step has one token)."""
    import torch
    from transformers import T5ForConditionalGeneration

    class T5ForTruth(T5ForConditionalGeneration):
        def forward(self, input_ids=None, labels=None, use_cache=None, past_key_values=None, logits_to_keep=None,
                    **kw):
            if labels is not None or not self.config.use_cache:
                if labels is None:
                    return super().forward(input_ids=input_ids, decoder_input_ids=input_ids, use_cache=False, **kw)
                return super().forward(input_ids=input_ids, labels=labels, use_cache=use_cache, **kw)
            if past_key_values is None:
                self._enc = self.get_encoder()(input_ids=input_ids)
                start = torch.zeros((input_ids.shape[0], 1), dtype=torch.long)
                return super().forward(encoder_outputs=self._enc, decoder_input_ids=start, use_cache=True)
            return super().forward(encoder_outputs=self._enc, decoder_input_ids=input_ids,
                                   past_key_values=past_key_values, use_cache=True)

    return T5ForTruth


class _ByType:
    """Stands in for AutoModelForCausalLM inside the shared generator: the class users train each type with."""

    @staticmethod
    def from_config(cfg, **kw):
        return build(cfg, **kw)


def build(cfg, **kw):
    """CLASS.from_config; ModernBERT's _init_weights (trunc_normal_) cannot run on fake tensors, so its weights
    are built uninitialised (transformers.initialization.no_init_weights: same parameters, same tying, no
    values, then tie_weights() as post_init would; the measurement starts after construction)."""
    import contextlib

    from transformers.initialization import no_init_weights

    ctx = no_init_weights() if cfg.model_type == "modernbert" else contextlib.nullcontext()
    with ctx:
        cls = model_class(cfg.model_type)
        m = cls._from_config(cfg, **kw) if cfg.model_type == "t5" else cls.from_config(cfg, **kw)
    if cfg.model_type == "modernbert":
        m.tie_weights()
    return m


def _peft_task_by_type(peft) -> None:
    """The shared measure() asks peft for task_type CAUSAL_LM, whose wrapper needs generation methods a
    masked-LM class lacks: give encoders the plain PeftModel (task_type None) and t5 SEQ_2_SEQ_LM. The
    adapters injected are the same (LoRA on the named leaves, r 16, alpha 32, no dropout, no bias)."""
    orig = peft.get_peft_model

    def get_peft_model(model, lc, *args, **kw):
        lc.task_type = "SEQ_2_SEQ_LM" if model.config.model_type == "t5" else None
        return orig(model, lc, *args, **kw)

    peft.get_peft_model = get_peft_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generator", required=True, help="folder of generate_truth.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--params-out", help="JSON of PyTorch's parameter count per config and per layer")
    a = ap.parse_args()
    sys.path.insert(0, a.generator)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import generate_truth as gt  # noqa: E402
    import peft
    from gen_family_truth import measure_all  # noqa: E402  (one runner for the family truth)

    patch(gt, peft)
    tool = ("torch MemTracker under FakeTensorMode (shared generate_truth.measure, model class per "
            "scripts/gen_encoder_truth.py)")
    measure_all(a, gt, {k: v for k, v in CONFIGS.items() if k not in T5}, GRID, tool, _count_params)
    measure_all(a, gt, {k: v for k, v in CONFIGS.items() if k in T5}, T5_GRID, tool, lambda *_: None)


def patch(gt, peft) -> None:
    """The shared generator, made to build each type's own class (also used by scripts/memlab.py)."""
    gt.AutoModelForCausalLM = _ByType
    gt.QV.update(QV)
    _peft_task_by_type(peft)


def _count_params(path: str, src: dict, only: str) -> None:
    """sum(numel) of the model class transformers builds (FakeTensorMode), in total and per layer."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import AutoConfig

    out = json.load(open(path)) if os.path.exists(path) else {
        "method": "sum(p.numel() for p in CLASS.from_config(cfg).parameters()) under FakeTensorMode; CLASS: "
                  "AutoModelForMaskedLM (encoders), AutoModelForSeq2SeqLM (t5); tied weights once", **src,
        "models": {}}
    for name, cfg in CONFIGS.items():
        if only not in name:
            continue
        with FakeTensorMode():
            m = build(AutoConfig.for_model(**cfg), dtype=torch.bfloat16)
        stacks = {}
        for n, mod in m.named_modules():
            if isinstance(mod, torch.nn.ModuleList) and n.endswith(("layer", "layers", "block")) and \
                    not any(p.isdigit() for p in n.split(".")):  # stacks, not the sub-layers of a T5 block
                stacks[n] = [sum(p.numel() for p in x.parameters()) for x in mod]
        out["models"][name] = {"config": cfg, "model_type": cfg["model_type"], "class": type(m).__name__,
                               "params": sum(p.numel() for p in m.parameters()), "layer_params": stacks}
    json.dump(out, open(path, "w"), indent=1)


if __name__ == "__main__":
    main()
