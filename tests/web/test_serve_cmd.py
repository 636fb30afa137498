"""`llmsize serve`: serves the page; without the web extra it says how to install it (one line, exit 2)."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

from .conftest import free_port


def test_serve_without_fastapi_says_how_to_install():
    code = "import sys; sys.modules['fastapi'] = None\nfrom llmsize.cli import main\nmain(['serve'])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "pip install 'llmsize[web]'" in lines[0], r.stderr


def test_cli_import_and_help_do_not_import_fastapi():
    code = ("import sys\nfrom llmsize.cli import main\ntry:\n main(['--help'])\nexcept SystemExit: pass\n"
            "print('fastapi' in sys.modules, 'uvicorn' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "serve" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "False False", r.stdout


def test_serve_serves_the_page_and_api():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from llmsize.cli import main; main()", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read().decode()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        assert "<title>llmsize" in page
        meta = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/meta", timeout=5).read()
        assert b'"api":"v1"' in meta
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert f"http://127.0.0.1:{port}/" in (proc.stderr.read() if proc.stderr else "")


def test_serve_on_a_busy_port_says_so_and_exits_2():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "serve", "--port", str(port)],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "could not listen" in r.stderr.splitlines()[-1]
