"""Fixtures for the planner tests."""
from __future__ import annotations

import pytest
from planner_specs import LLAMA_31_8B, LLAMA_31_70B, spec


@pytest.fixture(scope="session")
def llama8b():
    return spec(LLAMA_31_8B, "Llama-3.1-8B")


@pytest.fixture(scope="session")
def llama70b():
    return spec(LLAMA_31_70B, "Llama-3.1-70B")
