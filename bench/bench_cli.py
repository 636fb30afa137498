"""Cold-start cost of the CLI: `llmsize params <preset> --json` in a new process vs `python -c pass`.

Target (issue 3): at most 100 ms more than `python -c pass`, measured in the same run.
Run: python bench/bench_cli.py [--repeat 15] [--model Llama-3.1-8B]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(cmd: list[str], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--model", default="Llama-3.1-8B")
    a = ap.parse_args()
    cli = [sys.executable, "-c", "from llmsize.cli import main; main()", "params", a.model, "--json"]
    base_cmd = [sys.executable, "-c", "pass"]
    timed(cli, 2)  # warm the OS file cache and bytecode, as a user's second run would be
    # interleave so both see the same machine load
    base, ours = [], []
    for _ in range(a.repeat):
        base += timed(base_cmd, 1)
        ours += timed(cli, 1)
    b, o = statistics.median(base), statistics.median(ours)
    print(f"python -c pass            median {1000 * b:7.1f} ms")
    print(f"llmsize params {a.model} --json median {1000 * o:7.1f} ms")
    print(f"overhead                  {1000 * (o - b):7.1f} ms (target <= 100 ms); ratio {o / b:.2f}x")
    sys.exit(0 if o - b <= 0.100 else 1)


if __name__ == "__main__":
    main()
