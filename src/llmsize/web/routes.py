"""The /api/v1 endpoints. Each one resolves the model and calls a library report function; the
dict it returns is exactly what the matching CLI command prints with `--json`."""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from llmsize import __version__
from llmsize.web import schemas as S
from llmsize.web.resolve import resolve

router = APIRouter(prefix="/api/v1")


class Compact(JSONResponse):
    """JSON without spaces (the page parses it; people read the CLI's indented output)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _sections() -> dict[str, bool]:
    """Which parts of the library this install has (parts land independently)."""
    import importlib.util

    def has(mod: str) -> bool:
        try:
            return importlib.util.find_spec(mod) is not None
        except ModuleNotFoundError:
            return False

    return {"params": True}


@router.get("/meta", summary="Version and the sections this server offers")
async def meta() -> Compact:
    return Compact({"version": __version__, "api": "v1", "sections": _sections()})


@router.get("/models", summary="Preset models (as `llmsize models [SEARCH] --json`)")
async def models(q: str | None = Query(None, max_length=200, description="Filter names and repos, case-insensitive.")
           ) -> Compact:
    from llmsize.catalog.presets import presets

    rows = [p for p in presets() if not q or q.lower() in (p.name + " " + p.repo).lower()]
    return Compact({"models": [{"name": p.name, "repo": p.repo, "family": p.family, "source": p.source,
                                "retrieved": p.retrieved, "verbatim": p.verbatim} for p in rows]})


@router.post("/params", summary="Exact parameter count (as `llmsize params --json`)")
async def params(body: S.ModelBody) -> Compact:
    from llmsize.api import params_report

    return Compact(params_report(resolve(body.model)))
