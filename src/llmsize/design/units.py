"""Human quantities -> exact integers: "7B", "70M", "1.5T", "1e23", "100,000".

Parsed with Decimal, so "1.5T" is exactly 1_500_000_000_000 and "5.76e23" exactly 576 * 10**21;
anything that is not a finite positive whole number (after the suffix) is refused with a message
that says what is accepted.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from llmsize.errors import LlmsizeError

_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12, "P": 10**15}
_RE = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]{1,3}))?\s*([KMBGTP]?)\s*$",
                 re.IGNORECASE)
_MAX = 10**40  # far beyond any budget; guards against "1e999"


def parse_quantity(text: str | int | float, *, what: str = "quantity", allow_zero: bool = False) -> int:
    """'7B' -> 7_000_000_000; '1.5T', '70M', '1e23', '100,000', '12k' likewise (case-insensitive).

    K = 1e3, M = 1e6, B (or G) = 1e9, T = 1e12, P = 1e15. The value must be a whole, finite,
    positive number once scaled ('1.5' alone is refused; '1.5K' is 1500)."""
    if isinstance(text, bool):
        raise LlmsizeError(f"{what}: expected a number like 7B, 70M, 1.5T or 1e23, got {text!r}")
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, float):
        if text != text or text in (float("inf"), float("-inf")):
            raise LlmsizeError(f"{what}: must be finite, got {text!r}")
        value = Decimal(repr(text))
    else:
        m = _RE.match(str(text))
        if not m:
            raise LlmsizeError(f"{what}: cannot read {text!r}; write a number with an optional suffix "
                               f"K, M, B, T (e.g. 7B, 70M, 1.5T) or an exponent (e.g. 1e23)")
        mant, exp, suf = m.groups()
        if mant.count(",") and not re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})*(\.[0-9]*)?", mant):
            raise LlmsizeError(f"{what}: misplaced thousands separator in {text!r}")
        try:
            value = Decimal(mant.replace(",", "").replace("_", "")) * _SUFFIX[suf.upper()]
            if exp:
                value = value.scaleb(int(exp))
        except InvalidOperation:
            raise LlmsizeError(f"{what}: cannot read {text!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise LlmsizeError(f"{what}: must be positive, got {text!r}")
    if value > _MAX:
        raise LlmsizeError(f"{what}: {text!r} is beyond any physical budget (> 1e40)")
    if value != value.to_integral_value():
        raise LlmsizeError(f"{what}: {text!r} is not a whole number")
    return int(value)


def short(n: int | float, unit: str = "") -> str:
    """7.00B, 1.40T, 5.76e+23: the short form used in tables and messages."""
    v = float(n)
    if v >= 1e16 or (0 < v < 1):
        return f"{v:.3g}{unit}"
    for div, s in ((1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= div:
            return f"{v / div:.2f}{s}{unit}"
    return f"{v:g}{unit}"
