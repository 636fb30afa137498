"""Hypothesis fuzz of request bodies: whatever a client sends, the answer is 200 or 422, never 500."""
from __future__ import annotations

import functools
import json
import warnings

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

_INTS = st.one_of(st.integers(-3, 300), st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 64, 4096, 10**9]))
_LEAF = st.one_of(st.none(), st.booleans(), _INTS, st.floats(allow_nan=True), st.text(max_size=12))
_JSON = st.recursive(_LEAF, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                   st.dictionaries(st.text(max_size=8), kids, max_size=4)),
                     max_leaves=20)
_CONFIG_KEYS = ["model_type", "hidden_size", "num_hidden_layers", "vocab_size", "num_attention_heads",
                "num_key_value_heads", "intermediate_size", "head_dim", "tie_word_embeddings", "layer_types",
                "sliding_window", "num_local_experts", "num_experts_per_tok", "moe_intermediate_size",
                "n_routed_experts", "kv_lora_rank", "q_lora_rank", "text_config", "n_embd", "n_layer", "n_head",
                "torch_dtype", "max_position_embeddings", "attention_bias", "rope_scaling"]
_MODEL_TYPES = st.sampled_from(["llama", "qwen2", "qwen3", "qwen3_moe", "mixtral", "gemma2", "gemma3", "gemma3_text",
                                "deepseek_v3", "gpt_oss", "gpt2", "gpt_neox", "opt", "falcon", "phi3", "olmo2",
                                "olmoe", "qwen2_moe", "mystery", ""])
_CONFIG = st.fixed_dictionaries({"model_type": _MODEL_TYPES},
                                optional={k: st.one_of(_INTS, _LEAF, _JSON) for k in _CONFIG_KEYS[1:]})
_KNOBS = st.fixed_dictionaries({}, optional={k: st.one_of(_INTS, _LEAF) for k in
                                             ["hidden", "layers", "heads", "kv_heads", "head_dim", "ffn", "vocab",
                                              "gated", "tied", "norm", "bias", "positions", "experts", "top_k",
                                              "expert_ffn", "shared_ffn", "max_positions", "name"]})
_MODEL = st.one_of(
    st.fixed_dictionaries({"preset": st.one_of(st.sampled_from(["Llama-3.1-8B", "gpt2", "qwen3-8b"]), _LEAF)},
                          optional={"whatif": st.one_of(_KNOBS, _JSON)}),
    st.fixed_dictionaries({"config": st.one_of(_CONFIG, _JSON)}),
    st.fixed_dictionaries({"config_text": st.one_of(_CONFIG.map(json.dumps), st.text(max_size=40))}),
    st.fixed_dictionaries({"knobs": st.one_of(_KNOBS, _JSON)}),
    _JSON,
)
_BODY = st.one_of(st.fixed_dictionaries({"model": _MODEL}, optional={"whatif": _KNOBS, "extra": _LEAF}), _JSON)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=_BODY)
def test_params_body_fuzz(client, body):
    r = client.post("/api/v1/params", content=json.dumps(body).encode(), headers={"content-type": "application/json"})
    assert r.status_code in (200, 422), (r.status_code, r.text, body)
    if r.status_code == 422:
        assert isinstance(r.json()["detail"], str) and r.json()["detail"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(max_size=64))
