"""Fixtures for the web calculator: an in-process test client, the CLI's --json, a live server."""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"


@pytest.fixture(scope="session")
def client():
    from fastapi.testclient import TestClient

    from llmsize.web.app import create_app

    with TestClient(create_app()) as c:
        yield c


def cli_json(*args: str, stdin: str | None = None) -> dict:
    """Run `llmsize ARGS --json` in this process and parse what it prints."""
    from llmsize.cli import main

    out = io.StringIO()
    old_stdin = sys.stdin
    try:
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as e:
            main([*args, "--json"])
    finally:
        sys.stdin = old_stdin
    assert e.value.code == 0, out.getvalue()
    return json.loads(out.getvalue())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server():
    """uvicorn in a subprocess on a free loopback port; yields the base URL."""
    port = free_port()
    code = ("import uvicorn; from llmsize.web.app import create_app; "
            f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/api/v1/meta", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise RuntimeError(f"the test server did not start: {out}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
