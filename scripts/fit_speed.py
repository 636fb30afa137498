"""Derive the achieved efficiencies of src/llmsize/catalog/efficiency.toml from the published
measurements in tests/data/speed_calib.jsonl, and report the error on rows held out of the fit.

For each calibration row: the efficiency at which the prediction equals the measurement (solved by
bisection; communication is timed apart and not scaled by it). A group engine x GPU architecture x phase
takes the median ratio of its rows;
engine/@vendor, engine/*, */arch, */@vendor and */* fallbacks take the median over their wider sets (the
vendor classes: every GPU of that vendor, one backend and kernel set). Every fourth row of each
category (file order) is held out: it is never used in any median, and its error is reported apart.

Run: PYTHONPATH=src python scripts/fit_speed.py [--write]
"""
from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_host import HOST_ENGINES, fit_host  # noqa: E402  (this folder's sibling script)
CALIB = ROOT / "tests/data/speed_calib.jsonl"
OUT = ROOT / "src/llmsize/catalog/efficiency.toml"
PHASE = {"decode": "decode", "prefill": "prefill", "serve": "serve", "train": "train"}
TIME_METRICS = ("ttft_s", "tpot_s", "gpu_hours", "days")

# Sequences an engine batches at once by default (each with its source; None: no cap of its own)
ENGINE = {"vllm": (256, "vLLM EngineArgs max_num_seqs default 256; on a GPU of at least 70 GiB whose name has "
                       "no 'a100' (H100, H200, B200, MI300X), 1024 (vllm/engine/arg_utils.py get_batch_defaults, "
                       "V1: 'For GPUs like H100 and MI300x, use larger default values'; A100 kept small, PR 17885)"),
          "sglang": (2048, "SGLang python/sglang/srt/model_executor/model_runner.py: max running requests "
                           "min(max(KV tokens / context_len * 512, 2048), 4096), so at least 2048 (the KV "
                           "capacity bounds it apart)"),
          "trt-llm": (2048, "TensorRT-LLM LlmArgs max_batch_size default 2048"),
          "llama.cpp": (256, "llama-server decodes its -np slots at once (continuous batching), at most "
                             "LLAMA_MAX_SEQ = 256 of them (src/llama-cparams.h), and llmsize export llamacpp "
                             "writes -np as the requests served at once (--batch); llama-bench's decode and "
                             "prompt rows run one sequence (workload.batch)"),
          "transformers": (None, "no cap of its own: generate() decodes the batch of requests it is given at once "
                                 "(static batching: bitsandbytes' benchmarks run batch 1, 8 and 32)"),
          "unknown": (256, "ASSUMES: vLLM's default")}
# an engine's larger default on a large GPU: (max_seqs, GPU total memory at least this many GiB, a name word
# that keeps a GPU on the small default)
ENGINE_LARGE = {"vllm": (1024, 70, "a100")}


def _large(engine: str) -> dict:
    """The engine's larger default on a large GPU, as efficiency.toml keys (none for most engines)."""
    if engine not in ENGINE_LARGE:
        return {}
    n, gib, word = ENGINE_LARGE[engine]
    return {"max_seqs_large": n, "large_gpu_gib": gib, "large_excludes": word}


def load_rows(quiet: bool = False) -> list[dict]:
    """The calibration rows whose GPU the catalog and the architecture map know; the others (rows written
    ahead of their GPU's catalog entry) are skipped with a note."""
    rows = [json.loads(x) for x in CALIB.read_text().splitlines() if x.strip()]
    known = [r for r in rows if gpu_known(r["hardware"]["gpu"])]
    if len(known) < len(rows) and not quiet:
        names = sorted({r["hardware"]["gpu"] for r in rows if not gpu_known(r["hardware"]["gpu"])})
        print(f"skipped {len(rows) - len(known)} rows on GPUs not in the catalog yet: {', '.join(names)}")
    return known


def gpu_known(name: str) -> bool:
    from llmsize.catalog.hardware import get_gpu
    from llmsize.errors import LlmsizeError

    try:
        get_gpu(name)
    except LlmsizeError:
        return False
    return True


def _arch(name: str) -> str:
    """The architecture class of a catalog GPU (its `arch` in gpus.toml)."""
    from llmsize.catalog.hardware import get_gpu
    from llmsize.speedmodel.efficiency import arch_of

    return arch_of(get_gpu(name))


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    seen: dict[str, int] = defaultdict(int)
    fit, held = [], []
    for r in rows:
        i = seen[r["category"]]
        seen[r["category"]] += 1
        (held if i % 4 == 3 else fit).append(r)
    return fit, held


