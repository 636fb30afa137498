"""The host floor of an engine that issues every layer's kernels from Python (transformers' eager
generate()), fitted on that engine's rows of tests/data/speed_calib.jsonl; used by scripts/fit_speed.py.

Each kind of linear kernels (`speedmodel.efficiency.HOST_KINDS`: 16-bit, bitsandbytes 4-bit, LLM.int8(),
GPTQ/AWQ int4) gets the host seconds per layer t_h that minimise the mean |log error| of the engine's fit
rows of that kind (decode and prefill), the pass taking max(t_GPU, L·t_h) (`predict.host_floor_s`); the
GPU part is timed with the efficiencies the other engines' rows give (the engine's own rows are out of
those pools: a host-bound row says nothing of the GPU).
"""
from __future__ import annotations

import math

HOST_ENGINES = ("transformers",)
# seconds per layer searched: 0.02 ms steps up to 4 ms (eager Llama-3.1-8B on an H100: 24.4 ms / 32 layers)
HOST_GRID = tuple(round(i * 2e-5, 7) for i in range(0, 201))


def fit_host(rows: list[dict]) -> dict[str, dict[str, float]]:
    """{engine: {kind: t_h}} over the fit rows of each engine in HOST_ENGINES (a kind without rows is left
    out: the engine's 16-bit value stands for it)."""
    import llmsize.speedmodel.efficiency as eff
    from llmsize.validate_speed import parse_case, predict_case

    table = eff._table()
    out: dict[str, dict[str, float]] = {}
    for engine in HOST_ENGINES:
        mine = [r for r in rows if r["engine"] == engine]
        per: dict[str, float] = {}
        table.setdefault("host", {})[engine] = per
        for kind in eff.HOST_KINDS:
            kr = [r for r in mine if eff.host_kind(r["workload"].get("weights") or "bf16") == kind]
            if not kr:
                continue
            cases = [parse_case(r, n, r["id"]) for n, r in enumerate(kr, 1)]

            def err(v: float) -> float:
                per[kind] = v
                return sum(abs(math.log(predict_case(c).predicted / c.measured)) for c in cases) / len(cases)

            best = min(HOST_GRID, key=err)
            per[kind] = best
            print(f"host floor {engine}/{kind}: {best * 1e3:.2f} ms per layer ({len(kr)} rows, mean |log error| "
                  f"{err(best):.4f})")
        out[engine] = dict(per)
    return out
