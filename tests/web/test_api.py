"""The JSON API: same numbers as the CLI's --json, uploads as data, readable 422s, caps."""
from __future__ import annotations

import json

import pytest

from .conftest import cli_json

LLAMA_TINY = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100,
              "num_attention_heads": 8, "num_key_value_heads": 2, "intermediate_size": 160,
              "_name_or_path": "tiny/llama-tiny"}


def post(client, path, body):
    return client.post(f"/api/v1/{path}", json=body)


@pytest.mark.parametrize("name", ["Llama-3.1-8B", "Qwen3-30B-A3B", "gpt2-large", "DeepSeek-V3"])
def test_params_equals_cli_for_presets(client, name):
    r = post(client, "params", {"model": {"preset": name}})
    assert r.status_code == 200, r.text
    assert r.json() == cli_json("params", name)


def test_params_equals_cli_for_knobs(client):
    knobs = {"hidden": 2048, "layers": 16, "heads": 16, "kv_heads": 4, "vocab": 32000, "ffn": 5632,
             "gated": True, "tied": True}
    r = post(client, "params", {"model": {"knobs": knobs}})
    assert r.status_code == 200, r.text
    args = ["params", "--hidden", "2048", "--layers", "16", "--heads", "16", "--kv-heads", "4", "--vocab", "32000",
            "--ffn", "5632", "--gated", "--tied"]
    assert r.json() == cli_json(*args)


def test_params_equals_cli_for_uploaded_config(client):
    text = json.dumps(LLAMA_TINY)
    for model in ({"config_text": text}, {"config": LLAMA_TINY}):
        r = post(client, "params", {"model": model})
        assert r.status_code == 200, r.text
        api = r.json()
        cli = cli_json("params", "-", stdin=text)
        assert api == cli


def test_whatif_changes_a_preset(client):
    base = post(client, "params", {"model": {"preset": "Llama-3.1-8B"}}).json()
    fewer = post(client, "params", {"model": {"preset": "Llama-3.1-8B", "whatif": {"layers": 16}}}).json()
    assert fewer["total_params"] < base["total_params"]
    assert fewer == cli_json("params", "Llama-3.1-8B", "--layers", "16")


def test_models_equals_cli(client):
    assert client.get("/api/v1/models").json() == cli_json("models")
    assert client.get("/api/v1/models", params={"q": "qwen3"}).json() == cli_json("models", "qwen3")


def test_presets_list_sizes_from_the_library(client):
    rows = client.get("/api/v1/presets").json()["presets"]
    llama = next(p for p in rows if p["name"] == "Llama-3.1-8B")
    assert llama["total_params"] == cli_json("params", "Llama-3.1-8B")["total_params"]
    assert any(p["moe"] for p in rows)


@pytest.mark.parametrize("body, needle", [
    ({"model": {"preset": "Llama-3.1-8C"}}, "did you mean"),
    ({"model": {"preset": "/etc/passwd"}}, "unknown model"),
    ({"model": {"preset": "../../pyproject.toml"}}, "unknown model"),
    ({"model": {"config_text": "{not json"}}, "not valid JSON (Expecting property name"),
    ({"model": {"config_text": "/etc/passwd"}}, "not valid JSON"),
    ({"model": {"config_text": "[1, 2]"}}, "must be a JSON object"),
    ({"model": {"config": {"model_type": "llama", "hidden_size": 64}}}, "lacks"),
    ({"model": {"config": {"model_type": "electra"}}}, "is not one llmsize knows"),
    ({"model": {"config": {**LLAMA_TINY, "num_hidden_layers": 10**9}}}, "outside 1..10000"),
    ({"model": {"config": {**LLAMA_TINY, "hidden_size": [1]}}}, "must be an integer"),
    ({"model": {"knobs": {"hidden": 0, "layers": 2, "heads": 2, "vocab": 10}}}, "model.knobs.hidden"),
    ({"model": {"knobs": {"hidden": 64, "layers": 2, "heads": 5, "vocab": 10}}}, "must divide"),
    ({"model": {"knobs": {"hidden": 64, "layers": 99999, "heads": 2, "vocab": 10}}}, "less than or equal to 10000"),
    ({"model": {"preset": "Llama-3.1-8B", "knobs": {"hidden": 64, "layers": 2, "heads": 2, "vocab": 10}}},
     "exactly one"),
    ({"model": {}}, "exactly one"),
    ({}, "model: required"),
    ({"model": {"preset": "Llama-3.1-8B", "colour": "red"}}, "model.colour: unknown field"),
    ({"model": {"preset": "Llama-3.1-8B", "whatif": {"layers": 100000}}}, "model.whatif.layers"),
])
def test_bad_input_is_422_with_a_message(client, body, needle):
    r = post(client, "params", body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and needle in detail, detail
    assert "Traceback" not in detail


def test_body_that_is_not_json(client):
    r = client.post("/api/v1/params", content=b"{bad", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["detail"]


def test_deep_nesting_is_422(client):
    deep = "[" * 5000 + "]" * 5000
    r = client.post("/api/v1/params", content=('{"model": {"config": {"a": ' + deep + '}}}').encode(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    r = post(client, "params", {"model": {"config_text": '{"a": ' + "[" * 3000 + "]" * 3000 + "}"}})
    assert r.status_code == 422, r.text


def test_request_size_is_capped(client):
    big = {"model": {"config": {**LLAMA_TINY, "pad": "x" * (2 << 20)}}}
    r = post(client, "params", big)
    assert r.status_code == 413
    assert "KiB" in r.json()["detail"]


def test_server_never_loads_a_path(client, monkeypatch):
    import llmsize.load

    def boom(*a, **k):
        raise AssertionError("the web API must not call llmsize.load.load")

    monkeypatch.setattr(llmsize.load, "load", boom)
    for body in ({"model": {"preset": "pyproject.toml"}}, {"model": {"config_text": "pyproject.toml"}},
                 {"model": {"preset": "Llama-3.1-8B"}}, {"model": {"preset": "."}}):
        assert post(client, "params", body).status_code in (200, 422)


def test_page_and_headers(client):
    r = client.get("/")
    assert r.status_code == 200 and "<title>llmsize" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    for asset in ("app.js", "ui.js", "charts.js", "sections.js", "sections2.js", "style.css", "favicon.svg"):
        assert client.get(f"/static/{asset}").status_code == 200, asset
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/params" in spec["paths"]


def test_meta_lists_sections(client):
    m = client.get("/api/v1/meta").json()
    assert m["api"] == "v1" and m["sections"]["params"] is True
