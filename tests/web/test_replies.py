"""Repeated requests answered from Guard's reply cache (bench p99 target): the same bytes as the first
answer, after every check (Host, Origin, query, size), and only for reports served whole."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")

BODY = json.dumps({"model": {"preset": "gpt2"}}).encode()
HEAD = {"content-type": "application/json"}


@pytest.fixture()
def fresh(monkeypatch):
    from fastapi.testclient import TestClient

    from llmsize.web import routes
    from llmsize.web.app import create_app

    monkeypatch.setattr(routes, "_RESULTS", type(routes._RESULTS)())
    with TestClient(create_app()) as c:
        yield c


def _boom(*a, **k):
    raise AssertionError("computed again")


def test_a_repeated_request_is_replayed_without_parsing_or_computing(fresh, monkeypatch):
    import llmsize.api
    from llmsize.web import routes

    first = fresh.post("/api/v1/params", content=BODY, headers=HEAD)
    assert first.status_code == 200
    routes._RESULTS.clear()  # the route's own cache gone: only the reply cache can answer now
    monkeypatch.setattr(llmsize.api, "params_report", _boom)
    again = fresh.post("/api/v1/params", content=BODY, headers=HEAD)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["content-type"] == "application/json"
    assert "default-src 'self'" in again.headers["content-security-policy"]  # security headers on replays too
    # other bytes are another request: computed (and here, failing on purpose)
    with pytest.raises(AssertionError, match="computed again"):
        fresh.post("/api/v1/params", content=BODY + b" ", headers=HEAD)


def test_checks_run_before_a_replay(fresh):
    assert fresh.post("/api/v1/params", content=BODY, headers=HEAD).status_code == 200
    bad_host = fresh.post("/api/v1/params", content=BODY, headers={**HEAD, "host": "evil.example"})
    assert bad_host.status_code == 400
    cross = fresh.post("/api/v1/params", content=BODY, headers={**HEAD, "origin": "http://evil.example"})
    assert cross.status_code == 403
    query = fresh.post("/api/v1/params?mode=banana", content=BODY, headers=HEAD)
    assert query.status_code == 422


def test_errors_are_not_replayed(fresh, monkeypatch):
    bad = json.dumps({"model": {"preset": "no-such-model-xyz"}}).encode()
    assert fresh.post("/api/v1/params", content=bad, headers=HEAD).status_code == 422
    # a 422 is answered again by the app (its checks run), never from a stored reply
    monkeypatch.setattr("llmsize.web.routes.resolve", _boom)
    with pytest.raises(AssertionError, match="computed again"):
        fresh.post("/api/v1/params", content=bad, headers=HEAD)
