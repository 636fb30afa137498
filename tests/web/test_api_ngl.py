"""/api/v1/ngl answers the llama.cpp partial-offload question as `llmsize fit --find ngl --json` does."""
from __future__ import annotations


def test_ngl_70b_q4km_on_a_4090(client):
    r = client.post("/api/v1/ngl", json={"model": {"preset": "Llama-3.1-70B"}, "gpu": "RTX-4090", "weights": "Q4_K_M",
                                         "context": 1280})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["verdict"] == "partial offload" and 30 < rep["ngl"] < 81
    assert rep["split"]["gpu_total"] <= rep["split"]["gpu_budget"]


def test_ngl_bad_input_is_422(client):
    r = client.post("/api/v1/ngl", json={"model": {"preset": "Llama-3.1-70B"}, "gpu": "RTX-4090", "weights": "Q9"})
    assert r.status_code == 422 and "preset" in r.text
    r = client.post("/api/v1/ngl", json={"model": {"preset": "Llama-3.1-70B"}, "gpu": "RTX-4090", "kv_type": "fp8"})
    assert r.status_code == 422
