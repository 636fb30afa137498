"""Fixtures for the quantization tests."""
from __future__ import annotations

import pytest
from quant_specs import CONFIGS, spec

from llmsize.spec import ModelSpec


@pytest.fixture(scope="session")
def specs() -> dict[str, ModelSpec]:
    return {k: spec(k) for k in CONFIGS}
