"""OpenAPI conformance fuzz (issue 17): request bodies drawn from each endpoint's own JSON schema in
the app's OpenAPI document (by `from_schema` below: hypothesis-jsonschema 0.23 does not run on this
Hypothesis, and schemathesis would pull a large tree into CI), sent to the app. No answer is a 500;
every answer is one the schema documents for that operation, and every error body has the documented
Error shape ({detail: str, errors?: [{loc, msg}]}). Derandomized and smaller under CI=true."""
from __future__ import annotations

import functools
import json
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

EXAMPLES = 20 if os.environ.get("CI") else 120
STATUS: Counter[str] = Counter()


@functools.cache
def _spec() -> dict:
    from llmsize.web.app import create_app

    return create_app().openapi()


def from_schema(schema: dict, defs: dict | None = None) -> st.SearchStrategy:
    """Values valid for a JSON schema of the kinds OpenAPI 3.1 from pydantic uses: $ref, anyOf, enum,
    const, integer/number bounds, string lengths, arrays, objects with required and optional keys."""
    defs = _spec()["components"]["schemas"] if defs is None else defs
    if "$ref" in schema:
        return st.deferred(lambda: from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs))
    if "anyOf" in schema or "oneOf" in schema:
        return st.one_of(*[from_schema(s, defs) for s in schema.get("anyOf", schema.get("oneOf"))])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    t = schema.get("type")
    if t == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        lo = schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else lo
        hi = schema["exclusiveMaximum"] - 1 if "exclusiveMaximum" in schema else hi
        edges = [v for v in (lo, hi) if v is not None]
        return st.one_of(st.integers(lo, hi), st.sampled_from(edges)) if edges else st.integers()
    if t == "number":
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        return st.floats(lo, schema.get("maximum", schema.get("exclusiveMaximum")), allow_nan=False,
                         allow_infinity=False, exclude_min="exclusiveMinimum" in schema,
                         exclude_max="exclusiveMaximum" in schema)
    if t == "boolean":
        return st.booleans()
    if t == "null":
        return st.none()
    if t == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 24), 24))
    if t == "array":
        lo = schema.get("minItems", 0)
        return st.lists(from_schema(schema.get("items", {}), defs), min_size=lo, max_size=max(lo, min(schema.get("maxItems", 3), 3)))
    if t == "object" or "properties" in schema:
        props = schema.get("properties", {})
        req = set(schema.get("required", ()))
        obj = st.fixed_dictionaries({k: from_schema(v, defs) for k, v in props.items() if k in req},
                                    optional={k: from_schema(v, defs) for k, v in props.items() if k not in req})
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not props:
            return st.dictionaries(st.text(max_size=8), from_schema(extra, defs), max_size=3)
        return obj
    return st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
                        lambda k: st.one_of(st.lists(k, max_size=3), st.dictionaries(st.text(max_size=6), k, max_size=3)),
                        max_leaves=6)


def _posts() -> list[str]:
    return sorted(p for p, ops in _spec()["paths"].items() if "post" in ops and p.startswith("/api/"))


def _is_error(body: object) -> bool:
    return (isinstance(body, dict) and isinstance(body.get("detail"), str) and set(body) <= {"detail", "errors"}
            and all(isinstance(e, dict) and set(e) == {"loc", "msg"} for e in body.get("errors", [])))


@pytest.mark.parametrize("path", _posts())
def test_schema_valid_bodies(client, path):
    op = _spec()["paths"][path]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    documented = set(op["responses"])

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=from_schema(schema))
    def check(body: object) -> None:
        r = client.post(path, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
        STATUS[f"{path} {r.status_code}"] += 1
        event(f"{path} {r.status_code}")
        assert r.status_code != 500, (r.text[:500], body)
        assert str(r.status_code) in documented, (r.status_code, documented)
        if r.status_code >= 400:
            assert _is_error(r.json()), r.text[:300]

    check()


@pytest.mark.parametrize("path", _posts())
def test_schema_invalid_bodies_are_documented_errors(client, path):
    """Bodies the schema forbids (wrong types, unknown fields, junk): a 4xx in the Error shape."""
    junk = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                  st.text(max_size=10)),
                        lambda k: st.one_of(st.lists(k, max_size=3), st.dictionaries(st.text(max_size=6), k, max_size=3)),
                        max_leaves=8)

    @settings(max_examples=max(5, EXAMPLES // 2), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=junk)
    def check(body: object) -> None:
        r = client.post(path, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
        STATUS[f"{path} {r.status_code}"] += 1
        assert r.status_code != 500, r.text[:300]
        if r.status_code >= 400:
            assert _is_error(r.json()), r.text[:300]

    check()
