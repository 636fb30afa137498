"""Speed cases (JSON lines, ``"kind": "speed"``): predict exactly the named metric for the setup, compare
with the measured value, summarise |error| by category. ``measured`` is never read to predict.

Source: pope2022
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmsize.bounds import MAX_GPUS
from llmsize.errors import LlmsizeError

METRICS = ("tokens_per_s", "output_tokens_per_s", "ttft_s", "tpot_s", "tokens_per_s_per_gpu",
           "model_tflops_per_gpu", "gpu_hours", "days")
CATEGORIES = ("decode", "prefill", "serve_throughput", "serve_latency", "train_throughput", "run_gpu_hours")
# the schema's fields: any other is said in the case's notes (`source` is free-form: url, date, note ...)
_TOP = ("id", "kind", "category", "model", "hardware", "engine", "workload", "measured", "source", "metric")
_HARDWARE = ("gpu", "count", "gpus_per_node")
_KNOBS = ("hidden", "layers", "heads", "kv_heads", "head_dim", "ffn", "vocab", "gated", "tied", "norm", "bias",
          "positions", "max_positions", "experts", "top_k", "expert_ffn", "shared_ffn", "name")


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeedCase:
    id: str
    category: str | None
    model: Any
    gpu: str | None  # None: the source does not name it (the case cannot be timed)
    count: int | None
    gpus_per_node: int
    engine: str
    workload: Mapping[str, Any]
    metric: str
    measured: float | None
    line: int
    engine_version: str | None = None  # source.engine_version: the build a row ran (llama.cpp's CUDA graphs)
    metric_given: bool = True  # False: no measured.metric; the task's headline metric is predicted
    source_date: str | None = None  # source.date (YYYY-MM), the build's month where no version says it
    ignored: tuple[str, ...] = ()  # fields of the case outside the schema (said in its notes, never dropped unsaid)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeedResult:
    case: SpeedCase
    predicted: float | None  # None: the case could not be predicted (`error` says why)
    notes: tuple[str, ...] = ()
    error: str | None = None

    @property
    def rel_error(self) -> float | None:
        m = self.case.measured
        return None if not m or self.predicted is None else self.predicted / m - 1


def is_speed(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "speed"


def parse_case(obj: Mapping[str, Any], n: int, where: str) -> SpeedCase:
    """One speed case from its JSON object; a bad field raises naming the line."""
    def need(k: str, kind: type | tuple[type, ...], m: Mapping[str, Any] = obj) -> Any:
        v = m.get(k)
        if not isinstance(v, kind):
            raise LlmsizeError(f"{where}: '{k}' is missing or not a {getattr(kind, '__name__', kind)}")
        return v
    hw = need("hardware", Mapping)
    wl = need("workload", Mapping)
    task = wl.get("task")
    if task not in ("decode", "prefill", "serve", "train"):
        raise LlmsizeError(f"{where}: workload.task must be decode, prefill, serve or train, got {task!r}")
    meas = obj.get("measured") or {}
    if not isinstance(meas, Mapping):
        raise LlmsizeError(f"{where}: 'measured' must be an object")
    metric = meas.get("metric", obj.get("metric"))
    given = metric is not None
    if not given:
        if meas.get("value") is not None:
            raise LlmsizeError(f"{where}: measured.value needs its measured.metric (one of {', '.join(METRICS)}): "
                               "a value is never compared with a guessed metric")
        metric = default_metric(task, obj.get("category"), wl)
    if metric not in METRICS:
        raise LlmsizeError(f"{where}: measured.metric must be one of {', '.join(METRICS)}, got {metric!r}")
    value = meas.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
        raise LlmsizeError(f"{where}: measured.value must be a positive number")
    cat = obj.get("category")
    if cat is not None and cat not in CATEGORIES:
        raise LlmsizeError(f"{where}: category must be one of {', '.join(CATEGORIES)}, got {cat!r}")
    src = obj.get("source") or {}
    if not isinstance(src, Mapping):
        raise LlmsizeError(f"{where}: 'source' must be an object")
    count, per_node = hw.get("count"), hw.get("gpus_per_node")
    for name, v in (("count", count), ("gpus_per_node", per_node)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise LlmsizeError(f"{where}: hardware.{name} must be a positive integer or null")
        if v is not None and v > MAX_GPUS:
            raise LlmsizeError(f"{where}: hardware.{name} must be at most {MAX_GPUS:,} (llmsize's gpus bound), "
                               f"got {v:,}")
    gpu = hw.get("gpu")
    if gpu is not None and not isinstance(gpu, str):
        raise LlmsizeError(f"{where}: hardware.gpu must be a GPU name or null, got {gpu!r}")
    # what the schema itself rules out is a broken file (exit 2), found before anything is predicted; a
    # well-formed case llmsize cannot predict (an unknown GPU, a repo id it cannot read) is that case's error
    from llmsize.speedmodel.efficiency import engine_name
    from llmsize.validate_speed_fields import check_workload
    from llmsize.validate_speed_predict import check_metric

    try:
        engine_name(obj.get("engine"))
        check_metric(task, metric)
        check_workload(task, wl)
        model = obj.get("model")
        if isinstance(model, Mapping) and isinstance(model.get("knobs"), Mapping):
            _knobs(model["knobs"])
    except LlmsizeError as e:
        raise LlmsizeError(f"{where}: {e}") from None
    ignored = tuple([k for k in obj if k not in _TOP] + [f"hardware.{k}" for k in hw if k not in _HARDWARE]
                    + [f"measured.{k}" for k in meas if k not in ("metric", "value")])
    return SpeedCase(id=str(obj.get("id", f"line {n}")), category=cat, model=obj.get("model"), ignored=ignored,
                     gpu=gpu, count=count, gpus_per_node=per_node or 8,
                     engine=str(obj.get("engine") or "unknown"), workload=wl, metric=metric,
                     measured=float(value) if value is not None else None, line=n,
                     engine_version=_text(src.get("engine_version")), source_date=_text(src.get("date")),
                     metric_given=given)


# the metric a case without one predicts: its category's, else its task's headline number
_CATEGORY_METRIC = {"decode": "tokens_per_s", "prefill": "tokens_per_s", "serve_throughput": "output_tokens_per_s",
                    "serve_latency": "ttft_s", "train_throughput": "tokens_per_s_per_gpu", "run_gpu_hours": "gpu_hours"}
_TASK_METRIC = {"decode": "tokens_per_s", "prefill": "tokens_per_s", "serve": "output_tokens_per_s",
                "train": "tokens_per_s_per_gpu"}


def default_metric(task: str, category: Any, workload: Mapping[str, Any]) -> str:
    """The metric of a case that names none (no `measured`, or one without `metric`): its category's
    headline metric where that fits the task, else the task's (a training run with its tokens: GPU-hours)."""
    from llmsize.validate_speed_predict import metric_applies

    m = _CATEGORY_METRIC.get(category) if isinstance(category, str) else None
    if m is not None and metric_applies(task, m):
        return m
    if task == "train" and workload.get("tokens"):
        return "gpu_hours"
    return _TASK_METRIC[task]


