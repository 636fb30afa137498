"""Memory model speed: one full estimate in-process, and `llmsize validate` on 1,000 cases from a
cold process. Prints the timings measured in this run and their ratio to the targets
(estimate < 1 ms, validate of 1,000 cases < 2 s).

    python bench/bench_memory.py
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from llmsize.load import load  # noqa: E402
from llmsize.memory import LoRA, Workload, estimate  # noqa: E402
from llmsize.memory import regions  # noqa: E402


def _clear() -> None:
    for f in (regions.run_layer, regions.run_embed, regions.run_head, regions._kinds):
        f.cache_clear()


def bench_estimate() -> None:
    spec = load("Llama-3.1-70B").spec
    cases = {"train 70B b1 s4096 gc": Workload(mode="train", batch=1, seq_len=4096, grad_checkpointing=True),
             "train 70B LoRA r16 b2 s2048": Workload(mode="train", batch=2, seq_len=2048, lora=LoRA(r=16)),
             "generate 70B b8 4096+512": Workload(mode="generate", batch=8, seq_len=4096, new_tokens=512),
             "forward 70B b4 s2048": Workload(mode="forward", batch=4, seq_len=2048)}
    print("one full estimate (Llama-3.1-70B, 80 layers), target < 1 ms:")
    for name, wl in cases.items():
        _clear()
        t = time.perf_counter()
        estimate(spec, wl)
        cold = time.perf_counter() - t
        n = 200
        t = time.perf_counter()
        for _ in range(n):
            estimate(spec, wl)
        warm = (time.perf_counter() - t) / n
        print(f"  {name:32s} first call {cold * 1e3:6.2f} ms   repeated {warm * 1e3:6.3f} ms "
              f"({warm / 1e-3:.2f} x target)")


def bench_validate() -> None:
    rows = []
    for f in ("calib.jsonl", "truth_extra.jsonl"):
        rows += [json.loads(x) for x in (ROOT / "tests" / "data" / f).read_text().splitlines() if x.strip()]
    rng = random.Random(0)
    out = []
    for i in range(1000):  # distinct shapes, so nothing is shared between cases but the model
        r = dict(rng.choice(rows))
        w = dict(r["workload"], batch=rng.randint(1, 16), seq_len=rng.randint(16, 4096))
        if w["mode"] == "generate":
            w["new_tokens"] = rng.randint(1, 256)
        r.update(workload=w, id=f"bench-{i}")
        r.pop("measured", None)
        out.append(json.dumps(r))
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write("\n".join(out) + "\n")
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "validate", fh.name, "--json"],
                       capture_output=True, text=True, cwd=ROOT)
    dt = time.perf_counter() - t
    assert p.returncode == 0, p.stderr
    n = len(json.loads(p.stdout)["cases"])
    print(f"llmsize validate, {n} cases, cold process: {dt:.2f} s ({dt / 2:.2f} x the 2 s target)")
    Path(fh.name).unlink()


if __name__ == "__main__":
    bench_estimate()
    bench_validate()
