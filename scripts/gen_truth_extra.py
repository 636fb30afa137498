"""Extra measured truth for the memory model: other models, off-grid shapes, fp32/amp, SGD, eager,
LoRA, long prompts, decode-dominated generation, sliding-window masks.

Reuses the truth generator of the shared truth set (`generate_truth.py` + `models.py`, by the llmsize
truth engineer): its `MODELS`, `W()`, `case_id()` and `measure()` are imported by path, so each case is
measured exactly as calib.jsonl was (torch MemTracker under FakeTensorMode, same patches).

    /work/venv-truth/bin/python scripts/gen_truth_extra.py --out tests/data/truth_extra.jsonl [--only S] [--list]

Set LLMSIZE_TRUTH_DIR to the folder holding generate_truth.py (default /work/shared/truth).
An interrupted run resumes (cases already in --out are skipped).
"""
import argparse
import json
import os
import sys
import time
import traceback

TRUTH = os.environ.get("LLMSIZE_TRUTH_DIR", "/work/shared/truth")
sys.path.insert(0, TRUTH)
import generate_truth as g  # noqa: E402

W, lora = g.W, g.lora


def extra_grid():
    """(model, workload) pairs, cheapest and most informative first."""
    c = []
    add = lambda n, *ws: c.extend((n, w) for w in ws)  # noqa: E731
    n = "Qwen2.5-1.5B"
    add(n, W(n, "train", 3, 777), W(n, "train", 2, 1024, wd="float32", ac="bfloat16"),
        W(n, "train", 2, 1024, lo=lora(n, 64, "all")), W(n, "generate", 1, 1500, 100), W(n, "forward", 3, 1500))
    n = "gpt2-medium"
    add(n, W(n, "train", 4, 1024), W(n, "train", 8, 1024, gc=True), W(n, "train", 2, 1000, wd="float32"),
        W(n, "generate", 8, 1000, 24), W(n, "forward", 4, 1024, attn="eager"),
        W(n, "train", 2, 777, lo=lora(n, 16, "all")))
    n = "opt-1.3b"
    add(n, W(n, "train", 2, 1024), W(n, "forward", 4, 2048), W(n, "generate", 2, 1024, 32),
        W(n, "train", 2, 1024, lo=lora(n, 16, "qv")), W(n, "train", 4, 512, gc=True, opt="sgd"))
    n = "SmolLM2-1.7B"
    add(n, W(n, "train", 2, 1024), W(n, "train", 2, 1024, opt="sgd"), W(n, "forward", 2, 1024, attn="eager"),
        W(n, "generate", 8, 512, 64), W(n, "train", 1, 2048, attn="eager", gc=True))
    n = "Llama-3.1-8B"
    add(n, W(n, "train", 1, 1024, gc=True), W(n, "forward", 1, 2048), W(n, "generate", 8, 1024, 32),
        W(n, "train", 2, 2048, gc=True, lo=lora(n, 16, "qv")), W(n, "train", 4, 4096, gc=True))
    n = "Qwen2.5-7B"
    add(n, W(n, "train", 2, 1024, gc=True), W(n, "generate", 4, 2048, 16), W(n, "forward", 3, 777),
        W(n, "train", 1, 3000, gc=True, lo=lora(n, 64, "all")))
    n = "Mixtral-8x7B-4L"
    add(n, W(n, "train", 1, 1024, gc=True), W(n, "forward", 2, 2048), W(n, "generate", 4, 1024, 16),
        W(n, "train", 2, 1024, lo=lora(n, 16, "qv")), W(n, "train", 4, 2048))
    n = "Qwen1.5-MoE-A2.7B-8L"
    add(n, W(n, "train", 2, 1024), W(n, "forward", 4, 1024), W(n, "generate", 2, 512, 32),
        W(n, "train", 2, 1024, gc=True, lo=lora(n, 16, "all")))
    n = "Llama-3.2-3B"
    add(n, W(n, "train", 1, 1500), W(n, "train", 1, 512, attn="eager"), W(n, "generate", 64, 128, 200),
        W(n, "train", 2, 1024, wd="float32", ac="bfloat16", gc=True))
    n = "Qwen3-4B"
    add(n, W(n, "generate", 3, 777, 50), W(n, "train", 2, 2048, gc=True), W(n, "forward", 5, 999))
    n = "gpt2-xl"
    add(n, W(n, "forward", 2, 1024), W(n, "train", 2, 1024, gc=True), W(n, "train", 1, 1024, opt="sgd"))
    n = "Mistral-7B-v0.1"
    add(n, W(n, "forward", 1, 5000), W(n, "generate", 1, 4500, 8), W(n, "train", 1, 4608, gc=True))
    n = "gemma-2-2b"
    add(n, W(n, "generate", 2, 4500, 8), W(n, "forward", 1, 5000), W(n, "train", 2, 777))
    n = "Llama-3.2-1B"
    add(n, W(n, "train", 3, 1000, wd="float32"), W(n, "train", 2, 1024, wd="float32", ac="bfloat16", opt="sgd"),
        W(n, "generate", 32, 64, 256), W(n, "train", 8, 512, gc=True, lo=lora(n, 8, "all")),
        W(n, "forward", 7, 333, attn="eager"))
    n = "Qwen2.5-14B"
    add(n, W(n, "train", 1, 2048, gc=True), W(n, "generate", 2, 4096, 8))
    n = "Llama-3.1-70B"
    add(n, W(n, "forward", 1, 4096), W(n, "train", 1, 2048, gc=True, lo=lora(n, 16, "qv")),
        W(n, "generate", 4, 2048, 16), W(n, "train", 1, 1024, gc=True))
    n = "OLMoE-1B-7B"
    add(n, W(n, "train", 3, 700), W(n, "generate", 16, 256, 64))
    n = "pythia-1.4b"
    add(n, W(n, "train", 2, 1000, attn="eager"), W(n, "generate", 16, 256, 64))
    n = "Phi-3-mini-4k"
    add(n, W(n, "train", 1, 3000, gc=True), W(n, "forward", 3, 1000, attn="eager"))
    # second batch: recompute- and activation-heavy MoE, decode-heavy serving, eager + checkpointing
    n = "Mixtral-8x7B-4L"
    add(n, W(n, "train", 8, 4096, gc=True), W(n, "generate", 64, 128, 128))
    n = "OLMoE-1B-7B"
    add(n, W(n, "train", 4, 4096, gc=True))
    n = "Qwen1.5-MoE-A2.7B-8L"
    add(n, W(n, "train", 8, 2048))
    n = "gpt2-xl"
    add(n, W(n, "train", 16, 1024, gc=True))
    n = "Qwen2.5-7B"
    add(n, W(n, "generate", 64, 256, 256))
    n = "Llama-3.1-8B"
    add(n, W(n, "train", 2, 4096, lo=lora(n, 64, "all")))
    n = "SmolLM2-360M"
    add(n, W(n, "train", 16, 2048, wd="float32", ac="bfloat16", gc=True))
    n = "Llama-3.2-1B"
    add(n, W(n, "train", 4, 2048, attn="eager", gc=True))
    n = "Phi-3-mini-4k"
    add(n, W(n, "train", 1, 2048, attn="eager", lo=lora(n, 16, "qv")))
    n = "opt-1.3b"
    add(n, W(n, "train", 4, 1024, wd="float32", ac="bfloat16"))
    n = "pythia-1.4b"
    add(n, W(n, "train", 8, 2048, gc=True, lo=lora(n, 16, "all")))
    n = "gpt2-medium"
    add(n, W(n, "generate", 32, 512, 128))
    n = "Qwen3-4B"
    add(n, W(n, "train", 4, 2048, lo=lora(n, 16, "qv")))
    n = "gemma-2-2b"
    add(n, W(n, "train", 1, 4500, gc=True, lo=lora(n, 16, "all")))
    n = "Llama-3.1-70B"
    add(n, W(n, "generate", 1, 8192, 4))
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    cases = [(n, w) for n, w in extra_grid() if a.only in g.case_id(n, w)]
    if a.list:
        for n, w in cases:
            print(g.case_id(n, w))
        print(len(cases), "cases")
        return
    done = set()
    if os.path.exists(a.out):
        for line in open(a.out):
            r = json.loads(line)
            if "error" not in r:
                done.add(r["id"])
    run_cases(cases, a.out, source("torch MemTracker under FakeTensorMode (scripts/gen_truth_extra.py)"), done)


