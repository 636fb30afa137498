"""Time a full training plan for a 70B model: every catalogued GPU type x every count 1..1024 (powers
of two and whole nodes of 8) x every layout, each timed by llmsize.speedmodel (achieved efficiency,
pipeline bubble, tensor-parallel all-reduces over NVLink/PCIe/network). Must finish in under a second.

    python bench/bench_plan.py            # prints the time and the counts; exit 1 if >= 1 s

The timed call is the whole `plan_report`, memory model included: the bridge (planner.jobs) runs
llmsize.memory.estimate twice per (micro-batch, sequence) -- the bf16 model run and the fp32
master/Adam states run -- and caches them, so the ~10,000 candidates never re-run it. Without
llmsize.memory the breakdown is bf16 mixed-precision AdamW byte counts (2 + 2 + 4 + 8 bytes per
parameter) and a stand-in activation size, which does not change the search being timed.
"""
from __future__ import annotations

import sys
import time

from llmsize.adapters.hf_config import spec_from_config
from llmsize.errors import LlmsizeError
from llmsize.parallel import Breakdown
from llmsize.params import count
from llmsize.planner import plan_report
from llmsize.planner.jobs import TrainJob

CFG = {"model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
       "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072}


def main() -> int:
    spec = spec_from_config(CFG, "Llama-3.1-70B")
    job = TrainJob(seq_len=4096, global_batch=1024, tokens=15e12)
    import llmsize.memory as memory

    real, calls = getattr(memory, "estimate", None), [0]

    def counted(*a, **k):
        calls[0] += 1
        return real(*a, **k)

    if real is not None:
        memory.estimate = counted
    t = time.perf_counter()
    try:
        rep, where = plan_report(spec, job), "llmsize.memory"
    except LlmsizeError:
        rep, where = plan_report(spec, job, breakdown=_stand_in(spec)), "stand-in bytes per parameter"
    dt = time.perf_counter() - t
    if real is not None:
        memory.estimate = real
    print(f"plan Llama-3.1-70B --train over every GPU type x count 1..1024 x layout ({where}): "
          f"{rep['searched']:,} setups, {rep['feasible']:,} feasible, {dt * 1000:.0f} ms "
          f"(memory model runs: {calls[0]})")
    print("  breakdown (GiB): " + ", ".join(f"{k} {v / 2**30:.2f}" for k, v in rep["breakdown"].items() if v))
    return 0 if dt < 1.0 else 1


def _stand_in(spec) -> Breakdown:
    p = count(spec).total
    return Breakdown(weights=2 * p, gradients=2 * p, master_weights=4 * p, optimizer=8 * p,
                     activations=2 * 80 * 4096 * 8192 * 2, transient=4096 * 128256 * 4,
                     weight_bytes_per_param=2, grad_bytes_per_param=2)


if __name__ == "__main__":
    sys.exit(main())
