"""parse_quantity: human budgets to exact integers, nonsense refused with a clear message."""
from __future__ import annotations

import pytest

from llmsize.design.units import parse_quantity, short
from llmsize.errors import LlmsizeError


@pytest.mark.parametrize("text, value", [
    ("7B", 7_000_000_000), ("7b", 7_000_000_000), ("70M", 70_000_000), ("1.5T", 1_500_000_000_000),
    ("1e23", 10**23), ("5.76e23", 576 * 10**21), ("100,000", 100_000), ("12k", 12_000), ("0.5B", 500_000_000),
    ("1_000", 1000), ("2G", 2 * 10**9), (" 8B ", 8 * 10**9), (3, 3), (1e23, 10**23), ("1.5e3K", 1_500_000),
])
def test_parses(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text, needle", [
    ("abc", "cannot read"), ("-5B", "cannot read"), ("0", "positive"), ("7X", "cannot read"), ("", "cannot read"),
    ("1.5", "whole number"), ("1e999", "beyond"), ("1e99", "beyond"), ("1,00", "separator"),
    ("nan", "cannot read"), (float("inf"), "finite"), (True, "expected a number"), ("7 B B", "cannot read"),
])
def test_rejects_nonsense(text, needle):
    with pytest.raises(LlmsizeError, match=needle):
        parse_quantity(text, what="--params")


def test_error_names_the_option():
    with pytest.raises(LlmsizeError, match="^--compute"):
        parse_quantity("lots", what="--compute")


def test_short_forms():
    assert short(7_000_000_000) == "7.00B"
    assert short(1_400_000_000_000) == "1.40T"
    assert short(5.76e23) == "5.76e+23"