def source(tool: str) -> dict:
    """The `source` record of every measured case: the tool and the installed versions."""
    import peft
    import torch
    import transformers

    return dict(tool=tool, torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
                device="cpu")


def measured_ids(out: str) -> set:
    """The case ids `out` already holds (a re-run measures only the others)."""
    return {json.loads(x)["id"] for x in open(out) if x.strip()} if os.path.exists(out) else set()


def run_cases(cases: list, out: str, src: dict, done: set) -> None:
    """Measure each (model name, workload) with the generator's measure(), appending one JSON line per
    case to `out` (skipping ids in `done`); a failed case is recorded as its error."""
    with open(out, "a") as f:
        for name, w in cases:
            cid = g.case_id(name, w)
            if cid in done:
                continue
            t = time.time()
            rec = dict(id=cid, model=name, config=g.MODELS[name], workload=w)
            try:
                rec["measured"], _ = g.measure(name, w)
            except Exception as e:  # noqa: BLE001
                rec["error"] = f"{type(e).__name__}: {e}"[:500]
                traceback.print_exc()
            rec["source"] = dict(src, wall_s=round(time.time() - t, 1))
            f.write(json.dumps(rec) + "\n")
            f.flush()
            m = rec.get("measured")
            print(f"{cid:70s} {m['peak_bytes'] / 2**30 if m else rec['error'][:80]} {rec['source']['wall_s']}s",
                  flush=True)

if __name__ == "__main__":
    main()