def gpu_rows(rows: list[dict]) -> list[dict]:
    """The rows the GPU-side efficiencies and constants are fitted on: all but those of the engines that
    issue their kernels from Python, whose rows fit the host floor only (fit_host: a host-bound row says
    nothing of the GPU)."""
    return [r for r in rows if r["engine"] not in HOST_ENGINES]


def ratios(rows: list[dict]) -> list[tuple[dict, float]]:
    from llmsize.validate_speed import parse_case, predict_case

    out = []
    for n, r in enumerate(rows, 1):
        case = parse_case(r, n, r["id"])
        out.append((r, solve(case, predict_case)))
    return out


def solve(case, predict_case) -> float:
    """The efficiency at which the prediction meets the measurement (bisection; the rate rises and a
    time falls monotonically with the efficiency). Searched in (0, 1]: a row faster than the roofline comes out as 1."""
    from llmsize.errors import LlmsizeError

    lo, hi = 1e-3, 1.0
    slower = case.metric in TIME_METRICS
    for _ in range(40):
        mid = (lo + hi) / 2
        try:
            p = predict_case(case, eff=mid).predicted
        except LlmsizeError:  # too slow to serve the row's request rate at all: the efficiency lies above
            lo = mid
            continue
        if (p > case.measured) != slower:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def table_entries(fitted: list[tuple[dict, float]]) -> list[dict]:
    from llmsize.speedmodel.efficiency import lookup_keys

    groups: dict[tuple[str, str, str], list[tuple[str, float]]] = defaultdict(list)
    bare: set[tuple[str, str, str]] = set()
    for r, q in fitted:
        for k in lookup_keys(r["engine"], arch(r["hardware"]["gpu"]), vendor(r["hardware"]["gpu"]), phase_of(r)):
            groups[k].append((r["id"], q))
    # a phase seen only on a non-16-bit path still needs a bare default: all of its rows
    for r, q in fitted:
        task = PHASE[r["workload"]["task"]]
        if not any(k[2] == task for k in groups if k != ("*", "*", task)) or ("*", "*", task) in bare:
            bare.add(("*", "*", task))
            groups[("*", "*", task)].append((r["id"], q))
    out = []
    for (e, a, p), xs in sorted(groups.items()):
        v = statistics.median(q for _, q in xs)
        out.append({"engine": e, "arch": a, "phase": p, "value": round(min(v, 1.0), 4), "n": len(xs),
                    "raw_median": round(v, 4), "rows": [i for i, _ in xs]})
    moe = moe_entries(out)
    return sorted(out + moe + path_entries(out, {(x["engine"], x["arch"], x["phase"]) for x in moe}),
                  key=lambda x: (x["engine"], x["arch"], x["phase"]))


def _task(phase: str) -> str:
    return phase.split("-", 1)[0]


