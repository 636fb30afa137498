"""`llmsize speed` for people: labelled lines with units, money and time rounded as people read them.
The numbers are the report's (`--json` carries them exactly); nothing here computes."""
from __future__ import annotations

from typing import Any

from llmsize.cli.common import fmt_bytes


def fmt_duration(s: float | None) -> str:
    """850 ms, 12.3 s, 4.5 min, 3.2 h, 12.5 days, 4.1 years."""
    if s is None:
        return "-"
    for limit, div, unit in ((1, 1e-3, "ms"), (120, 1, "s"), (7200, 60, "min"), (3 * 86400, 3600, "h"),
                             (730 * 86400, 86400, "days")):
        if s < limit:
            v = s / div
            return f"{v:,.3g} {unit}" if v < 100 else f"{v:,.0f} {unit}"
    return f"{s / (365.25 * 86400):,.1f} years"


def fmt_rate(v: float) -> str:
    """1,234 / 12.3 / 0.123: three significant digits below 1,000, thousands separators above."""
    return f"{v:,.0f}" if v >= 1000 else f"{v:.3g}"


def fmt_big(v: float) -> str:
    """51.5 G, 5.15e22: FLOP counts."""
    for div, s in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if 1 <= v / div < 1000:
            return f"{v / div:.3g} {s}"
    return f"{v:.3g}"


def _eff(e: dict[str, Any]) -> str:
    return f"{e['value']:.3g} (table key {e['key']})"


def speed_lines(rep: dict[str, Any], units: str = "iec") -> list[str]:
    """The speed report as lines of text, each labelled."""
    head = f"{rep['model']} on {rep['gpus']} × {rep['gpu']} ({rep['layout']})"
    if rep["mode"] == "serve":
        r = rep["replicas"]
        out = [f"{head}, serving with {rep['engine']}, {r} replica{'s' if r != 1 else ''}",
               f"  batch in flight: {rep['batch']:,} per replica (limited by {rep['batch_limit'].replace('_', ' ')})",
               f"  time to first token: {fmt_duration(rep['ttft_s'])} (p90 {fmt_duration(rep['ttft_p90_s'])})",
               f"  time per output token: {fmt_duration(rep['tpot_s'])} (p90 {fmt_duration(rep['tpot_p90_s'])})",
               f"  one request end to end: {fmt_duration(rep['e2e_s'])}",
               f"  throughput: {fmt_rate(rep['output_tokens_per_s'])} output tokens/s and "
               f"{fmt_rate(rep['input_tokens_per_s'])} prompt tokens/s, prefill included",
               f"  a decode step is {rep['decode_bound']}-bound: {fmt_bytes(rep['step_bytes_per_gpu'], units)} read "
               f"per GPU; compute path {rep['compute_path']}",
               f"  efficiency: {_eff(rep['efficiency'])}"
               + ("" if rep.get("mbu") is None else f"; --mbu {rep['mbu']:g}")
               + ("" if rep.get("prefill_efficiency") is None else
                  f"; --prefill-efficiency {rep['prefill_efficiency']:g}")]
        return out
    out = [f"{head}, training {fmt_big(rep['seconds'] * rep['tokens_per_s'])} tokens",
           f"  model FLOPs per token: {fmt_big(rep['flops_per_token'])} (hardware, with recomputation: "
           f"{fmt_big(rep['hardware_flops_per_token'])}); whole run {rep['total_flops']:.3g}",
           f"  throughput: {fmt_rate(rep['tokens_per_s'])} tokens/s, MFU {100 * rep['mfu']:.1f}%; efficiency "
           f"{_eff(rep['efficiency'])}, compute path {rep['compute_path']}",
           f"  step: {fmt_duration(rep['step_s'])} over {rep['micro_batches']:,} micro-batches; pipeline bubble "
           f"×{rep['pipeline_bubble']:.3g}",
           f"  time: {fmt_duration(rep['seconds'])}, {fmt_rate(rep['gpu_hours'])} GPU-hours"
           + ("" if rep.get("energy_kwh") is None else f", {fmt_rate(rep['energy_kwh'])} kWh")]
    return out
