"""Measured cases (JSON lines) against the memory model: predicted peak, relative error, summary by mode.

A case line follows the truth schema (id, model, config, workload, optional measured). The model is
built from `config` with the config.json adapter; the workload from `workload`. `measured` is only
read to compare, never to predict.

Source: pytorch-autograd
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmsize import bounds
from llmsize.adapters.hf_config import spec_from_config
from llmsize.errors import LlmsizeError
from llmsize.memory import LoRA, Workload, estimate
from llmsize.params import count
from llmsize.validate_parallel import Parallel, parallel_cases, predict_parallel

MODES = ("train", "lora train", "forward", "generate")


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    id: str
    model: str
    config: Mapping[str, Any]
    workload: Workload
    measured_peak: int | None
    measured_params: int | None
    line: int
    parallel: Parallel | None = None

    @property
    def mode(self) -> str:
        if self.parallel is not None:
            return f"{self.parallel.strategy} {self.workload.mode}"
        if self.workload.mode == "train" and self.workload.lora is not None:
            return "lora train"
        return self.workload.mode


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """One case's prediction, or (`error`) why llmsize cannot predict it."""

    case: Case
    predicted_peak: int | None
    predicted_params: int | None
    peak_phase: str
    error: str | None = None

    @property
    def rel_error(self) -> float | None:
        m = self.case.measured_peak
        return None if not m or self.predicted_peak is None else (self.predicted_peak - m) / m


def _count(w: Mapping[str, Any], key: str, default: int, name: str, *, low: int = 1) -> int:
    """An integer field of a workload, within its bound; 1.5 or "2" is an error, not rounded."""
    v = w.get(key, default)
    if v is None and key == "new_tokens":
        v = 0
    return bounds.check(f"workload.{key}", v, name, low=low)


def _workload(w: Mapping[str, Any], where: str) -> Workload:
    if not isinstance(w, Mapping):
        raise LlmsizeError(f"{where}: 'workload' must be an object")
    try:
        lo = w.get("lora")
        lora = None
        if lo:
            tm = lo.get("target_modules", ("q_proj", "v_proj"))
            if not isinstance(lo, Mapping):
                raise LlmsizeError("workload.lora must be an object")
            lora = LoRA(r=_count(lo, "r", 16, "width"), alpha=lo.get("alpha", 32),
                        target_modules=(tm,) if isinstance(tm, str) else tuple(tm))
        opt = w.get("optimizer")
        if opt == "sgd":  # the truth set's SGD runs with momentum 0.9
            opt = "sgd-momentum"
        return Workload(mode=w.get("mode", "train"), batch=_count(w, "batch", 1, "batch"),
                        seq_len=_count(w, "seq_len", 1, "context"),
                        new_tokens=_count(w, "new_tokens", 0, "context", low=0),
                        weights_dtype=str(w.get("weights_dtype", "bf16")), autocast=w.get("autocast"),
                        optimizer=opt if w.get("mode", "train") == "train" else None,
                        grad_checkpointing=bool(w.get("grad_checkpointing", False)),
                        grad_accumulation=_count(w, "grad_accumulation", 1, "batch"),
                        attn_impl=str(w.get("attn_implementation", w.get("attn_impl", "sdpa"))), lora=lora,
                        kv_cache_dtype=w.get("kv_cache_dtype"))
    except LlmsizeError as e:
        raise LlmsizeError(f"{where}: {e}") from None
    except (TypeError, ValueError, AttributeError, ArithmeticError) as e:
        raise LlmsizeError(f"{where}: bad workload ({type(e).__name__}: {str(e)[:100]})") from None