def path_entries(entries: list[dict], taken: set[tuple[str, str, str]]) -> list[dict]:
    """Efficiencies for an engine on a GPU class that has its rows of a phase on one compute path but none on
    another (H100's llama.cpp prompts on the dequantize-to-16-bit path of 2024 builds, none on today's int8
    MMQ path): the class's value times the engine's ratio of the two paths, the median over the classes that
    have both (at least MOE_RATIO_CLASSES of them). Without it the class takes the engine's median over
    other classes, which knows nothing of it (llama.cpp reaches half the prompt efficiency on an H100 that it
    reaches on a GeForce). A class moves one path's efficiency as it moves another's. The ratio is taken over
    classes of the same vendor only: each path's efficiency is relative to its own peak, and the int8/fp16
    peak ratios differ by vendor (2 on NVIDIA tensor cores, 1 on an MI100).

    E(e, c, P) = E(e, c, P2) · r,  r = median_c'(E(e, c', P) / E(e, c', P2))
    (c' the classes of c's vendor with both; P2 the path with most rows)"""
    from llmsize.catalog.hardware import gpus
    from llmsize.speedmodel.efficiency import arch_of, vendor_of

    have = {(x["engine"], x["arch"], x["phase"]): x for x in entries}
    ven = {arch_of(g): vendor_of(g) for g in gpus()}

    def cls(c: str) -> bool:
        return c != "*" and not c.startswith("@")

    out = []
    engines = sorted({e for (e, _, _) in have if e != "*"})
    for e in engines:
        phases = sorted({p for (e2, _, p) in have if e2 == e})
        for p in phases:
            best: dict[str, tuple] = {}
            for p2 in phases:
                if p2 == p or _task(p2) != _task(p) or p2.endswith("-moe") != p.endswith("-moe"):
                    continue
                for (e2, c, p3), x in have.items():
                    if e2 != e or p3 != p2 or not cls(c) or (e, c, p) in have or (e, c, p) in taken:
                        continue
                    both = sorted(c2 for (e3, c2, p4) in have if e3 == e and p4 == p and cls(c2)
                                  and (e, c2, p2) in have and ven.get(c2) == ven.get(c))
                    if len(both) < MOE_RATIO_CLASSES:
                        continue
                    ratio = statistics.median(have[(e, c2, p)]["raw_median"] / have[(e, c2, p2)]["raw_median"]
                                              for c2 in both)
                    cand = (x["n"], len(both), p2, ratio, both, x)
                    if c not in best or cand[:2] > best[c][:2]:
                        best[c] = cand
            for c, (_, _, p2, ratio, both, x) in sorted(best.items()):
                v = x["raw_median"] * ratio
                out.append({"engine": e, "arch": c, "phase": p, "value": round(min(v, 1.0), 4), "n": x["n"],
                            "raw_median": round(v, 4), "rows": x["rows"],
                            "derived": f"{e}/{c}/{p2} x {ratio:.4f}, the {p}/{p2} median of {', '.join(both)}"})
    return out


# ASSUMES: a ratio measured on fewer GPU classes than this is not carried to others
MOE_RATIO_CLASSES = 2


def moe_entries(entries: list[dict]) -> list[dict]:
    """Efficiencies for the GPU classes that have a phase's dense rows but no mixture-of-experts rows, or
    the other way round: the class's value times (or over) the MoE/dense ratio of that phase, the median
    over the classes that have both (at least MOE_RATIO_CLASSES of them). Without it such a class takes
    the all-GPU median of the other kind, which is mostly other classes' (GB10's 0.12 for the MoE prompt
    of an RX 7900 XTX whose dense prompts reach 0.39). An architecture moves a MoE prompt about as it
    moves a dense one; the grouped expert GEMMs reach a share of that.

    E(c, P-moe) = E(c, P) · r,  E(c, P) = E(c, P-moe) / r,  r = median_c'(E(c', P-moe) / E(c', P))"""
    have = {(x["engine"], x["arch"], x["phase"]): x for x in entries}
    out = []
    for (e, a, p) in sorted(have):
        if e != "*" or a != "*" or not p.endswith("-moe"):
            continue
        dense = p[: -len("-moe")]
        both = sorted(c for (e2, c, p2) in have if e2 == "*" and c != "*" and not c.startswith("@") and p2 == p
                      and ("*", c, dense) in have)
        if len(both) < MOE_RATIO_CLASSES:
            continue
        ratio = statistics.median(have[("*", c, p)]["raw_median"] / have[("*", c, dense)]["raw_median"] for c in both)
        for (e2, c, p2), x in sorted(have.items()):
            if c == "*" or c.startswith("@") or p2 not in (p, dense):
                continue
            want = dense if p2 == p else p
            if (e2, c, want) in have or ("*", c, want) in have:  # the class's own rows of that kind
                continue
            v = x["raw_median"] / ratio if want == dense else x["raw_median"] * ratio
            op = "/" if want == dense else "x"
            out.append({"engine": e2, "arch": c, "phase": want, "value": round(min(v, 1.0), 4), "n": x["n"],
                        "raw_median": round(v, 4), "rows": x["rows"],
                        "derived": f"{e2}/{c}/{p2} {op} {ratio:.4f}, the {p}/{dense} median of {', '.join(both)}"})
    return out


def arch(gpu: str) -> str:
    """The GPU's architecture class: its `arch` in catalog/gpus.toml."""
    from llmsize.catalog.hardware import get_gpu

    return get_gpu(gpu).arch


def vendor(gpu: str) -> str:
    """The GPU's vendor class (``@nvidia``, ``@amd``, ``@apple``): `efficiency.vendor_of`."""
    from llmsize.catalog.hardware import get_gpu
    from llmsize.speedmodel.efficiency import vendor_of

    return vendor_of(get_gpu(gpu))


