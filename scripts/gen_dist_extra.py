"""Extra measured FSDP2 per-rank cases for the per-GPU model: shapes and peaks dist_calib.jsonl does
not reach (mid-backward peaks under recomputation, a forward peak without resharding, uneven
vocabulary sharding, more ranks than experts, fp32-master mixed precision on MoE).

Reuses the shared distributed truth generator (`generate_dist_truth.py`, by the llmsize truth
engineer): its `C()` case builder and `main()` are imported by path, so every case is measured
exactly as dist_calib.jsonl was (FSDPMemTracker under FakeTensorMode, fake process group).

    /work/venv-truth/bin/python scripts/gen_dist_extra.py --set extra --out tests/data/dist_extra.jsonl
    /work/venv-truth/bin/python scripts/gen_dist_extra.py --set extra --out tests/data/dist_extra.jsonl \\
        --augment-last-rank
    /work/venv-truth/bin/python scripts/gen_dist_extra.py --set toys --out tests/data/dist_toys.jsonl
    (tests/data/dist_toys.jsonl's first three cases also carry measured.last_rank: --augment-last-rank)

Set LLMSIZE_TRUTH_DIR to the folder holding generate_dist_truth.py (default /work/shared/truth).
An interrupted run resumes (cases already in --out are skipped).
"""
import os
import sys

TRUTH = os.environ.get("LLMSIZE_TRUTH_DIR", "/work/shared/truth")
sys.path.insert(0, TRUTH)
import generate_dist_truth as g  # noqa: E402

C = g.C


def extra():
    return [
        C("gpt2", 2, 512, 4),  # vocab 50257 over 4 ranks: uneven rows, padded unsharded copies
        C("Mixtral-8x7B-4L", 1, 256, 16),  # 8 experts over 16 ranks: every shard padded to one expert
        C("Llama-3.1-8B", 1, 1500, 8, gc=True),  # peak inside a recomputed layer's backward
        C("gpt2-xl", 1, 1024, 16, raf=False),  # 48 layers kept unsharded
        C("Qwen2.5-1.5B", 2, 1024, 8, mp="mp", raf=False, gc=True),
        C("Mixtral-8x7B-4L", 1, 512, 4, mp="mp"),
    ]


# a 46M-parameter Llama-style toy (4 layers, hidden 512, vocabulary 32768, untied): at b1 s8 the peak is in
# forward (FSDP2 keeps the previous group's all-gather output until the next copy-out) or at the root's
# reduce-scatter, moments the larger cases never reach
g.MODELS["toy-46M"] = dict(g.MODELS["Llama-tiny-4L"], vocab_size=32768)


def toys():
    return [
        C("toy-46M", 1, 8, 8),
        C("toy-46M", 1, 8, 8, raf=False, mp="mp"),
        C("gpt2-4L", 1, 16, 4, mp="mp", gc=True),
        C("toy-46M", 1, 8, 8, raf=False, mp="mp", gc=True),
        C("toy-46M", 1, 8, 8, raf=False, gc=True),
        C("toy-46M", 1, 8, 8, mp="mp", gc=True),
    ]


g.SETS["extra"] = extra
g.SETS["toys"] = toys

if __name__ == "__main__":
    g.main()