def _text(v: Any) -> str | None:
    """A source field as text (a number such as a bare year is read as its digits), None when absent."""
    return None if v is None or isinstance(v, bool) else str(v)


def _knobs(k: Mapping[str, Any]) -> dict[str, Any]:
    """The knobs as `from_knobs` takes them (`kv-heads` or `kv_heads`, null dropped); an unknown name raises."""
    from llmsize.validate_speed_fields import knobs

    out = knobs(k)
    bad = sorted(set(out) - set(_KNOBS))
    if bad:
        raise LlmsizeError(f"unknown knob(s) {', '.join(bad)} (known: {', '.join(_KNOBS)})")
    return out


def parse_speed_cases(lines: Iterable[str], name: str = "cases") -> list[SpeedCase]:
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise LlmsizeError(f"{name}: line {n}: not valid JSON ({e.msg} at column {e.colno})") from None
        if isinstance(obj, dict) and is_speed(obj):
            out.append(parse_case(obj, n, f"{name}: line {n}"))
    return out


def model_spec(model: Any, where: str, notes: list[str] | None = None) -> Any:
    """A preset name / Hugging Face repo id, ``{"config": {...}}`` or ``{"knobs": {...}}`` -> ModelSpec."""
    return model_loaded(model, where, notes).spec


def model_loaded(model: Any, where: str, notes: list[str] | None = None) -> Any:
    """The case's model as `llmsize.load.Loaded` (its spec, and the config its stored weight format is read
    from). A name llmsize has no config for, whose base model is a preset (an -Instruct or -FP8 release
    of it), is read as that preset, said in `notes`."""
    from llmsize.load import Loaded, from_knobs, load

    if isinstance(model, str):
        try:
            return load(model)
        except LlmsizeError:
            from llmsize.validate_speed_fields import base_preset

            base = base_preset(model)
            if base is None:
                raise
            if notes is not None:
                what = f" (a {base[1]} checkpoint of the same architecture)" if base[1] else ""
                notes.append(f"model {model!r} has no config here: read as preset {base[0]}{what}")
            return load(base[0])
    if isinstance(model, Mapping) and isinstance(model.get("config"), Mapping):
        from llmsize.adapters.hf_config import spec_from_config

        cfg = dict(model["config"])
        name = str(model.get("name") or cfg.get("_name_or_path") or "config")
        return Loaded(spec=spec_from_config(cfg, name, warn=lambda m: None), origin="config", ref=name, config=cfg)
    if isinstance(model, Mapping) and isinstance(model.get("knobs"), Mapping):
        k = _knobs(model["knobs"])
        missing = [n for n in ("hidden", "layers", "heads", "vocab") if n not in k]
        if missing:
            raise LlmsizeError(f"knobs describe a model with hidden, layers, heads and vocab at least; missing "
                               f"{', '.join(missing)}")
        return Loaded(spec=from_knobs(**k), origin="knobs", ref="knobs")
    raise LlmsizeError(f"{where}: 'model' must be a preset name, a repo id, {{'config': ...}} or {{'knobs': ...}}")


