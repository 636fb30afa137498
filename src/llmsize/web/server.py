"""The uvicorn server `llmsize serve` runs: slow clients are dropped, headers are capped.

uvicorn (0.55) arms a timer only between requests (keep-alive), so a client that sends half a
request line, half the headers or half the body holds its connection forever. `DeadlineProtocol`
gives each request READ_TIMEOUT seconds from its first byte (or from the connection's start, or the
last response) until its body is complete, and closes the connection when that passes; headers over
MAX_HEADER_BYTES are a 431. The app's own time budget starts once the request is read
(llmsize.web.budget).
"""
from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

READ_TIMEOUT = 10.0  # seconds to send one whole request (a config.json is a few KB)
MAX_HEADER_BYTES = 64 * 1024
MAX_CONNECTIONS = 512  # uvicorn answers 503 beyond this many open connections and tasks


class DeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a read deadline per request and a cap on header bytes."""

    _deadline: asyncio.TimerHandle | None = None
    _head_bytes = 0  # request line and headers of the current request, as parsed
    _raw_bytes = 0  # bytes received since the last complete head
    _in_headers = True
    _too_big = False

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(READ_TIMEOUT, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport is not None and not self.transport.is_closing():
            if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
                self.transport.close()

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            self._raw_bytes += len(data)
            if self._raw_bytes > 4 * MAX_HEADER_BYTES:  # a head still unfinished after 256 KiB
                self._too_big = True
                self.send_400_response("")
                return
        super().data_received(data)

    def _count(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > MAX_HEADER_BYTES:
            self._too_big = True
            raise ValueError("request head too large")  # httptools: a parser error; answered 431 below

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if not self._too_big:
            super().send_400_response(msg)
            return
        self._disarm()
        self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                             b"connection: close\r\n\r\n")
        self.transport.close()

    def on_message_begin(self) -> None:
        if self._deadline is None:
            self._arm()
        self._in_headers, self._head_bytes = True, 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_headers, self._raw_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()  # the request is read; the app's budget governs the rest
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport is not None and not self.transport.is_closing():
            self._arm()  # the next request on this keep-alive connection gets its own deadline


def config(app: Any, host: str, port: int, **kw: Any) -> Any:
    """A uvicorn Config for `app` with the deadline protocol and a connection cap."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, http=DeadlineProtocol, log_level="warning", access_log=False,
                          limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                          **kw)


def spawn(port: int, *, setup: str = "", allow_hosts: tuple[str, ...] = (), env: dict[str, str] | None = None,
          wait_s: float = 30) -> Any:
    """This server stack (Guard, deadlines) in a child process on 127.0.0.1:port, returned once it
    answers /api/v1/meta (for tests and bench; `setup` is Python run first, e.g. shorter timeouts)."""
    import subprocess
    import sys
    import time
    import urllib.request

    code = (f"import llmsize.web.server as s, llmsize.web.app as a, uvicorn; {setup + '; ' if setup else ''}"
            f"uvicorn.Server(s.config(a.create_app(allow_hosts={allow_hosts!r}), '127.0.0.1', {port})).run()")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/meta", timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the server did not start") from None
            time.sleep(0.1)
