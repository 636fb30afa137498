"""Measure the buffers real llama.cpp allocates (model / KV / compute, exact bytes per buffer type, from
llama_get_memory_breakdown) for zero-filled GGUFs of several architectures and quant types, over a grid
of n_ctx, n_batch, n_ubatch, flash attention, KV types, sequences (slots) and unified KV. Writes
tests/data/llamacpp_buffers.jsonl, which tests/engines/test_llamacpp_buffers.py checks llmsize against.

    bash scripts/llamacpp/setup.sh                       # once: builds llama.cpp, the probe, gguf-py
    /work/venv-llamacpp/bin/python scripts/llamacpp/measure.py [--venv /work/venv-llamacpp]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VERSION = {"llama_cpp_python": "0.3.36", "llama_cpp": "ggml-org/llama.cpp@0c1e57098", "ggml": "0.25.3",
           "backend": "CPU (AVX2/AVX-512), built from source by llama-cpp-python's setup"}
TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8, "bf16": 30}
MODELS = [("SmolLM2-135M", "F16"), ("SmolLM2-135M", "Q4_K_M"), ("SmolLM2-135M", "Q8_0"), ("SmolLM2-135M", "Q4_0"),
          ("gpt2", "F16"), ("gpt2", "Q8_0"), ("Qwen2.5-0.5B", "Q4_K_M"), ("Qwen3-0.6B", "Q4_K_M"),
          ("Qwen3-0.6B", "Q8_0"), ("gemma-3-1b-pt", "Q4_K_M"), ("Llama-3.2-1B", "Q4_K_M"),
          # small MoE (qwen3moe) and MLA + MoE (deepseek2) shapes from config files (tests/data/llamacpp_models)
          ("tiny-qwen3moe", "F16"), ("tiny-qwen3moe", "Q4_K_M"), ("tiny-deepseek2", "F16"), ("tiny-deepseek2", "Q8_0")]
CONFIGS = os.path.join(ROOT, "tests", "data", "llamacpp_models")
# (n_ctx, n_batch, n_ubatch, fa, type_k, type_v, n_seq_max, kv_unified, mmap, extra_bufts, swa_full)
BASE = dict(n_ctx=4096, n_batch=2048, n_ubatch=512, fa=0, type_k="f16", type_v="f16", n_seq_max=1, kv_unified=0,
            mmap=1, extra_bufts=1, swa_full=0)
GRID = [{}, {"fa": 1}, {"n_ctx": 512}, {"n_ctx": 1024, "n_ubatch": 128, "n_batch": 512}, {"n_ubatch": 256},
        {"n_ctx": 8192, "fa": 1, "type_k": "q8_0", "type_v": "q8_0"}, {"type_k": "q8_0", "fa": 1},
        {"n_seq_max": 4}, {"n_seq_max": 4, "kv_unified": 1}, {"n_seq_max": 2, "fa": 1},
        {"extra_bufts": 0}, {"mmap": 0}, {"mmap": 0, "extra_bufts": 0}, {"n_ctx": 2048, "n_ubatch": 2048},
        {"type_k": "bf16", "type_v": "bf16"}, {"swa_full": 1}]
KEEP = re.compile(r"buffer size|llama_kv_cache|llama_context: n_|graph nodes|graph splits")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", default="/work/venv-llamacpp")
    ap.add_argument("--gguf-dir", default="/tmp/llmsize-gguf")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "llamacpp_buffers.jsonl"))
    ap.add_argument("--only", nargs="*", help="measure these models only and append their rows to --out")
    a = ap.parse_args()
    probe = os.path.join(a.venv, "bin", "llmsize-llama-probe")
    py = os.path.join(a.venv, "bin", "python")
    rows = []
    for model, ftype in MODELS:
        if a.only and model not in a.only:
            continue
        path = os.path.join(a.gguf_dir, f"{model}-{ftype}.gguf")
        cfg = os.path.join(CONFIGS, f"{model}.json")
        if not os.path.exists(path):
            src = cfg if os.path.exists(cfg) else model
            subprocess.run([py, os.path.join(HERE, "write_gguf.py"), a.gguf_dir, f"{src}:{ftype}"], check=True)
        for over in GRID:
            c = {**BASE, **over}
            if c["swa_full"] and not model.startswith("gemma"):
                continue
            argv = [probe, path, *(str(c[k]) for k in ("n_ctx", "n_batch", "n_ubatch", "fa")),
                    str(TYPES[c["type_k"]]), str(TYPES[c["type_v"]]),
                    *(str(c[k]) for k in ("n_seq_max", "kv_unified", "mmap", "extra_bufts", "swa_full"))]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                print(f"FAILED {model} {ftype} {c}: {p.stderr[-400:]}", file=sys.stderr)
                continue
            r = json.loads(p.stdout)
            log = [ln for ln in r.pop("log").splitlines() if KEEP.search(ln)]
            rows.append({"model": model, "ftype": ftype, "file_bytes": os.path.getsize(path), "config": c, **r,
                         "log": log, "version": VERSION})
            b = r["buffers"]
            print(model, ftype, over, {k: v for k, v in b.items()}, flush=True)
    with open(a.out, "a" if a.only else "w") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    print(f"{len(rows)} rows -> {a.out}")


if __name__ == "__main__":
    main()
