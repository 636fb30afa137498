"""Tables of `llmsize validate` for speed cases (presenters: they format, never compute)."""
from __future__ import annotations

from typing import Any

from llmsize.cli.common import table


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def _pct(x: float | None, f: str) -> str:
    return "-" if x is None else f"{100 * x:{f}}%"  # None: no case of the category was predicted


def speed_validation_tables(results: list[Any], summary: dict[str, dict[str, Any]]) -> list[Any]:
    out = [table("Speed: absolute relative error by category",
                 ["category", ("n", "right"), ("not predicted", "right"), ("median", "right"),
                  ("within ±25%", "right"), ("max", "right")],
                 [(k, str(v["n"]), str(v["unpredicted"]), _pct(v["median"], ".1f"), _pct(v["within_25"], ".0f"),
                   _pct(v["max"], ".1f")) for k, v in summary.items()])]
    failed = [r for r in results if r.error is not None]
    if failed:
        out.append(table("Speed cases not predicted", ["case", "error"], [(r.case.id, r.error) for r in failed]))
    worst = sorted((r for r in results if r.rel_error is not None), key=lambda r: -abs(r.rel_error or 0))[:10]
    unmeasured = [r for r in results if r.rel_error is None and r.error is None]
    rows = [(r.case.id, r.case.metric, _num(r.predicted), _num(r.case.measured),
             "-" if r.rel_error is None else f"{100 * r.rel_error:+.1f}%") for r in worst + unmeasured[:10]]
    if rows:
        out.append(table("Largest speed errors (and cases without a measurement)",
                         ["case", "metric", ("predicted", "right"), ("measured", "right"), ("error", "right")], rows))
    return out
