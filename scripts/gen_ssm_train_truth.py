"""Measure training and LoRA-training peak truth for the state-space and hybrid families (Mamba-2, Jamba,
Granite-4.0-H, Falcon-H1) at shapes off the family grid: one batch, a length that is not a multiple of the
scan's chunk (so its padding is exercised), gradient checkpointing on and off, and LoRA on the attention
projections ("qv") and on the state-space projections too ("all").

    nice -n 10 /work/venv-truth/bin/python scripts/gen_ssm_train_truth.py --generator /work/shared/truth \
        --out tests/data/truth_ssm_train.jsonl [--only SUBSTR]

Uses the shared generator's `measure()` (torch MemTracker under FakeTensorMode; train = two AdamW steps,
pure bf16), with the same patches as scripts/gen_family_truth.py. Resumable.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_family_truth import CONFIGS, NO_SDPA, QV  # noqa: E402

# a second Mamba-2 shape: one group, a 32-token chunk, the residual in the model dtype
MORE = {"small-mamba2-b": dict(model_type="mamba2", hidden_size=192, num_heads=6, head_dim=64, state_size=16,
                               n_groups=1, num_hidden_layers=3, vocab_size=1000, conv_kernel=4, chunk_size=32,
                               residual_in_fp32=False, bos_token_id=0, eos_token_id=0, pad_token_id=0)}
TYPES = ("small-mamba2", "small-mamba2-b", "small-jamba", "small-granitemoehybrid", "small-granitemoehybrid-dense",
         "small-falcon-h1")
# LoRA on the state-space projections as well as attention (peft target names per type)
# (peft 0.21 refuses out_proj and conv1d on mamba2 and falcon_h1: "incompatible with Mamba-based models")
SSM_TARGETS = {"mamba2": ["in_proj"], "jamba": ["q_proj", "v_proj", "in_proj", "out_proj"],
               "granitemoehybrid": ["q_proj", "v_proj", "in_proj", "out_proj"],
               "falcon_h1": ["q_proj", "v_proj", "in_proj"]}
# (batch, seq, checkpointing, LoRA kind); Jamba's sequential Mamba-1 scan is slow on a CPU: shorter
GRID = [(1, 100, False, None), (2, 128, True, None), (1, 100, False, "qv"), (2, 128, True, "qv"),
        (1, 64, False, "ssm"), (2, 200, False, None)]
# fp32 weights (pure fp32 training), not for Jamba
FP32 = [(1, 100, False, None), (2, 64, True, "qv")]
# `llmsize train`'s default precision (fp32 master weights, bf16 autocast)
AMP = [(1, 100, False), (1, 64, False), (2, 128, True), (2, 256, False)]
JAMBA_GRID = [(1, 100, False, None), (1, 64, True, None), (1, 100, False, "qv"), (1, 64, True, "qv"),
              (1, 48, False, "ssm")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generator", required=True, help="folder of generate_truth.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    sys.path.insert(0, a.generator)
    os.environ["LLMSIZE_TRUTH_DIR"] = a.generator
    import generate_truth as gt  # noqa: E402
    from gen_truth_extra import measured_ids, run_cases, source  # noqa: E402

    gt.QV.update(QV)
    gt.NO_SDPA = {*gt.NO_SDPA, *NO_SDPA, "mamba2"}
    gt.QV.setdefault("mamba2", ["in_proj"])
    src = source("torch MemTracker under FakeTensorMode (shared generate_truth.measure)")
    done = measured_ids(a.out)
    cases = []
    for name in TYPES:
        cfg = {**CONFIGS, **MORE}[name]
        gt.MODELS[name] = dict(cfg)
        for b, s, gc, lo in (JAMBA_GRID if cfg["model_type"] == "jamba" else GRID):
            spec = None
            if lo == "qv":
                spec = gt.lora(name, 16, "qv")
            elif lo == "ssm":
                spec = dict(r=8, alpha=16, target_modules=SSM_TARGETS[cfg["model_type"]])
            w = gt.W(name, "train", b, s, gc=gc, lo=spec)
            if a.only in gt.case_id(name, w):
                cases.append((name, w))
        for b, s, gc, lo in (FP32 if cfg["model_type"] != "jamba" else []):
            w = gt.W(name, "train", b, s, wd="float32", gc=gc, lo=gt.lora(name, 16, lo) if lo else None)
            if a.only in gt.case_id(name, w):
                cases.append((name, w))
        for b, s, gc in AMP if cfg["model_type"] != "jamba" else AMP[:1]:  # fp32 master weights, bf16 autocast
            w = gt.W(name, "train", b, s, wd="float32", ac="bfloat16", gc=gc)
            if a.only in gt.case_id(name, w):
                cases.append((name, w))
    run_cases(cases, a.out, src, done)


if __name__ == "__main__":
    main()
