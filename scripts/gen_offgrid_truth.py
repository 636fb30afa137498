"""Measure peak-memory truth for tiny and odd shapes (off the calibration grid) of two families, llama and
gpt2, with the shared generator's own `measure()` (torch MemTracker under FakeTensorMode):

    /work/venv-truth/bin/python scripts/gen_offgrid_truth.py --generator /work/shared/truth \
        --out tests/data/truth_offgrid.jsonl [--only SUBSTR]

Odd hidden sizes (32, 72, 96, 48, 120), heads that are not powers of two (3, 5, 6; grouped 6/2), one head of
8, sequences of 1, 3, 4, 5 and 17 tokens, batches of 1, 2 and 3; train with SGD (momentum 0.9) and AdamW,
LoRA q,v, bf16 and fp32 + bf16 autocast, SDPA and eager attention; forward and generate. At these sizes
the small tensors a large model hides (norm backward temporaries, masks, position ids, scalars) decide
the peak. Needs torch 2.13 + transformers 5.23 + peft. Cases already in --out are skipped (resumable).
"""
from __future__ import annotations

import argparse
import os
import sys

TOK = dict(bos_token_id=0, eos_token_id=0, pad_token_id=0)
CONFIGS = {
    "tiny-llama-d32": dict(model_type="llama", hidden_size=32, intermediate_size=32, num_hidden_layers=2,
                           num_attention_heads=1, num_key_value_heads=1, head_dim=8, vocab_size=64,
                           max_position_embeddings=64, **TOK),
    "odd-llama-3h": dict(model_type="llama", hidden_size=72, intermediate_size=200, num_hidden_layers=2,
                         num_attention_heads=3, num_key_value_heads=3, vocab_size=300, max_position_embeddings=128,
                         tie_word_embeddings=True, **TOK),
    "odd-llama-gqa": dict(model_type="llama", hidden_size=96, intermediate_size=160, num_hidden_layers=3,
                          num_attention_heads=6, num_key_value_heads=2, vocab_size=500, max_position_embeddings=128,
                          **TOK),
    "tiny-gpt2-3h": dict(model_type="gpt2", n_embd=48, n_head=3, n_layer=2, vocab_size=100, n_positions=64, **TOK),
    "odd-gpt2-5h": dict(model_type="gpt2", n_embd=120, n_head=5, n_layer=3, vocab_size=333, n_positions=128, **TOK),
}
QV = {"gpt2": ["c_attn"]}
# (mode, batch, seq, new tokens, LoRA kind, optimizer, attention, weights dtype, autocast)
GRID = [("train", 2, 4, 0, None, "sgd", "eager", "bfloat16", None),
        ("train", 3, 5, 0, None, "adamw", "sdpa", "bfloat16", None),
        ("train", 1, 17, 0, None, "sgd", "sdpa", "bfloat16", None),
        ("train", 2, 17, 0, None, "adamw", "eager", "bfloat16", None),
        ("train", 3, 3, 0, "qv", "adamw", "sdpa", "bfloat16", None),
        ("train", 2, 5, 0, None, "adamw", "sdpa", "float32", "bfloat16"),
        ("forward", 1, 1, 0, None, None, "sdpa", "bfloat16", None),
        ("forward", 3, 17, 0, None, None, "eager", "bfloat16", None),
        ("generate", 1, 3, 5, None, None, "sdpa", "bfloat16", None),
        ("generate", 3, 1, 4, None, None, "sdpa", "bfloat16", None),
        ("generate", 2, 17, 3, None, None, "eager", "bfloat16", None)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generator", required=True, help="folder of generate_truth.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    sys.path.insert(0, a.generator)
    os.environ["LLMSIZE_TRUTH_DIR"] = a.generator
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import generate_truth as gt  # noqa: E402
    from gen_truth_extra import measured_ids, run_cases, source  # noqa: E402  (one runner for measured cases)

    gt.QV.update(QV)
    done = measured_ids(a.out)
    src = source("torch MemTracker under FakeTensorMode (shared generate_truth.measure)")
    cases = []
    for name, cfg in CONFIGS.items():
        gt.MODELS[name] = dict(cfg)
        for mode, b, s, new, lo, opt, attn, wd, ac in GRID:
            w = gt.W(name, mode, b, s, new, wd, ac, opt, False, gt.lora(name, 16, lo) if lo else None, attn)
            if a.only in gt.case_id(name, w):
                cases.append((name, w))
    run_cases(cases, a.out, src, done)


if __name__ == "__main__":
    main()
