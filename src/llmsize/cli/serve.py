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
def serve_cmd(host: str, port: int, open_browser: bool) -> None:
    """Serve the web calculator: one page and a JSON API (/api/v1, docs at /docs).

    \b
    Examples:
      llmsize serve
      llmsize serve --port 8080 --open
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ModuleNotFoundError as e:
        raise LlmsizeError(f"`llmsize serve` needs the web extra ({e.name} is not installed): "
                           f"pip install 'llmsize[web]'") from None
    from llmsize.web.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(), host=host, port=port, log_level="warning",
                                           access_log=False))
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


COMMANDS = [serve_cmd]
