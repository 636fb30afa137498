"""The dicts behind `llmsize design`, `scaling`, `compare` and `whatif --json`; the web API calls
the same functions, so both give the same numbers."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from llmsize.design import scaling as sc
from llmsize.design.metrics import Metrics, Setting, metrics
from llmsize.design.shapes import Constraints, propose, reference_aspect
from llmsize.errors import LlmsizeError
from llmsize.params import count
from llmsize.sources import SOURCES
from llmsize.spec import ModelSpec

LAWS = ("chinchilla", "approach3", "besiroglu", "kaplan")


def _allocate(law: str, flops: int) -> sc.Allocation:
    if law == "chinchilla":
        return sc.chinchilla_rule(flops)
    if law == "approach3":
        return sc.chinchilla_frontier(flops, sc.CHINCHILLA)
    if law == "besiroglu":
        return replace(sc.chinchilla_frontier(flops, sc.BESIROGLU), method="Besiroglu et al. 2024 refit (eq. 4)",
                       source="besiroglu2024")
    if law == "kaplan":
        return sc.kaplan_optimal(flops)
    raise LlmsizeError(f"unknown scaling law {law!r} (known: {', '.join(LAWS)})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    params: int
    tokens: int
    flops: int
    given: str  # "params", "compute" or "gpu-hours"
    law: str | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(params=self.params, tokens=self.tokens, flops=self.flops, given=self.given, law=self.law,
                    tokens_per_param=self.tokens / self.params, note=self.note)


def _gpu_hours_flops(gpu_hours: float, gpu: str, *, dtype: str, mfu: float | None) -> int:
    """--gpu-hours on --gpu as FLOPs, by perf's inverse of train time at the planner's MFU."""
    from llmsize import perf
    from llmsize.catalog.hardware import parse_gpu
    from llmsize.speedmodel.train import GOODPUT

    if not (isinstance(gpu_hours, (int, float)) and math.isfinite(gpu_hours) and gpu_hours > 0):
        raise LlmsizeError(f"--gpu-hours must be a positive number, got {gpu_hours!r}")
    return round(perf.flops_for_gpu_hours(gpu_hours, peak_flops=parse_gpu(gpu).peak_flops(dtype),
                                          mfu=perf.DEFAULT_MFU if mfu is None else mfu, goodput=GOODPUT))


def resolve_budget(*, params: int | None = None, compute: int | None = None, gpu_hours: float | None = None,
                   gpu: str = "H100", tokens: int | None = None, law: str = "chinchilla", dtype: str = "bf16",
                   mfu: float | None = None) -> Budget:
    """One budget (parameters, FLOPs or GPU-hours) -> parameters, tokens and FLOPs.
    A compute budget is split by `law` unless `tokens` fixes the split (N = C / 6D)."""
    given = [k for k, v in (("--params", params), ("--compute", compute), ("--gpu-hours", gpu_hours)) if v is not None]
    if len(given) != 1:
        raise LlmsizeError("give exactly one budget: --params, --compute or --gpu-hours" +
                           (f" (got {' and '.join(given)})" if given else ""))
    if tokens is not None and tokens < 1:
        raise LlmsizeError(f"--tokens must be positive, got {tokens}")
    if params is not None:
        d = tokens or sc.CHINCHILLA_TOKENS_PER_PARAM * params
        return Budget(params=params, tokens=d, flops=sc.training_flops(params, d), given="params",
                      note="" if tokens else "tokens: the Chinchilla rule, 20 per parameter")
    note = ""
    if gpu_hours is not None:
        compute = _gpu_hours_flops(gpu_hours, gpu, dtype=dtype, mfu=mfu)
        note = f"{gpu_hours:,.0f} {gpu} GPU-hours at the planner's MFU buy {compute:.3g} FLOPs; "
    assert compute is not None
    if tokens is not None:
        n = compute // (6 * tokens)
        if n < 1:
            raise LlmsizeError(f"a budget of {compute:.3g} FLOPs cannot train any model on {tokens:,} tokens")
        return Budget(params=n, tokens=tokens, flops=compute, given="gpu-hours" if gpu_hours else "compute",
                      note=note + "size from N = C / (6·D)")
    a = _allocate(law, compute)
    return Budget(params=a.params, tokens=a.tokens, flops=compute, given="gpu-hours" if gpu_hours else "compute",
                  law=law, note=note + f"split by {a.method}")


def _losses(m: Metrics, tokens: int) -> dict[str, Any]:
    ch = sc.chinchilla_loss(m.params, tokens)
    ka = sc.kaplan_loss(max(m.non_embedding_params, 1), tokens)
    return {"chinchilla": ch.total, "chinchilla_terms": dict(ch.terms), "kaplan": ka.total}


def _citations(keys: set[str]) -> dict[str, str]:
    return {k: SOURCES[k] for k in sorted(keys) if k in SOURCES}


def design_report(*, params: int | None = None, compute: int | None = None, gpu_hours: float | None = None,
                  tokens: int | None = None, law: str = "chinchilla", constraints: Constraints = Constraints(),
                  setting: Setting = Setting(), n: int = 5) -> dict[str, Any]:
    """Everything `llmsize design --json` prints."""
    b = resolve_budget(params=params, compute=compute, gpu_hours=gpu_hours, gpu=setting.gpu, tokens=tokens, law=law,
                       dtype=setting.dtype, mfu=setting.mfu)
    cands = propose(b.params, constraints, n=n)
    ref, names = reference_aspect(b.params)
    rows = []
    for c in cands:
        m = metrics(c.spec, replace(setting, train_tokens=b.tokens), plan=True)
        rows.append(dict(recommended=c.recommended, aspect=c.aspect, params_error=c.error,
                         tokens_per_param=b.tokens / c.params, loss=_losses(m, b.tokens), **m.as_dict()))
    alloc = {law_: _allocate(law_, b.flops) for law_ in LAWS}
    return {
        "budget": b.as_dict(),
        "constraints": {k: getattr(constraints, k) for k in constraints.__dataclass_fields__ if k != "notes"},
        "padded_vocab": constraints.padded_vocab,
        "setting": setting.as_dict(),
        "reference_aspect": {"d_over_L": ref, "models": list(names)},
        "candidates": rows,
        "scaling": {k: _alloc_dict(a) for k, a in alloc.items()},
        "notes": [
            "parameters are exact (llmsize.params.count on each candidate's ModelSpec); losses are the "
            "papers' fits on their own data, useful for comparing candidates, not as absolute predictions",
            "Kaplan's loss uses non-embedding parameters, Chinchilla's all parameters (Pearce & Song 2024)",
        ],
        "citations": _citations({"hoffmann2022", "kaplan2020-laws", "besiroglu2024", "pearce2024", "hf-configs",
                                 "shazeer2020", "megatron-vocab", "narayanan2021", "pope2022"}),
    }


def _alloc_dict(a: sc.Allocation) -> dict[str, Any]:
    return dict(method=a.method, params=a.params, tokens=a.tokens, flops=a.flops, tokens_per_param=a.tokens_per_param,
                formula=a.formula, source=a.source, note=a.note)


# -- scaling ---------------------------------------------------------------------------------------
# (name, preset for the exact count or None, published parameters, training tokens); Source: training-tokens
KNOWN_RUNS: tuple[tuple[str, str | None, int, int], ...] = (
    ("GPT-3 175B", None, 175 * 10**9, 300 * 10**9), ("Gopher 280B", None, 280 * 10**9, 300 * 10**9),
    ("Chinchilla 70B", None, 70 * 10**9, 1_400 * 10**9),
    ("Llama-2-7B", "Llama-2-7b-hf", 7 * 10**9, 2 * 10**12), ("Llama-2-70B", "Llama-2-70b-hf", 70 * 10**9, 2 * 10**12),
    ("Llama-3.1-8B", "Llama-3.1-8B", 8 * 10**9, 15 * 10**12),
    ("Llama-3.1-70B", "Llama-3.1-70B", 70 * 10**9, 15 * 10**12),
)


def known_runs() -> list[dict[str, Any]]:
    """Published runs with tokens per parameter (exact parameters from the preset where there is one)."""
    from llmsize.catalog.presets import find_preset
    from llmsize.load import load_preset

    out = []
    for name, preset, nominal, d in KNOWN_RUNS:
        p = find_preset(preset) if preset else None
        n = count(load_preset(p).spec).total if p else nominal
        o = sc.overtraining(n, d)
        out.append(dict(name=name, params=n, exact=p is not None, tokens=d, tokens_per_param=o.tokens_per_param,
                        times_chinchilla_rule=o.times_rule, flops=o.flops, chinchilla_loss=o.loss.total,
                        source="training-tokens"))
    return out


def _fit(name: str) -> sc.ChinchillaFit:
    if name not in sc.FITS:
        raise LlmsizeError(f"unknown loss fit {name!r} (known: {', '.join(sc.FITS)})")
    return sc.FITS[name]


def scaling_report(*, compute: int | None = None, params: int | None = None, tokens: int | None = None,
                   inference_tokens: int | None = None, fit: str = "hoffmann2022") -> dict[str, Any]:
    """Everything `llmsize scaling --json` prints: allocations of a compute budget, optimal tokens
    for a size, the loss and over-training of a (size, tokens) run, and the inference-aware optimum."""
    f = _fit(fit)
    rep: dict[str, Any] = {"fit": dict(name=fit, E=f.E, A=f.A, B=f.B, alpha=f.alpha, beta=f.beta, where=f.where)}
    if tokens is not None and params is None:
        raise LlmsizeError("--tokens needs --params: together they describe one training run")
    if compute is None and params is None:
        raise LlmsizeError("give --compute, or --params (with --tokens for a run's loss and over-training)")
    if compute is not None and params is not None:
        raise LlmsizeError("give --compute or --params, not both (with --tokens, --params describes one run)")
    if compute is not None:
        allocs = {k: _allocate(k, compute) for k in LAWS}
        rep["compute"] = compute
        rep["allocations"] = {k: {**_alloc_dict(a), "loss": sc.chinchilla_loss(a.params, a.tokens, f).total}
                              for k, a in allocs.items()}
        rep["kaplan_loss_at_compute"] = sc.kaplan_loss_compute(compute)
    if params is not None:
        rule, a3 = sc.optimal_tokens(params, f)
        rep["params"] = params
        rep["optimal_tokens"] = {"chinchilla": _alloc_dict(rule), "approach3": _alloc_dict(a3)}
        if tokens is not None:
            o = sc.overtraining(params, tokens, f)
            rep["run"] = dict(
                params=params, tokens=tokens, flops=o.flops, tokens_per_param=o.tokens_per_param,
                times_chinchilla_rule=o.times_rule, loss=o.loss.total, loss_terms=dict(o.loss.terms),
                kaplan_loss=sc.kaplan_loss(params, tokens).total,
                same_compute_optimum=dict(**_alloc_dict(o.same_compute), loss=o.same_compute_loss),
                same_loss_optimum=_alloc_dict(o.same_loss), extra_compute=o.extra_compute,
                inference_flops_saved=o.inference_saving,
                plainly=_plainly(o))
    if inference_tokens is not None:
        if compute is not None:
            ia = sc.inference_optimal(inference_tokens=inference_tokens, flops=compute, fit=f)
        elif params is not None and tokens is not None:
            target = sc.chinchilla_loss(params, tokens, f).total
            ia = sc.inference_optimal(inference_tokens=inference_tokens, loss=target, fit=f)
        else:
            raise LlmsizeError("--inference-tokens needs --compute, or --params with --tokens (to fix the target loss)")
        if ia.params < 1 or ia.tokens < 1:
            raise LlmsizeError(f"--inference-tokens: the inference-aware optimum has {ia.params:g} parameters and "
                               f"{ia.tokens:g} tokens, too small to be a model; give a realistic budget")
        rep["inference_aware"] = dict(
            loss=ia.loss, inference_tokens=ia.inference_tokens, params=ia.params, tokens=ia.tokens,
            tokens_per_param=ia.tokens / ia.params, train_flops=ia.train_flops, inference_flops=ia.inference_flops,
            total_flops=ia.total_flops, chinchilla=_alloc_dict(ia.chinchilla),
            chinchilla_total_flops=ia.chinchilla_total_flops, saving=ia.saving, source="sardana2023")
    rep["known_runs"] = known_runs()
    rep["notes"] = [
        "losses are in nats/token on each paper's own data and tokenizer: compare runs under one law, not "
        "across laws or with any model's reported loss",
        "the printed Approach 3 constants give a = 0.452 (Table 2 prints 0.46) and put Gopher's budget at a "
        "~32B model; the Besiroglu et al. 2024 refit agrees with Approaches 1-2 (~70B)",
    ]
    rep["citations"] = _citations({"hoffmann2022", "kaplan2020-laws", "besiroglu2024", "sardana2023", "pearce2024",
                                   "training-tokens"})
    return rep


def _plainly(o: sc.Overtraining) -> str:
    head = f"{o.tokens_per_param:,.0f} tokens per parameter, {o.times_rule:,.1f}x the Chinchilla rule of 20. "
    gap = o.loss.total - o.same_compute_loss
    same_c = (f"At the same compute a {o.same_compute.params / 1e9:,.1f}B model on "
              f"{o.same_compute.tokens / 1e12:,.2f}T tokens would reach a loss {gap:.3f} lower. ")
    if o.extra_compute > 1 and o.same_loss.params > o.params:
        tail = (f"Reaching this run's loss Chinchilla-optimally takes a {o.same_loss.params / 1e9:,.1f}B model and "
                f"{100 * (1 - 1 / o.extra_compute):.0f}% less training compute, but every served token then costs "
                f"{o.same_loss.params / o.params:.1f}x the FLOPs: over-training buys cheaper inference")
    else:
        tail = (f"A Chinchilla-optimal {o.same_loss.params / 1e9:,.1f}B model reaches this loss with "
                f"{o.extra_compute:.1f}x less compute than this run used")
    return head + same_c + tail + " (Approach 3 fit; Sardana et al. 2023 for the inference trade-off)."
