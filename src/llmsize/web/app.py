"""The FastAPI app factory: JSON API under /api/v1, the page at /, API docs at /docs.

Uploads are data only; bodies are capped (413, chunked or not); every user error is a 422 whose
`detail` a person can act on; a report over its time budget is a 503. The server answers only to
localhost names, IP addresses and `--allow-host` names (no DNS rebinding) and refuses cross-site
Origins. Every response forbids loading anything from outside this server (Content-Security-Policy).
"""
from __future__ import annotations

import json
from importlib import resources
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from llmsize import __version__
from llmsize.bounds import JsonValueError
from llmsize.errors import LlmsizeError
from llmsize.web.budget import OverBudget

MAX_BODY = 1 << 20  # bytes; a config.json is a few KB

_SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                 b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                                 b"form-action 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


BODY_TIMEOUT = 10.0  # seconds for a client to send its body once the headers are in
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """Is `host` (a Host header or an Origin's host, port stripped) one this server answers to?

    Loopback names, any IP literal (a DNS-rebinding page can only send a *name* it controls) and the
    names given with `--allow-host` (and the bound address) pass; any other name is refused, so a web
    page elsewhere whose name was re-pointed at 127.0.0.1 gets nothing."""
    import ipaddress

    h = host.strip().lower().rstrip(".")
    if h.startswith("["):
        h = h[1:h.find("]")] if "]" in h else h
    elif h.count(":") == 1:
        h = h.split(":")[0]
    if not h:
        return False
    if h in allowed or h in LOCAL_NAMES or h.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(h)
        return True
    except ValueError:
        return False


class Guard:
    """ASGI middleware in front of the app: the Host allow-list and a cross-site Origin check, unknown
    query parameters refused, the body read in full (413 over `limit` bytes, declared or chunked; 408
    when a client stalls), and security headers on every response."""

    def __init__(self, app: Any, limit: int = MAX_BODY, allow_hosts: frozenset[str] = frozenset(),
                 queries: dict[str, frozenset[str]] | None = None) -> None:
        self.app, self.limit, self.allow_hosts, self.queries = app, limit, allow_hosts, queries
        self.replies = Replies()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                msg = {**msg, "headers": [*msg.get("headers", []), *_SECURITY_HEADERS]}
            await send(msg)

        refusal = self._refusal(scope)
        if refusal is not None:
            await _reply(send_with_headers, *refusal)
            return
        body = b""
        if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            got = await self._read_body(receive)
            if isinstance(got, tuple):
                await _reply(send_with_headers, *got)
                return
            body = got
            key = self.replies.key(scope, body)
            hit = self.replies.get(key)
            if hit is not None:  # the same request bytes as an earlier report: its answer, as it was sent
                await _send_json(send_with_headers, 200, hit)
                return
            await self.replies.record(key, self._call(scope, body, receive, send_with_headers))
            return
        await self._call(scope, body, receive, send_with_headers)

    async def _call(self, scope: dict[str, Any], body: bytes, receive: Any, send: Any) -> int:
        """The app on `body` (already read in full); the response status."""
        sent, status = False, 0

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # http.disconnect, when the client goes

        async def send_seen(msg: dict[str, Any]) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            await send(msg)

        await self.app(scope, replay, send_seen)
        return status

    def _refusal(self, scope: dict[str, Any]) -> tuple[int, str] | None:
        headers = dict(scope.get("headers", []))
        trusted = scope.get("client") and scope["client"][0] == "testclient"  # in-process tests, no socket
        host = headers.get(b"host", b"").decode("latin-1")
        if not (trusted and host == "testserver") and not host_allowed(host, self.allow_hosts):
            return 400, (f"this server does not answer to the host name {host[:80]!r}; it answers to localhost, "
                         f"IP addresses and names given with `llmsize serve --allow-host NAME`")
        origin = headers.get(b"origin", b"").decode("latin-1")
        if origin and origin != "null":
            o_host = origin.split("://", 1)[-1].split("/", 1)[0]
            if o_host.lower() != host.lower() and not host_allowed(o_host, self.allow_hosts):
                return 403, f"requests from web pages at {origin[:80]!r} are not accepted"
        path = scope.get("path", "")
        if self.queries is not None and path.startswith("/api/") and scope.get("query_string"):
            from urllib.parse import parse_qsl

            names = {k for k, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)}
            known = self.queries.get(path, frozenset())
            unknown = sorted(names - known)
            if unknown:
                takes = ", ".join(sorted(known)) or "none"
                return 422, f"unknown query parameter {unknown[0][:40]!r} (this endpoint takes: {takes})"
        declared = headers.get(b"content-length")
        # ASCII digits, and no more of them than a byte count has, before int() (which refuses > 4,300 digits)
        if declared is not None and (not declared.isdigit() or len(declared) > 18 or int(declared) > self.limit):
            return 413, self._too_large()
        return None

    async def _read_body(self, receive: Any) -> bytes | tuple[int, str]:
        import asyncio

        chunks, seen, more = [], 0, True
        while more:
            try:
                msg = await asyncio.wait_for(receive(), BODY_TIMEOUT)
            except asyncio.TimeoutError:
                return 408, f"the request body did not arrive within {BODY_TIMEOUT:g} s"
            if msg["type"] != "http.request":  # the client went away
                return 400, "the client disconnected before sending its body"
            chunk = msg.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                return 413, self._too_large()
            chunks.append(chunk)
            more = msg.get("more_body", False)
        return b"".join(chunks)

    def _too_large(self) -> str:
        return (f"request body is over {self.limit // 1024} KiB (chunked or not); a config.json is a few KB, so "
                f"send just that file")


