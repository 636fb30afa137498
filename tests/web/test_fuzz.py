"""Hypothesis fuzz of request bodies: whatever a client sends, the answer is 200 or 422, never 500."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
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