def phase_of(r: dict) -> str:
    """The row's phase key: task, with its compute path where that is not 16-bit (and ``-moe`` for a
    mixture-of-experts model's training and prompt processing)."""
    from llmsize.catalog.hardware import get_gpu
    from llmsize.speedmodel.efficiency import phase_key, serve_path, train_path

    w, gpu = r["workload"], get_gpu(r["hardware"]["gpu"])
    path = train_path(w.get("precision"), gpu) if w["task"] == "train" else \
        serve_path(r["engine"], w.get("weights") or "bf16", gpu, _mmq(r, gpu))
    key = phase_key(PHASE[w["task"]], path, w.get("weights") if w["task"] in ("decode", "prefill") else None)
    return key + "-moe" if w["task"] in ("train", "prefill") and _is_moe(r["model"]) else key


def _mmq(r: dict, gpu) -> bool:
    """Whether the row's llama.cpp build runs quantized matrices on MMQ (`builds.llamacpp_mmq`)."""
    from llmsize.speedmodel.builds import llamacpp_mmq

    src = r.get("source") or {}
    v, d = src.get("engine_version"), src.get("date")
    return llamacpp_mmq(gpu, None if v is None else str(v), None if d is None else str(d))


def _is_moe(model) -> bool:
    from llmsize.validate_speed import model_spec

    k = json.dumps(model, sort_keys=True)
    if k not in _MOE:
        _MOE[k] = model_spec(model, "fit").moe is not None
    return _MOE[k]


_MOE: dict[str, bool] = {}


GRID = {"x_half_tokens": (0, 500, 1000, 1500, 2000, 3000), "d_half": (0, 500, 1000, 2000, 3000, 4000),
        "attention_rel": (1.0, 0.85, 0.7, 0.55, 0.4)}


# the routed experts' grouped GEMMs: rows per expert at half their saturated efficiency, searched on the MoE
# training rows once the dense shape is fixed (the dense search runs with it at 0, inert)
EXPERT_GRID = (0, 250, 500, 1000, 2000, 4000)
# serving: searched one constant at a time from the first value of each (coordinate search, two rounds):
# eleven constants make the full product too slow to refit
SERVE_GRID = {"compute_rel": (0.8, 0.7, 0.6, 0.9, 1.0), "compute_rel_fp8": (0.6, 0.5, 0.7, 0.8, 0.9),
              "compute_rel_fp4": (0.5, 0.4, 0.3, 0.6, 0.7, 0.8),
              "link_efficiency": (0.7, 0.5, 0.85),
              "pcie_efficiency": (0.5, 0.35, 0.7), "step_overhead_s": (0.001, 0.0, 0.002, 0.004),
              "seq_overhead_s": (5e-6, 0.0, 10e-6), "allreduce_latency_s": (10e-6, 5e-6, 20e-6, 30e-6),
              "layer_overhead_s": (50e-6, 0.0, 20e-6, 35e-6, 70e-6),
              "prompt_layer_overhead_s": (150e-6, 0.0, 50e-6, 100e-6, 200e-6, 300e-6, 400e-6, 500e-6),
              "prompt_layer_overhead_compiled_s": (150e-6, 0.0, 25e-6, 50e-6, 100e-6, 200e-6),
              "ungrouped_kv_miss": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
              "gemm_unhidden": (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0)}
DECODE_GRID = {"layer_overhead_s": (0.0, 10e-6, 20e-6, 30e-6, 40e-6, 50e-6, 60e-6, 70e-6, 80e-6, 100e-6, 120e-6, 140e-6,
                                     160e-6, 200e-6),
               "graphs_saving_s": (0.0, 20e-6, 40e-6, 60e-6, 80e-6, 100e-6)}
PREFILL_GRID = {"d_half": (0.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0)}
# the |log error| a grid point is charged for a measured row it predicts cannot run (a request rate it calls
# overloaded): e^2, a factor of 7.4, worse than any row the table keeps
UNSERVED_LOG_ERROR = 2.0
MOE_LAYER_GRID = (0.0, 10e-6, 20e-6, 30e-6, 40e-6, 50e-6, 60e-6, 80e-6, 100e-6)


