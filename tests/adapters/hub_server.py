"""A local stand-in for the Hugging Face Hub's endpoints (model info, resolve with HTTP ranges), serving
repos from fixtures whose big files are virtual: a real header followed by zeros up to the file's size.
It counts the bytes it sends, so a test can prove that only headers travel."""
from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class VFile:
    head: bytes
    size: int  # the file's full size; bytes past `head` read as zeros

    def read(self, start: int, end: int) -> bytes:  # [start, end)
        end = min(end, self.size)
        body = self.head[start:end]
        return body + b"\0" * max(0, end - max(start, len(self.head)))


@dataclass
class Repo:
    files: dict[str, VFile]
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    gated: bool = False
    revisions: tuple[str, ...] = ("main",)


@dataclass
class Hub:
    repos: dict[str, Repo] = field(default_factory=dict)
    bytes_sent: int = 0
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def serve(hub: Hub) -> tuple[ThreadingHTTPServer, str]:
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
                with hub.lock:
                    hub.bytes_sent += len(body)

        def _repo(self, rid: str, rev: str | None) -> Repo | None:
            repo = hub.repos.get(rid)
            if repo is None:
                self._send(404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
                return None
            if repo.gated and "authorization" not in {k.lower() for k in self.headers}:
                self._send(401, b'{"error":"gated"}', {"X-Error-Code": "GatedRepo",
                                                       "X-Error-Message": "Access to model is restricted"})
                return None
            if rev is not None and rev not in repo.revisions and rev != repo.sha:
                self._send(404, b'{"error":"Invalid rev id"}', {"X-Error-Code": "RevisionNotFound"})
                return None
            return repo

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            with hub.lock:
                hub.requests.append(f"{self.command} {self.path} {self.headers.get('range', '')}")
            path = self.path.split("?")[0]
            m = re.match(r"^/api/models/([^/]+/[^/]+)(?:/revision/(.+))?$", path)
            if m:
                repo = self._repo(m[1], m[2])
                if repo is None:
                    return
                info = {"id": m[1], "modelId": m[1], "sha": repo.sha, "private": False, "gated": repo.gated,
                        "siblings": [{"rfilename": f} for f in repo.files]}
                self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"})
                return
            m = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
            if not m:
                self._send(404, b"{}")
                return
            repo = self._repo(m[1], m[2])
            if repo is None:
                return
            f = repo.files.get(m[3])
            if f is None:
                self._send(404, b'{"error":"Entry not found"}', {"X-Error-Code": "EntryNotFound"})
                return
            etag = hashlib.sha256(f.head + str(f.size).encode()).hexdigest()
            headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
            rng = self.headers.get("range")
            if rng:
                a, _, b = rng.removeprefix("bytes=").partition("-")
                start, end = int(a), min(int(b) + 1 if b else f.size, f.size)
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{f.size}"
                self._send(206, f.read(start, end), headers)
            elif self.command == "HEAD":
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(f.size))
                self.end_headers()
            else:
                self._send(200, f.read(0, f.size), headers)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"
