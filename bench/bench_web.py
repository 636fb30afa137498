"""Bounded load test of the web API on loopback: N requests over C keep-alive connections.

Starts `uvicorn` (the app from llmsize.web) as a subprocess on 127.0.0.1 and a free port, sends
--requests POSTs of one inference estimate from --concurrency connections with a small asyncio
HTTP/1.1 client, then stops the server. Target (issue 7): zero errors, p99 under 50 ms.

Run: python bench/bench_web.py [--requests 20000] [--concurrency 64] [--path /api/v1/infer]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

BODIES = {
    "/api/v1/infer": {"model": {"preset": "Llama-3.1-8B"}, "context": 8192, "new_tokens": 512, "batch": 1,
                      "gpu": "H100"},
    "/api/v1/params": {"model": {"preset": "Llama-3.1-8B"}},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen[bytes]:
    """`llmsize serve`'s stack (Guard, read deadlines) on loopback, once it answers."""
    from llmsize.web.server import spawn

    try:
        return spawn(port)
    except RuntimeError as e:
        raise SystemExit(str(e)) from None


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(v) for k, _, v in (ln.partition(":") for ln in lines[1:]) if k.lower() == "content-length")
    return status, await reader.readexactly(length)


async def worker(port: int, requests: list[bytes], lat: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            t = time.perf_counter()
            writer.write(request)
            try:
                status, body = await asyncio.wait_for(_read_response(reader), timeout=10)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError) as e:
                errors.append(type(e).__name__)
                return
            lat.append(time.perf_counter() - t)
            if status != 200:
                errors.append(f"{status}: {body[:200]!r}")
    finally:
        writer.close()


def _request(port: int, path: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload


async def load(port: int, path: str, body: dict, total: int, conc: int, *, distinct: bool = False,
               offset: int = 0) -> tuple[list[float], list[str], float]:
    """`total` requests over `conc` keep-alive connections; with `distinct`, request i asks for batch
    offset + i + 1, so every answer is computed rather than served from the server's cache."""
    same = _request(port, path, body)
    reqs = [_request(port, path, {**body, "batch": offset + i + 1}) if distinct else same for i in range(total)]
    lat: list[float] = []
    errors: list[str] = []
    t = time.perf_counter()
    await asyncio.gather(*(worker(port, reqs[i::conc], lat, errors) for i in range(conc)))
    return lat, errors, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--path", default=None, help="endpoint (default: /api/v1/infer when the server has it)")
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--distinct", action="store_true",
                    help="vary the batch size in every request so no two are the same (no server cache hits)")
    a = ap.parse_args()
    if not 1 <= a.concurrency <= 1024 or not 1 <= a.requests <= 1_000_000:
        raise SystemExit("--requests 1..1e6, --concurrency 1..1024")
    port = _free_port()
    proc = start_server(port)
    try:
        sections = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/meta"))["sections"]
        path = a.path or ("/api/v1/infer" if sections.get("memory") else "/api/v1/params")
        body = BODIES[path]
        asyncio.run(load(port, path, body, a.warmup, min(a.concurrency, a.warmup), distinct=a.distinct,
                         offset=a.requests))
        lat, errors, wall = asyncio.run(load(port, path, body, a.requests, a.concurrency, distinct=a.distinct))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lat.sort()
    q = lambda p: 1000 * lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"server and client on loopback")
    print(f"POST {path} {json.dumps(body)}" + (" with batch 1..N (every request distinct, computed)"
                                                if a.distinct else " (the same request each time)"))
    print(f"{len(lat):,} responses in {wall:.2f} s from {a.concurrency} connections: {len(lat) / wall:,.0f} req/s")
    print(f"latency ms: p50 {q(.50):.2f}  p90 {q(.90):.2f}  p99 {q(.99):.2f}  max {1000 * lat[-1]:.2f}  "
          f"mean {1000 * statistics.fmean(lat):.2f}")
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    ok = not errors and len(lat) == a.requests and q(.99) < 50
    print("target (zero errors, p99 < 50 ms):", "met" if ok else "NOT met")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