def fit_shape(fit: list[dict], task: str = "train", grid: dict = GRID) -> dict[str, float]:
    """The shape constants of `task` ("train": GEMM shape; "serve": the serving step's constants; "decode":
    the fixed cost per layer of a decode step): grid search
    minimising the mean |log error| of that task's rows in the fit, each grid point with its own group
    medians."""
    import itertools

    import llmsize.speedmodel.efficiency as eff

    rows = [r for r in fit if r["workload"]["task"] == task]
    # a decode step also times its compute at the prefill efficiency, and a prompt's micro-batches read
    # their weights at the decode efficiency: the other task's groups come along
    other = {"decode": "prefill", "prefill": "decode"}.get(task)
    pool = rows + [r for r in fit if r["workload"]["task"] == other]
    if task == "prefill":  # the width term is a dense GEMM's: a MoE's prompt rows have groups of their own
        rows = [r for r in rows if not _is_moe(r["model"])]
    best = None
    table = eff._table()
    # the training search holds the section's other constants (the experts' x½, set by the caller)
    held = {k: v for k, v in table.get(task, {}).items() if k not in grid} if task == "train" else {}
    for values in itertools.product(*grid.values()) if task != "serve" else ():
        table[task] = {**held, **dict(zip(grid, values))}
        err = grid_error(pool, rows)
        if best is None or err < best[0]:
            best = (err, dict(zip(grid, values)))
    if task == "serve":
        best = coordinate_search(pool, rows, task, grid)
    assert best is not None
    print(f"{task} shape: {best[1]} (mean |log error| {best[0]:.4f})")
    table[task] = {**held, **best[1]}
    return best[1]


def coordinate_search(pool: list[dict], rows: list[dict], task: str, grid: dict) -> tuple[float, dict]:
    """Grid values one constant at a time, starting from each constant's first value: a value replaces the
    current one where it lowers the mean |log error|; passes over the constants until one changes none (a
    coordinate-wise minimum; at most six)."""
    import llmsize.speedmodel.efficiency as eff

    table = eff._table()
    cur = {k: v[0] for k, v in grid.items()}
    table[task] = dict(cur)
    best = grid_error(pool, rows, by_category=True)
    for _ in range(6):
        start = dict(cur)
        for k, values in grid.items():
            for v in values:
                if v == cur[k]:
                    continue
                table[task] = {**cur, k: v}
                err = grid_error(pool, rows, by_category=True)
                if err < best - 1e-6:
                    best, cur = err, {**cur, k: v}
        if cur == start:
            break
    table[task] = dict(cur)
    return best, cur


def grid_error(pool: list[dict], rows: list[dict], by_category: bool = False) -> float:
    """Mean |log error| of `rows` with the table's groups set to the medians of `pool` (at the shape
    constants the table holds now); `by_category`: the mean over the rows' categories of each category's
    mean (the serving search: its constants govern different metrics, t_pl and τ a request's TTFT and
    little of a deployment's throughput, and throughput rows outnumber latency rows 4 to 1, so a mean over
    all rows let throughput choose them alone). Training's shape constants take every row alike: whole runs
    weighted as much as the throughput rows (3 times fewer, and noisier: restarts, layouts not given)
    moved x½, d½ and a to what the throughput rows fit worse."""
    import math
    import statistics

    import llmsize.speedmodel.efficiency as eff
    from llmsize.errors import LlmsizeError
    from llmsize.validate_speed import parse_case, predict_case

    entries = {(e["engine"], e["arch"], e["phase"]): e["value"] for e in table_entries(ratios(pool))}
    eff._table()["efficiency"] = [{"engine": k[0], "arch": k[1], "phase": k[2], "value": v, "n": 1}
                                  for k, v in entries.items()]
    by_cat: dict[str, list[float]] = {}
    for n, r in enumerate(rows, 1):
        try:
            err = abs(math.log(predict_case(parse_case(r, n, r["id"])).predicted / r["measured"]["value"]))
        except LlmsizeError:  # this grid point cannot serve a measured run at all (overloaded): far off
            err = UNSERVED_LOG_ERROR
        by_cat.setdefault(r.get("category") or r["workload"]["task"] if by_category else "", []).append(err)
    return statistics.fmean(statistics.fmean(v) for v in by_cat.values())


