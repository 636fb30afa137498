"""`llmsize serve`: the web calculator (needs the `web` extra). fastapi is imported only here."""
from __future__ import annotations

import threading
import time
import webbrowser

import click

from llmsize.errors import LlmsizeError


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 exposes the calculator to your network).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in your web browser.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer to this host name (repeatable); localhost and IP addresses always work, other "
                   "names are refused so web pages cannot reach the server by DNS rebinding.")
@click.option("--memory-limit", default="4GiB", show_default=True, metavar="SIZE",
              help="Memory (data) limit of the server process: a request needing more is refused (503), "
                   "never killed by the kernel.")
def serve_cmd(host: str, port: int, open_browser: bool, allow_hosts: tuple[str, ...], memory_limit: str) -> None:
    """Serve the web calculator: one page and a JSON API (/api/v1, docs at /docs).

    Slow clients are dropped after 10 s, bodies are capped at 1 MiB, and each calculation has a
    5 s budget.

    \b
    Examples:
      llmsize serve
      llmsize serve --port 8080 --open
      llmsize serve --host 0.0.0.0 --allow-host mybox.lan
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ModuleNotFoundError as e:
        raise LlmsizeError(f"`llmsize serve` needs the web extra ({e.name} is not installed): "
                           f"pip install 'llmsize[web]'") from None
    from llmsize.catalog.hardware import parse_bytes
    from llmsize.web import server as web_server
    from llmsize.web.app import create_app

    for name in allow_hosts:
        if not name.strip() or any(c in name for c in "/ @?#"):
            raise LlmsizeError(f"--allow-host: {name!r} is not a host name (give a name such as mybox.lan)")
    limit = parse_bytes(memory_limit, "--memory-limit")
    if limit < 512 << 20:
        raise LlmsizeError(f"--memory-limit: {memory_limit} is too small for the server (at least 512MiB)")
    _limit_memory(limit)
    bound = () if host in ("0.0.0.0", "::", "") else (host,)
    server = uvicorn.Server(web_server.config(create_app(allow_hosts=(*allow_hosts, *bound)), host, port))
    shown = "[" + host + "]" if ":" in host else host

    def announce() -> None:
        for _ in range(200):  # wait for the socket, at most 10 s
            if server.started:
                bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
                url = f"http://{shown}:{bound}/"
                click.echo(f"llmsize serving on {url}  (API docs: {url}docs; Ctrl-C stops)", err=True)
                if open_browser:
                    webbrowser.open(url)
                return
            time.sleep(0.05)

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind
        pass
    if not server.started:
        raise LlmsizeError(f"could not listen on {host}:{port} (in use? try --port)")


def _limit_memory(limit: int) -> None:
    """Cap this process's data memory (heap and anonymous maps), so a runaway allocation is a MemoryError (answered 503)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard == resource.RLIM_INFINITY or limit <= hard:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    except (ImportError, ValueError, OSError):  # not on this platform: bounds still hold
        pass


COMMANDS = [serve_cmd]