async def _reply(send: Any, status: int, detail: str) -> None:
    await _send_json(send, status, json.dumps({"detail": detail}).encode(), close=status in (408, 413, 400))


async def _send_json(send: Any, status: int, body: bytes, close: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Replies:
    """Answers of pure reports by the exact request that asked (method, path, query, content type and
    body bytes, hashed): a repeated request is answered from here, after the Host, Origin, query and
    size checks, without parsing or validating it again. Only a 200 whose body a report route served
    through `llmsize.web.routes.cached` is kept (never an error, never an answer cut off)."""

    SIZE = 512

    def __init__(self) -> None:
        from collections import OrderedDict

        self.answers: OrderedDict[bytes, bytes] = OrderedDict()

    @staticmethod
    def key(scope: dict[str, Any], body: bytes) -> bytes:
        import hashlib

        ctype = next((v for k, v in scope.get("headers", []) if k == b"content-type"), b"")
        h = hashlib.blake2b(digest_size=32)
        for part in (scope.get("method", "").encode(), scope.get("path", "").encode("utf-8", "surrogateescape"),
                     scope.get("query_string", b""), ctype):
            h.update(len(part).to_bytes(8, "little") + part)
        h.update(body)
        return h.digest()

    def get(self, key: bytes) -> bytes | None:
        hit = self.answers.get(key)
        if hit is not None:
            self.answers.move_to_end(key)
        return hit

    async def record(self, key: bytes, call: Any) -> None:
        """Run `call` (the app answering) and keep its answer if it was a report served whole."""
        from llmsize.web.routes import ANSWERED

        served: list[bytes] = []
        token = ANSWERED.set(served)
        try:
            status = await call
        finally:
            ANSWERED.reset(token)
        if status == 200 and len(served) == 1:
            self.answers[key] = served[0]
            if len(self.answers) > self.SIZE:
                self.answers.popitem(last=False)


_TYPE_TAGS = {"int", "str", "float", "bool", "list", "dict", "none"}


def _where(loc: tuple[Any, ...]) -> str:
    """'model.knobs.hidden' from pydantic's loc, without its union-branch tags (int, constrained-str, ...)."""
    parts = [str(p) for p in loc if p != "body" and not (isinstance(p, str) and ("[" in p or "-" in p or p in _TYPE_TAGS))]
    return ".".join(parts) or "body"


def _located(e: dict[str, Any]) -> tuple[str, str]:
    """(field path, message) of one pydantic error; a bad value deep inside free-form JSON (a config's
    lone surrogate, a NaN) is placed at its own path, not at the body that held it."""
    where, msg = _where(tuple(e.get("loc", ()))), str(e.get("msg", "invalid"))
    err = (e.get("ctx") or {}).get("error")
    if isinstance(err, JsonValueError):
        inner = err.path
        where, msg = (inner if where == "body" else f"{where}.{inner}") if inner else where, err.reason
    return where, msg.removeprefix("Value error, ")


def _human(errors: list[dict[str, Any]]) -> str:
    """Pydantic's error list as one sentence: 'model.knobs.hidden: must be >= 1; ...' (one clause per field)."""
    by_field: dict[str, list[str]] = {}
    for e in errors:
        t = e.get("type", "")
        where, msg = _located(e)
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


_ERROR_SCHEMA = {
    "title": "Error", "type": "object", "required": ["detail"],
    "properties": {"detail": {"type": "string", "description": "One sentence a person can act on."},
                   "errors": {"type": "array", "maxItems": 20, "description": "Per field, for invalid bodies.",
                              "items": {"type": "object", "required": ["loc", "msg"],
                                        "properties": {"loc": {"type": "string"}, "msg": {"type": "string"}}}}}}
_ERRORS = {"400": "Host not allowed, or the client went away", "403": "Cross-site request (Origin) refused",
           "408": "The body did not arrive in time", "413": "Body over 1 MiB (chunked or not)",
           "422": "Invalid input: the field and what is accepted", "503": "Over the time budget or busy; retry"}


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI schema says what the server answers: every error is {detail, errors?} (not
    FastAPI's default validation shape), with the statuses Guard and the budget add."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            spec.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR_SCHEMA
            for k in ("HTTPValidationError", "ValidationError"):
                spec["components"]["schemas"].pop(k, None)
            ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            for ops in spec.get("paths", {}).values():
                for method, op in ops.items():
                    codes = _ERRORS if method == "post" else {k: v for k, v in _ERRORS.items() if k in ("400", "422")}
                    for code, what in codes.items():
                        op.setdefault("responses", {})[code] = {"description": what, "content": ref}
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(allow_hosts: Iterable[str] = ()) -> FastAPI:
    """A fresh app: API routes, error handlers, body cap, the page and its assets. `allow_hosts`: host
    names to answer to besides localhost and IP addresses (`llmsize serve --allow-host`)."""
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
        simple = [dict(zip(("loc", "msg"), _located(x))) for x in errs[:20]]
        return _error(422, _human(errs), errors=simple)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> Response:
        if e.status_code == 400:  # FastAPI's "error parsing the body" (e.g. JSON nested past Python's limit)
            return _error(422, "the request body could not be read as JSON (malformed or nested too deeply)")
        return _error(e.status_code, str(e.detail), headers=e.headers)

    @app.exception_handler(RecursionError)
    async def _deep(_: Request, e: RecursionError) -> JSONResponse:
        return _error(422, "the request JSON is nested too deeply")

    @app.exception_handler(OverBudget)
    async def _over_budget(_: Request, e: OverBudget) -> JSONResponse:
        return _error(503, e.detail, headers={"retry-after": str(e.retry_after)})

    @app.exception_handler(MemoryError)
    async def _memory(_: Request, e: MemoryError) -> JSONResponse:
        return _error(503, "this calculation needed more memory than the server's budget; try a smaller model")

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

    _document_errors(app)
    # the query parameters each API path declares in its OpenAPI schema; any other is refused
    queries = {path: frozenset(p["name"] for op in ops.values() for p in op.get("parameters", []) if p["in"] == "query")
               for path, ops in app.openapi()["paths"].items()}
    app.add_middleware(Guard, allow_hosts=frozenset(h.lower().strip("[]") for h in allow_hosts), queries=queries)
    # responses a browser accepts gzip for are sent compressed: the page's scripts and the GPU catalog (140
    # GPUs with sources) shrink 3-5x on the wire (Starlette's middleware; nothing new to install)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    return app
