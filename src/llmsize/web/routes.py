"""The /api/v1 endpoints. Each one resolves the model and calls a library report function; the
dict it returns is exactly what the matching CLI command prints with `--json`."""
from __future__ import annotations

import json
from collections import Counter, OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from llmsize import __version__
from llmsize.errors import LlmsizeError
from llmsize.bounds import finite_result
from llmsize.web import schemas as S
from llmsize.web.budget import within_budget
from llmsize.web.resolve import resolve

router = APIRouter(prefix="/api/v1")


class Compact(JSONResponse):
    """JSON without spaces (the page parses it; people read the CLI's indented output)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


_RESULTS: OrderedDict[str, bytes] = OrderedDict()
# Guard (llmsize.web.app) sets a list here per request; `cached` appends the answer it served, which
# tells Guard the response is a pure report it may replay for the same request bytes.
ANSWERED: ContextVar[list[bytes] | None] = ContextVar("llmsize_answered", default=None)


SLOW = {"quant", "plan", "fit", "speed", "cost", "design", "compare", "whatif"}  # reports that can take 100 ms to seconds


def request_key(body: Any) -> str:
    """A validated request as canonical text: sorted keys, ASCII escapes (a lone surrogate in a config
    key or value is text here, not an encoding error)."""
    return json.dumps(body.model_dump(mode="python"), sort_keys=True, ensure_ascii=True, default=repr,
                      separators=(",", ":"))


async def cached(kind: str, body: Any, compute: Callable[[], dict[str, Any]]) -> Response:
    """The report for `body`, computed once: reports are pure functions of the request, and the
    page asks the same question again whenever a user steps back to an earlier input. Quick reports
    (about a millisecond) and slow ones run in separate worker threads, so slow ones do not hold up
    quick answers to other requests, each within the per-request time budget (llmsize.web.budget).
    The key is built from the validated request (never a serialisation that can fail)."""
    key = kind + request_key(body)
    hit = _RESULTS.get(key)
    if hit is None:
        hit = await within_budget(lambda: Compact(finite_result(compute())).body, slow=kind in SLOW)
        _RESULTS[key] = hit
        if len(_RESULTS) > 512:
            _RESULTS.popitem(last=False)
    else:
        _RESULTS.move_to_end(key)
    slot = ANSWERED.get()
    if slot is not None:
        slot.append(hit)
    return Response(hit, media_type="application/json")


def _has(mod: str, attr: str | None = None) -> bool:
    import importlib

    try:
        m = importlib.import_module(mod)
    except ImportError:
        return False
    return attr is None or hasattr(m, attr)


@lru_cache(maxsize=1)
def _meta() -> dict[str, Any]:
    """Which parts of the library this install has (they land independently) and the choices each offers."""
    memory = _has("llmsize.memory", "estimate")
    sections = {"params": True, "memory": memory and _has("llmsize.memory.report", "memory_report"),
                "quant": _has("llmsize.quant.planner", "plan_quant"),
                "plan": memory and _has("llmsize.planner", "plan_report"), "cost": memory and _has("llmsize.planner"),
                "design": _has("llmsize.design.report")}
    options: dict[str, Any] = {}
    if sections["quant"]:
        from llmsize.quant.formats import LISTED, get_format
        from llmsize.quant.kv import KV_DTYPES

        options["formats"] = [{"key": get_format(k).key, "label": get_format(k).label} for k in LISTED]
        options["kv_dtypes"] = list(KV_DTYPES)
    if _has("llmsize.planner.jobs"):
        from llmsize.planner import jobs

        options["train_precisions"] = list(jobs.TRAIN_PRECISIONS)
        options["serve_weights"] = list(jobs.SERVE_WEIGHTS)
    return {"version": __version__, "api": "v1", "sections": sections, "options": options}


@router.get("/meta", summary="Version, the sections this server offers and their choices")
async def meta() -> Compact:
    return Compact(_meta())


@router.get("/models", summary="Preset models (as `llmsize models [SEARCH] --json`)")
async def models(q: str | None = Query(None, max_length=200, description="Filter names and repos, case-insensitive.")
           ) -> Compact:
    from llmsize.catalog.presets import models_report

    return Compact(models_report(q))


@router.get("/presets", summary="Presets with their sizes, for the page's search box")
async def presets_with_sizes() -> Compact:
    return Compact({"presets": await run_in_threadpool(_preset_sizes)})


@lru_cache(maxsize=1)
def _preset_sizes() -> list[dict[str, Any]]:
    from llmsize.api import params_report
    from llmsize.catalog.presets import presets

    out = []
    for p in presets():
        try:
            loaded = resolve(S.ModelRef(preset=p.name))
            rep, moe = params_report(loaded), loaded.spec.moe is not None
        except LlmsizeError:  # a catalog entry the adapter cannot read yet: still listed, without a size
            rep, moe = {"total_params": None, "active_params": None}, False
        total, active = rep["total_params"], rep["active_params"]
        out.append({"name": p.name, "repo": p.repo, "family": p.family, "total_params": total,
                    "active_params": active, "moe": moe,
                    "params": _short(total) + (f" ({_short(active)} active)" if moe else "")})
    return out


def _short(n: int | None) -> str:
    if n is None:
        return "?"
    for div, suf in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if n >= div:
            v = n / div
            return f"{v:.0f}{suf}" if v >= 100 else f"{v:.1f}{suf}" if v >= 10 else f"{v:.2f}{suf}"
    return str(n)


@router.post("/spec", summary="The model spec the formulas read (architecture facts, no computed numbers)")
async def spec(body: S.ModelBody) -> Response:
    return await cached("spec", body, lambda: _spec_dict(resolve(body.model)))


def _spec_dict(loaded: Any) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(loaded.spec)
    for k in ("moe_layers", "layer_types"):  # per-layer lists: as counts, the page shows no more
        d[k] = dict(Counter(str(v).lower() for v in d[k]))
    d["origin"] = loaded.origin
    from llmsize.quant.native import native_weights

    d["weights"] = native_weights(loaded).as_dict()  # the checkpoint's own format: the Weights menu's default
    return d


@router.post("/params", summary="Exact parameter count (as `llmsize params --json`)")
async def params(body: S.ModelBody) -> Response:
    from llmsize.api import params_report

    return await cached("params", body, lambda: params_report(resolve(body.model)))


@router.post("/quant", summary="Weight formats: bytes, fit, max context, speed bound, quality (as `llmsize quant --json`)")
async def quant(body: S.QuantBody) -> Response:
    def run() -> dict[str, Any]:
        from llmsize.quant.report import check_options, qlora_report, quant_report

        from llmsize.context import check_context, default_tokens

        check_options(qlora=body.qlora, gpu=body.gpu, formats=body.formats, kv=body.kv_cache_dtype,
                      tensors=body.tensors, rank=body.lora_r, adapter_dtype=body.adapter_dtype)
        loaded = resolve(body.model)
        context = body.seq_len
        if context is not None:
            check_context(loaded, context, allow_long=body.allow_long_context, what=f"seq_len {context:,}",
                          flag="allow_long_context")
        elif not body.qlora:
            context = default_tokens(loaded, 1024, 0)[0]
        if body.qlora:
            return qlora_report(loaded.spec, rank=64 if body.lora_r is None else body.lora_r,
                                adapter_dtype=body.adapter_dtype or "fp32", context=context, batch=body.batch,
                                gpu=body.gpu)
        return quant_report(loaded, gpu=body.gpu, context=context, kv=body.kv_cache_dtype or "bf16",
                            formats=body.formats, batch=body.batch, tensors=body.tensors)

    return await cached("quant", body, run)
