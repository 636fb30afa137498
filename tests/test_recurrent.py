"""State-space and hybrid models: the recurrent state and the attention KV cache equal the tensors
transformers' cache holds (tests/data/ssm_state_bytes.json, scripts/measure_ssm_state.py, transformers
5.23.0)."""
from __future__ import annotations

import json

import pytest

from llmsize.adapters.hf_config import spec_from_config
from llmsize.quant.kv import attention_kv_bytes, kv_cache_bytes
from llmsize.recurrent import recurrent_state
from tests.conftest import DATA

STATE = json.loads((DATA / "ssm_state_bytes.json").read_text())


@pytest.mark.parametrize("name", sorted(STATE["models"]))
def test_state_and_kv_equal_transformers_cache(name):
    m, b = STATE["models"][name], STATE["batch"]
    spec = spec_from_config(m["config"], name)
    st = recurrent_state(spec, b)
    assert (st.conv_bytes, st.ssm_bytes) == (m["conv"], m["ssm"])
    assert attention_kv_bytes(spec, m["tokens"], "bf16", batch=b) == m["kv"]
    assert kv_cache_bytes(spec, m["tokens"], "bf16", batch=b) == m["kv"] + m["conv"] + m["ssm"]
    assert m["conv_dtypes"] == ["torch.bfloat16"] and m["ssm_dtypes"] in ([], ["torch.float32"])


def test_state_does_not_grow_with_context():
    spec = spec_from_config(STATE["models"]["small-mamba2"]["config"], "m")
    assert kv_cache_bytes(spec, 10, batch=3) == kv_cache_bytes(spec, 100_000, batch=3) == recurrent_state(spec, 3).total
    assert attention_kv_bytes(spec, 1) == 0