def parse_cases(lines: Iterable[str], name: str = "cases") -> list[Case]:
    """Parse JSON-lines cases; a broken line raises LlmsizeError naming its line number."""
    out = []
    speed = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}: line {n}"
        obj = bounds.loads(line, where)
        if not isinstance(obj, dict):
            raise LlmsizeError(f"{where}: a case must be a JSON object")
        if "error" in obj and "measured" not in obj:
            continue  # a failed measurement in a truth file
        if obj.get("kind") == "speed":
            speed += 1
            continue  # a speed case: llmsize.validate_speed reads it
        cfg = obj.get("config")
        if not isinstance(cfg, Mapping):
            raise LlmsizeError(f"{where}: missing 'config' object")
        m = obj.get("measured")
        if m is not None and not isinstance(m, Mapping):
            raise LlmsizeError(f"{where}: 'measured' must be an object")
        peak = m.get("peak_bytes") if m else None
        if peak is not None and (isinstance(peak, bool) or not isinstance(peak, int) or peak <= 0):
            raise LlmsizeError(f"{where}: measured.peak_bytes must be a positive integer")
        case = Case(id=str(obj.get("id", f"line {n}")), model=str(obj.get("model", "?")), config=cfg,
                    workload=_workload(obj.get("workload"), where), measured_peak=peak,
                    measured_params=m.get("params") if m else None, line=n)
        if "parallel" in obj:  # one case per measured rank (the named rank, and `last_rank` when present)
            out.extend(parallel_cases(case, obj["parallel"], m, where))
        else:
            out.append(case)
    if not out and not speed:
        raise LlmsizeError(f"{name}: no cases (one JSON object per line: a memory case with 'config' and "
                           f"'workload', or a speed case with \"kind\": \"speed\"); an empty file validates nothing")
    return out


def read_cases(path: str | Path) -> list[Case]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise LlmsizeError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise LlmsizeError(f"{path}: not UTF-8 text (a JSON-lines file of cases is expected)") from None
    return parse_cases(text.splitlines(), p.name)


_SPECS: dict[str, Any] = {}


def predict(case: Case) -> Result:
    key = json.dumps(case.config, sort_keys=True, default=repr)
    hit = _SPECS.get(key)
    if hit is None:
        try:
            spec = spec_from_config(dict(case.config), case.model, warn=lambda m: None)
        except LlmsizeError as e:
            raise LlmsizeError(f"line {case.line}: {e}") from None
        hit = _SPECS[key] = (spec, count(spec).total)
    spec, n_params = hit
    if case.parallel is not None:
        peak, phase = predict_parallel(spec, case.workload, case.parallel, case.line)
        return Result(case=case, predicted_peak=peak, predicted_params=n_params, peak_phase=phase)
    try:
        est = estimate(spec, case.workload)
    except LlmsizeError as e:
        raise LlmsizeError(f"line {case.line}: {e}") from None
    params = n_params + est.trainable_params * (case.workload.lora is not None)
    return Result(case=case, predicted_peak=est.peak_bytes, predicted_params=params, peak_phase=est.peak_phase)


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    if not s:
        return math.nan
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(results: list[Result]) -> dict[str, dict[str, float | int]]:
    """Median, p95 and max absolute relative error of the peak per mode (LoRA train on its own) and overall,
    over the cases predicted; `unpredicted` counts the cases of the mode llmsize could not predict."""
    groups: dict[str, list[float]] = {}
    failed: dict[str, int] = {}
    for r in results:
        for k in (r.case.mode, "all"):
            if r.error is not None:
                failed[k] = failed.get(k, 0) + 1
                groups.setdefault(k, [])
            elif r.rel_error is not None:
                groups.setdefault(k, []).append(abs(r.rel_error))
    return {k: {"n": len(v), "median": _pct(v, 0.5) if v else None, "p95": _pct(v, 0.95) if v else None,
                "max": max(v, default=None), "unpredicted": failed.get(k, 0)}  # None: no case of it predicted
            for k, v in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0]))}


def predict_or_error(case: Case) -> Result:
    """predict(case), or a Result carrying the one-line reason it cannot be predicted."""
    try:
        return predict(case)
    except LlmsizeError as e:
        return Result(case=case, predicted_peak=None, predicted_params=None, peak_phase="", error=str(e))
    except Exception as e:  # noqa: BLE001  (a bug in llmsize: said for this case, the file goes on)
        return Result(case=case, predicted_peak=None, predicted_params=None, peak_phase="",
                      error=f"line {case.line}: llmsize failed ({type(e).__name__}: {str(e)[:120]}); please report it")


def validate(path: str | Path) -> tuple[list[Result], dict[str, dict[str, float | int]]]:
    """Every case of the file predicted; a case that cannot be predicted is reported as its error and the
    rest go on."""
    results = [predict_or_error(c) for c in read_cases(path)]
    return results, summary(results)