def fit_expert_shape(fit: list[dict], shape: dict[str, float], grid: tuple[float, ...] = EXPERT_GRID) -> dict[str, float]:
    """`shape` with ``x_half_expert_tokens``: the grid value minimising the mean |log error| of the fit's
    mixture-of-experts training rows whose layout states the expert-parallel size, each grid point with its
    own group medians over every training row. A whole run without a layout (a model card's GPU-hours)
    does not say how many rows an expert's GEMM gets (x_e = ep·b·s·k/(c·t·E)), so it does not pin x½."""
    import llmsize.speedmodel.efficiency as eff

    table = eff._table()
    pool = [r for r in fit if r["workload"]["task"] == "train"]
    rows = [r for r in pool if _is_moe(r["model"]) and (r["workload"].get("layout") or {}).get("ep")]
    best = None
    for v in grid:
        table["train"] = {**shape, "x_half_expert_tokens": v}
        err = grid_error(pool, rows)
        if best is None or err < best[0]:
            best = (err, v)
    assert best is not None
    out = {**shape, "x_half_expert_tokens": best[1]}
    table["train"] = out
    print(f"expert shape: x_half_expert_tokens {best[1]} (mean |log error| of the MoE rows {best[0]:.4f})")
    return out


def fit_decode_by_arch(fit: list[dict], grid: tuple[float, ...] = DECODE_GRID["layer_overhead_s"]) -> dict[str, float]:
    """The decode step's fixed cost per layer for each GPU architecture with decode rows in the fit: for each
    architecture apart, the grid value minimising the mean |log error| of its decode rows, each grid point
    with its own group medians (an architecture's groups hold only its own rows, so they fit independently)."""
    import llmsize.speedmodel.efficiency as eff

    table = eff._table()
    by_arch: dict[str, float] = {}
    table["decode"]["layer_overhead_by_arch"] = by_arch
    archs = sorted({_arch(r["hardware"]["gpu"]) for r in fit if r["workload"]["task"] == "decode"})
    for a in archs:
        rows = [r for r in fit if r["workload"]["task"] == "decode" and _arch(r["hardware"]["gpu"]) == a]
        # the decode step's compute term takes the prefill efficiency, with its fallbacks over every prefill row
        pool = rows + [r for r in fit if r["workload"]["task"] == "prefill"]
        best = None
        for v in grid:
            by_arch[a] = v
            err = grid_error(pool, rows)
            if best is None or err < best[0]:
                best = (err, v)
        assert best is not None
        by_arch[a] = best[1]
    print(f"decode layer overhead by arch: {by_arch}")
    return dict(by_arch)


def fit_moe_layer(fit: list[dict], grid: tuple[float, ...] = MOE_LAYER_GRID) -> float:
    """The fixed cost a mixture-of-experts layer adds to a decode step (``moe_layer_s``, one for every
    architecture): the grid value minimising the mean |log error| of the fit's MoE decode rows, each grid
    point with its own group medians over every decode and prompt row (at the table's per-architecture
    layer costs)."""
    import llmsize.speedmodel.efficiency as eff

    table = eff._table()
    rows = [r for r in fit if r["workload"]["task"] == "decode" and _is_moe(r["model"])]
    pool = [r for r in fit if r["workload"]["task"] in ("decode", "prefill")]
    best = None
    for v in grid:
        table["decode"]["moe_layer_s"] = v
        err = grid_error(pool, rows)
        if best is None or err < best[0]:
            best = (err, v)
    assert best is not None
    table["decode"]["moe_layer_s"] = best[1]
    print(f"decode MoE layer cost: {best[1]} (mean |log error| of the MoE decode rows {best[0]:.4f})")
    return best[1]


