"""A small bounded load run on loopback (bench/bench_web.py does the full 20,000): no errors, every
request answered. Latency is printed and saved, not asserted: CI machines are shared."""
from __future__ import annotations

import asyncio
import json

from .conftest import ARTIFACTS, live_server
from script_render import load_script


def test_bounded_load_has_no_errors():
    bench = load_script("bench/bench_web.py")
    with live_server() as url:
        port = int(url.rsplit(":", 1)[1])
        path = "/api/v1/params"
        lat, errors, wall = asyncio.run(bench.load(port, path, bench.BODIES[path], 2000, 32))
    assert not errors, errors[:5]
    assert len(lat) == 2000
    lat.sort()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps({"requests": len(lat), "seconds": wall,
                                                      "p50_ms": 1000 * lat[len(lat) // 2],
                                                      "p99_ms": 1000 * lat[int(0.99 * len(lat))]}))
