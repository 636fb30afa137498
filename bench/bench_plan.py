"""Time a full training plan for a 70B model: every catalogued GPU type x every count 1..1024 (powers
of two and whole nodes of 8) x every layout. Must finish in under a second.

    python bench/bench_plan.py            # prints the time and the counts; exit 1 if >= 1 s

The breakdown comes from llmsize.memory when it is built; otherwise from bf16 mixed-precision
AdamW byte counts (2 + 2 + 4 + 8 bytes per parameter) and a stand-in activation size, which does not
change what is timed: the search itself.
"""
from __future__ import annotations

import sys
import time

from llmsize.adapters.hf_config import spec_from_config
from llmsize.errors import LlmsizeError
from llmsize.parallel import Breakdown
from llmsize.params import count
from llmsize.planner import plan_report
from llmsize.planner.jobs import TrainJob, train_breakdown

CFG = {"model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
       "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072}


def main() -> int:
    spec = spec_from_config(CFG, "Llama-3.1-70B")
    job = TrainJob(seq_len=4096, global_batch=1024, tokens=15e12)
    try:
        bd = train_breakdown(spec, job)
        where = "llmsize.memory"
    except LlmsizeError:
        p = count(spec).total
        bd = Breakdown(weights=2 * p, gradients=2 * p, master_weights=4 * p, optimizer=8 * p,
                       activations=2 * 80 * 4096 * 8192 * 2, transient=4096 * 128256 * 4,
                       weight_bytes_per_param=2, grad_bytes_per_param=2)
        where = "stand-in bytes per parameter"
    t = time.perf_counter()
    rep = plan_report(spec, job, breakdown=bd)
    dt = time.perf_counter() - t
    print(f"plan Llama-3.1-70B --train over every GPU type x count 1..1024 x layout ({where}): "
          f"{rep['searched']:,} setups, {rep['feasible']:,} feasible, {dt * 1000:.0f} ms")
    return 0 if dt < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