_SPECS: dict[str, Any] = {}


def predict_case(case: SpeedCase, *, eff: float | None = None) -> SpeedResult:
    """Predict `case.metric` for the case's setup. ``eff`` sets every efficiency to one value (what the
    efficiency fit solves for); None takes the table's."""
    from llmsize.catalog.hardware import get_gpu
    from llmsize.validate_speed_fields import named_format
    from llmsize.validate_speed_predict import predict_metric

    where = f"line {case.line} ({case.id})"
    if case.gpu is None:
        raise LlmsizeError(f"{where}: hardware.gpu is null; a speed cannot be timed without the GPU")
    key = json.dumps(case.model, sort_keys=True)
    hit = _SPECS.get(key)
    if hit is None:
        from llmsize.quant.native import native_weights

        model_notes: list[str] = []
        try:
            loaded = model_loaded(case.model, where, model_notes)
            native = native_weights(loaded)
            if model_notes and isinstance(case.model, str) and named_format(case.model):
                native = None  # read as its base preset: that checkpoint's stored format is not this one's
            hit = _SPECS[key] = (loaded.spec, tuple(model_notes), native)
        except LlmsizeError as e:
            raise LlmsizeError(f"{where}: {e}") from None
    spec = hit[0]
    from llmsize.speedmodel.efficiency import probe, recorded

    try:
        with recorded() as used:
            if eff is None:
                value, notes = predict_metric(spec, get_gpu(case.gpu), case, native=hit[2])
            else:
                with probe(eff, case.workload["task"]):
                    value, notes = predict_metric(spec, get_gpu(case.gpu), case, native=hit[2])
    except LlmsizeError as e:
        raise LlmsizeError(f"{where}: {e}") from None
    if used:  # every default printed with its key: engine/architecture/phase, or */ where the engine has none
        rows = lambda u: f" ({u.rows} row{'s' * (u.rows > 1)})" if u.rows else ""  # noqa: E731
        notes.append("efficiency " + ", ".join(f"{u.key} = {u.value:.3g}{rows(u)}" for u in dict.fromkeys(used)))
    if not case.metric_given:
        notes.insert(0, f"measured.metric not given: {case.metric} predicted")
    if case.ignored:
        notes.insert(0, f"{', '.join(case.ignored)} not in the schema: not used")
    return SpeedResult(case=case, predicted=value, notes=hit[1] + tuple(notes))


def predict_or_error(case: SpeedCase) -> SpeedResult:
    """predict_case(case), or a result carrying the one-line reason it cannot be predicted, so one case
    never stops the rest of a file (an unexpected exception is reported as llmsize's own bug)."""
    try:
        return predict_case(case)
    except LlmsizeError as e:
        return SpeedResult(case=case, predicted=None, error=str(e))
    except Exception as e:  # noqa: BLE001  (a bug in llmsize: said for this case, the file goes on)
        return SpeedResult(case=case, predicted=None,
                           error=f"line {case.line} ({case.id}): llmsize failed ({type(e).__name__}: {str(e)[:120]}); "
                                 "please report it")


def speed_summary(results: list[SpeedResult]) -> dict[str, dict[str, float | int]]:
    """Per category (and ``all``): n predicted with a measurement, median and max |error|, share within
    ±25%, and `unpredicted`: the cases llmsize could not predict (each counts against "every case")."""
    from llmsize.validate import _pct

    groups: dict[str, list[float]] = {}
    failed: dict[str, int] = {}
    for r in results:
        for k in (r.case.category or "uncategorised", "all"):
            if r.error is not None:
                failed[k] = failed.get(k, 0) + 1
                groups.setdefault(k, [])
            elif r.rel_error is not None:
                groups.setdefault(k, []).append(abs(r.rel_error))
    return {k: {"n": len(v), "median": _pct(v, 0.5) if v else None,  # None: no case of it was predicted
                "within_25": sum(x <= 0.25 for x in v) / len(v) if v else None, "max": max(v, default=None),
                "unpredicted": failed.get(k, 0)}
            for k, v in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0]))}


def validate_speed(path: str | Path) -> tuple[list[SpeedResult], dict[str, dict[str, float | int]]]:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise LlmsizeError(f"cannot read {path}: {e.strerror}") from None
    results = [predict_or_error(c) for c in parse_speed_cases(text.splitlines(), p.name)]
    return results, speed_summary(results)


def result_row(r: SpeedResult) -> dict[str, Any]:
    return {"id": r.case.id, "kind": "speed", "category": r.case.category, "metric": r.case.metric,
            "predicted": r.predicted, "measured": r.case.measured, "rel_error": r.rel_error,
            "notes": list(r.notes), "error": r.error}