def write(entries: list[dict], shape: dict[str, float], serve: dict[str, float], decode: dict[str, float],
          prefill: dict[str, float], host: dict[str, dict[str, float]]) -> None:
    lines = ["# Achieved efficiencies, engine x GPU architecture x phase. GENERATED by scripts/fit_speed.py from",
             "# tests/data/speed_calib.jsonl (every row cites its source); do not edit by hand.",
             "# value = median over the group's rows of the efficiency that reproduces each row (capped at 1);",
             "# rows = the calibration row ids it comes from. Derivation: docs/speed.md.",
             "# A GPU's architecture class is its `arch` in catalog/gpus.toml."]
    lines += ["", "# GEMM-shape constants of the training efficiency (grid-searched by fit_shape)", "[train]"]
    lines += [f"{k} = {v}" for k, v in shape.items()]
    lines += ["", "# serving constants (coordinate search over their grids by fit_shape)", "[serve]"]
    lines += [f"{k} = {v}" for k, v in serve.items()]
    lines += ["", "# prompt-processing width term (grid-searched by fit_shape)", "[prefill]"]
    lines += [f"{k} = {v}" for k, v in prefill.items()]
    lines += ["", "# decode-step constants: fixed seconds per layer and step, and what CUDA graphs save of it",
              "# (grid-searched by fit_shape)", "[decode]"]
    lines += [f"{k} = {v}" for k, v in decode.items() if not isinstance(v, dict)]
    lines += ["", "# fixed seconds per layer and step, per GPU architecture with decode rows (fit_decode_by_arch)",
              "[decode.layer_overhead_by_arch]"]
    lines += [f'"{k}" = {v}' for k, v in decode.get("layer_overhead_by_arch", {}).items()]
    for e, per in host.items():
        lines += ["", f"# seconds the host takes to issue one layer's kernels per pass, by kind of linear kernels "
                  f"(fit_host: {e}'s own rows)", f'[host."{e}"]']
        lines += [f'"{k}" = {v}' for k, v in per.items()]
    for e, (n, src) in ENGINE.items():
        lines += ["", f'[engine."{e}"]'] + ([f"max_seqs = {n}"] if n is not None else []) + \
            [f"{k} = {json.dumps(v)}" for k, v in _large(e).items()] + [f"source = {json.dumps(src)}"]
    for x in entries:
        lines += ["", "[[efficiency]]", f'engine = "{x["engine"]}"', f'arch = "{x["arch"]}"', f'phase = "{x["phase"]}"',
                  f'value = {x["value"]}', f'n = {x["n"]}', f'raw_median = {x["raw_median"]}',
                  "rows = " + json.dumps(x["rows"])]
        if "derived" in x:
            lines.append(f"derived = {json.dumps(x['derived'])}")
    OUT.write_text("\n".join(lines) + "\n")


def report(name: str, rows: list[dict]) -> None:
    from llmsize.validate_speed import parse_case, predict_case, speed_summary

    res = [predict_case(parse_case(r, n, r["id"])) for n, r in enumerate(rows, 1)]
    print(f"\n{name}: {len(res)} rows")
    print(f"{'category':18} {'n':>3} {'median':>8} {'<=25%':>7} {'max':>8}")
    for k, v in speed_summary(res).items():
        print(f"{k:18} {v['n']:>3} {100 * v['median']:7.1f}% {100 * v['within_25']:6.0f}% {100 * v['max']:7.1f}%")
    worst = sorted(res, key=lambda r: -abs(r.rel_error or 0))[:8]
    for r in worst:
        print(f"  {r.case.id:60} {100 * (r.rel_error or 0):+7.1f}%")


def main() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    rows = load_rows()
    fit_all, held = split(rows)
    fit = gpu_rows(fit_all)
    import llmsize.speedmodel.efficiency as eff

    # the engines' defaults the fit writes are the ones it fits with (not the stored file's)
    eff._table()["engine"] = {e: {"source": src, **({"max_seqs": n} if n is not None else {}), **_large(e)}
                              for e, (n, src) in ENGINE.items()}
    eff._table()["train"] = {"x_half_expert_tokens": 0}  # inert while the dense shape is searched
    eff._table()["host"] = {}  # no floor while the GPU side is fitted
    shape = fit_expert_shape(fit, fit_shape(fit))
    serve = fit_shape(fit, "serve", SERVE_GRID)
    prefill = fit_shape(fit, "prefill", PREFILL_GRID)
    decode = fit_shape(fit, "decode", DECODE_GRID)
    # the architectures' layer costs and the MoE layer's are searched in turn, twice (GB10's decode rows are
    # mostly MoE: its layer cost and the MoE layer's trade off)
    for _ in range(2):
        by_arch = fit_decode_by_arch(fit)
        moe_layer = fit_moe_layer(fit)
    decode = {**decode, "moe_layer_s": moe_layer, "layer_overhead_by_arch": by_arch}
    eff._table()["efficiency"] = table_entries(ratios(fit))  # group values for the chosen shape
    entries = table_entries(ratios(fit))
    eff._table()["efficiency"] = entries  # the host floor is fitted against the table that is written
    host = fit_host(fit_all)
    if "--write" in sys.argv:
        write(entries, shape, serve, decode, prefill, host)
        eff._table.cache_clear()
    report("calibration rows (in the fit)", fit_all)
    report("held-out rows (not in the fit)", held)


if __name__ == "__main__":
    main()