def test_raw_bytes_fuzz(client, raw):
    r = client.post("/api/v1/params", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, (r.status_code, r.text)


@functools.cache
def _fields(path: str) -> dict:
    """Field names of an endpoint's body model, from the app's OpenAPI schema."""
    from llmsize.web.app import create_app

    spec = create_app().openapi()
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    model = spec["components"]["schemas"][ref.split("/")[-1]]
    return {k: {**v, "required": k in model.get("required", ())} for k, v in model["properties"].items()}


_SMALL = st.sampled_from([{"preset": "gpt2"}, {"preset": "Qwen3-0.6B"}, {"preset": "OLMoE-1B-7B-0924"},
                          {"knobs": {"hidden": 64, "layers": 2, "heads": 4, "vocab": 100}}])
_VALUE = st.one_of(_INTS, _LEAF, st.sampled_from(["H100", "T4", "bf16", "Q4_K_M", "gptq-int4-g128", "fp8", "q8_0",
                                                  "7B", "1e23", "all-linear", "attention", "prune", "vllm"]),
                   st.lists(st.one_of(_INTS, st.sampled_from(["H100", "bf16", "Q4_K_M"])), max_size=3))
# (endpoint, text in the 500's detail) -> the bug, reproducible with the CLI. Remove an entry once fixed.
KNOWN_LIBRARY_BUGS: dict[tuple[str, str], str] = {}
_ENDPOINTS = ["/api/v1/infer", "/api/v1/train", "/api/v1/infer/sweep", "/api/v1/quant", "/api/v1/design",
              "/api/v1/scaling", "/api/v1/whatif", "/api/v1/export", "/api/v1/spec"]


def _valid(schema: dict) -> st.SearchStrategy:
    """Values inside a field's declared bounds (so the library, not the schema, gets exercised)."""
    if "anyOf" in schema:
        return st.one_of(*[_valid(x) for x in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    t = schema.get("type")
    if t == "integer":
        lo, hi = schema.get("minimum", 0), min(schema.get("maximum", 1 << 20), 1 << 20)
        return st.one_of(st.integers(lo, min(hi, lo + 64)), st.integers(lo, hi))
    if t == "number":
        lo = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        return st.floats(lo, schema.get("maximum", 1e6), exclude_min="exclusiveMinimum" in schema)
    if t == "boolean":
        return st.booleans()
    if t == "null":
        return st.none()
    if t == "array":
        return st.lists(_valid(schema.get("items", {})), min_size=schema.get("minItems", 0),
                        max_size=max(3, schema.get("minItems", 0)))
    if t == "string":
        return st.one_of(st.sampled_from(["H100", "T4", "RTX 4090", "bf16", "fp8", "Q4_K_M", "gptq-int4-g128", "q8_0",
                                          "7B", "1e23", "all-linear", "q_proj,v_proj", "adamw", "sgd", "mha,mqa",
                                          "32000,128256", "8x2", "meta-llama/Llama-3.1-8B"]), st.text(max_size=8))
    if "$ref" in schema:
        return st.fixed_dictionaries({})
    return _VALUE


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_endpoint_body_fuzz(client, data):
    path = data.draw(st.sampled_from(_ENDPOINTS))
    props = _fields(path)
    fields = [f for f in props if f != "model"]
    body = {f: data.draw(_valid(props[f])) for f in fields if props[f]["required"]}
    if path in ("/api/v1/design", "/api/v1/scaling") and data.draw(st.integers(0, 4)):
        body[data.draw(st.sampled_from(["params", "compute"]))] = data.draw(st.sampled_from(["7B", "1e23", 10**9, "70M"]))
    for f in data.draw(st.lists(st.sampled_from(fields), max_size=3, unique=True)) if fields else []:
        body[f] = data.draw(st.one_of(_valid(props[f]), _VALUE) if data.draw(st.integers(0, 3)) == 0 else _valid(props[f]))
    if "model" in _fields(path) and data.draw(st.integers(0, 9)):  # mostly a valid small model, sometimes none
        body["model"] = data.draw(_SMALL)
    r = client.post(path, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
    if r.status_code == 500:
        known = next((why for (p, needle), why in KNOWN_LIBRARY_BUGS.items()
                      if p == path and needle in r.json()["detail"]), None)
        if known:  # reported to the library's owner; the CLI fails the same way. Skip the example, keep fuzzing.
            warnings.warn(f"known library bug, not a web bug: {known}", stacklevel=1)
            assume(False)
    assert r.status_code in (200, 422), (path, r.status_code, r.text[:500], body)
    event(f"{path} {r.status_code}" + (f" {r.json()['detail'][:60]}" if r.status_code == 422 else ""))


def test_a_non_string_dtype_in_a_config_is_a_4xx(client):
    """Found by the fuzz test: gemma3 fills every size from defaults, so `torch_dtype: []` reached the
    (hashed) spec and answered 500; the spec now refuses a dtype that is not a name."""
    body = {"model": {"config": {"model_type": "gemma3", "torch_dtype": []}}}
    for path in ("params", "infer", "quant", "spec"):
        r = client.post(f"/api/v1/{path}", json=body)
        assert r.status_code == 422 and "torch_dtype" in r.json()["detail"], (path, r.text)
