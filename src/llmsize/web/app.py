"""The FastAPI app factory: JSON API under /api/v1, the page at /, API docs at /docs.

Uploads are data only; bodies are capped; every user error is a 422 whose `detail` a person can act
on. Every response forbids loading anything from outside this server (Content-Security-Policy).
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmsize import __version__
from llmsize.errors import LlmsizeError

MAX_BODY = 1 << 20  # bytes; a config.json is a few KB

_SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                 b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                                 b"form-action 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _TooLarge(Exception):
    pass


class Guard:
    """ASGI middleware: 413 for bodies over `limit` bytes (declared or streamed); security headers."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(msg: dict[str, Any]) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                msg = {**msg, "headers": [*msg.get("headers", []), *_SECURITY_HEADERS]}
            await send(msg)

        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._too_large(send_with_headers)
            return
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return msg

        try:
            await self.app(scope, limited, send_with_headers)
        except _TooLarge:
            if not started:
                await self._too_large(send_with_headers)

    async def _too_large(self, send: Any) -> None:
        body = json.dumps({"detail": f"request body is over {self.limit // 1024} KiB; a config.json is a few "
                                     f"KB, so send just that file"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


_TYPE_TAGS = {"int", "str", "float", "bool", "list", "dict", "none"}


def _where(loc: tuple[Any, ...]) -> str:
    """'model.knobs.hidden' from pydantic's loc, without its union-branch tags (int, constrained-str, ...)."""
    parts = [str(p) for p in loc if p != "body" and not (isinstance(p, str) and ("[" in p or "-" in p or p in _TYPE_TAGS))]
    return ".".join(parts) or "body"


def _human(errors: list[dict[str, Any]]) -> str:
    """Pydantic's error list as one sentence: 'model.knobs.hidden: must be >= 1; ...' (one clause per field)."""
    by_field: dict[str, list[str]] = {}
    for e in errors:
        t, where, msg = e.get("type", ""), _where(tuple(e.get("loc", ()))), str(e.get("msg", "invalid"))
        if t == "json_invalid":
            ctx = e.get("ctx", {}).get("error", "")
            where, msg = "body", f"not valid JSON ({ctx})" if ctx else "not valid JSON"
        elif t == "missing":
            msg = "required"
        elif t == "extra_forbidden":
            msg = "unknown field"
        msg = msg.removeprefix("Value error, ")
        if msg not in by_field.setdefault(where, []):
            by_field[where].append(msg)
    clauses = [("the request body is " + " or ".join(m) if w == "body" and m[0].startswith("not valid JSON")
                else f"{w}: {' or '.join(m)}") for w, m in by_field.items()]
    more = f" (and {len(clauses) - 5} more)" if len(clauses) > 5 else ""
    return "; ".join(clauses[:5]) + more


def _error(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def create_app() -> FastAPI:
    """A fresh app: API routes, error handlers, body cap, the page and its assets."""
    from llmsize.web import page, routes, routes_design, routes_engines, routes_plan

    try:
        from llmsize.web import routes_memory
    except ImportError:  # llmsize.memory not in this build
        routes_memory = None  # type: ignore[assignment]

    app = FastAPI(title="llmsize", version=__version__, docs_url=None, redoc_url=None,
                  description="What a transformer LLM costs before you touch a GPU. Every endpoint returns "
                              "the same JSON as the matching `llmsize ... --json` command.")

    @app.exception_handler(LlmsizeError)
    async def _llmsize_error(_: Request, e: LlmsizeError) -> JSONResponse:
        return _error(422, " ".join(str(e).split()))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        errs = list(e.errors())
        simple = [{"loc": _where(tuple(x.get("loc", ()))), "msg": str(x.get("msg", ""))} for x in errs[:20]]
        return _error(422, _human(errs), errors=simple)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> Response:
        if e.status_code == 400:  # FastAPI's "error parsing the body" (e.g. JSON nested past Python's limit)
            return _error(422, "the request body could not be read as JSON (malformed or nested too deeply)")
        return _error(e.status_code, str(e.detail), headers=e.headers)

    @app.exception_handler(RecursionError)
    async def _deep(_: Request, e: RecursionError) -> JSONResponse:
        return _error(422, "the request JSON is nested too deeply")

    @app.exception_handler(Exception)
    async def _bug(_: Request, e: Exception) -> JSONResponse:  # a bug in llmsize, not the user's input
        return _error(500, f"internal error: {type(e).__name__}: {e} (please report it with the request)")

    app.include_router(routes.router)
    app.include_router(routes_plan.router)
    app.include_router(routes_engines.router)
    app.include_router(routes_design.router)
    if routes_memory is not None:
        app.include_router(routes_memory.router)
    static = resources.files("llmsize.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    docs = static.joinpath("docs.html").read_bytes()

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:  # in the reader's language (llmsize.web.page)
        lang = page.choose(request.query_params.get("lang"), request.headers.get("accept-language"))
        return Response(page.render(lang), media_type="text/html; charset=utf-8",
                        headers={"cache-control": "no-cache", "vary": "accept-language", "content-language": lang})

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> Response:
        return Response(docs, media_type="text/html; charset=utf-8", headers={"cache-control": "no-cache"})

    app.add_middleware(Guard)
    return app
