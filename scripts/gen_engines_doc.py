"""Write the measured-vs-modelled llama.cpp buffer table of docs/engines.md from
tests/data/llamacpp_buffers.jsonl (between the BEGIN/END markers; the prose around it is kept).

    PYTHONPATH=src python scripts/gen_engines_doc.py
"""
from __future__ import annotations

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from llmsize.catalog.presets import find_preset  # noqa: E402
from llmsize.engines.llamacpp import LlamaParams, kv_bytes, model_buffers, weights_from_preset  # noqa: E402
from llmsize.engines.llamacpp_compute import compute_buffer  # noqa: E402
from llmsize.load import load, load_preset  # noqa: E402

BEGIN, END = "<!-- BEGIN llamacpp table -->", "<!-- END llamacpp table -->"
BASE = {"n_ctx": 4096, "n_batch": 2048, "n_ubatch": 512, "fa": 0, "type_k": "f16", "type_v": "f16", "n_seq_max": 1,
        "kv_unified": 0, "mmap": 1, "extra_bufts": 1, "swa_full": 0}
SHORT = {"n_ctx": "c", "n_batch": "b", "n_ubatch": "ub", "fa": "fa", "type_k": "ctk", "type_v": "ctv",
         "n_seq_max": "np", "kv_unified": "kvu", "mmap": "mmap", "extra_bufts": "repack", "swa_full": "swa-full"}


CONFIGS = os.path.join(ROOT, "tests", "data", "llamacpp_models")
# the measured small MoE / MLA shapes (config files, not presets)
MOE_MLA = ("tiny-qwen3moe", "tiny-deepseek2")


def spec_of(name: str):
    """A measured model's spec: its config file under tests/data/llamacpp_models, else the preset."""
    path = os.path.join(CONFIGS, f"{name}.json")
    return load(path).spec if os.path.exists(path) else load_preset(find_preset(name)).spec


def table() -> str:
    rows = [json.loads(x) for x in open(os.path.join(ROOT, "tests", "data", "llamacpp_buffers.jsonl"))]
    out = ["| model | quant | settings (vs -c 4096 -b 2048 -ub 512, f16 KV, 1 slot) | model MiB | KV MiB | "
           "compute MiB (llama.cpp) | compute MiB (llmsize) | compute error |",
           "|---|---|---|---:|---:|---:|---:|---:|"]
    worst = total = exact = 0.0
    worst_mm, n_mm, sum_mm = {}, {}, {}
    for r in rows:
        c = r["config"]
        spec = spec_of(r["model"])
        p = LlamaParams(n_ctx=c["n_ctx"], n_batch=c["n_batch"], n_ubatch=c["n_ubatch"], n_seq_max=c["n_seq_max"],
                        kv_unified=bool(c["kv_unified"]), flash_attn=bool(c["fa"]), type_k=c["type_k"],
                        type_v=c["type_v"], swa_full=bool(c["swa_full"]), mmap=bool(c["mmap"]),
                        repack=bool(c["extra_bufts"]), cpu_isa="avx512")
        got_m = {k: v["model"] for k, v in r["buffers"].items() if v["model"]}
        got_kv = sum(v["context"] for v in r["buffers"].values())
        got_c = sum(v["compute"] for v in r["buffers"].values())
        mine = model_buffers(weights_from_preset(spec, r["ftype"]), spec.num_layers, p).buffers
        ok = mine == got_m and kv_bytes(spec, p) == got_kv
        exact += ok
        est = compute_buffer(spec, p).total
        err = est / got_c - 1
        if r["model"] in MOE_MLA:
            worst_mm[r["model"]] = max(worst_mm.get(r["model"], 0.0), abs(err))
            n_mm[r["model"]] = n_mm.get(r["model"], 0) + 1
            sum_mm[r["model"]] = sum_mm.get(r["model"], 0.0) + abs(err)
        else:
            worst, total = max(worst, abs(err)), total + abs(err)
        diff = " ".join(f"{SHORT[k]}={v}" for k, v in c.items() if v != BASE[k]) or "defaults"
        mib = 2**20
        out.append(f"| {r['model']} | {r['ftype']} | {diff} | {sum(got_m.values()) / mib:,.2f}{'' if ok else ' ✗'} | "
                   f"{got_kv / mib:,.2f} | {got_c / mib:,.2f} | {est / mib:,.2f} | {err:+.2%} |")
    dense = len(rows) - sum(n_mm.values())
    mm = "; ".join(f"{m} ({n_mm[m]} runs) at most {worst_mm[m]:.2%}, mean {sum_mm[m] / n_mm[m]:.2%}" for m in MOE_MLA if m in n_mm)
    head = (f"{len(rows)} llama.cpp runs: model and KV buffers equal to the byte in {int(exact)} of {len(rows)}; "
            f"compute buffer error of the {dense} dense runs at most {worst:.2%}, mean {total / dense:.2%}; "
            f"MoE / MLA: {mm}.\n\n")
    return head + "\n".join(out)


def main() -> None:
    path = os.path.join(ROOT, "docs", "engines.md")
    text = open(path).read()
    a, b = text.index(BEGIN) + len(BEGIN), text.index(END)
    open(path, "w").write(text[:a] + "\n" + table() + "\n" + text[b:])


if __name__ == "__main__":
    main()
