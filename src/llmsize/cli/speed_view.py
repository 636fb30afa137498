"""`llmsize speed` for people: labelled lines with units, money and time rounded as people read them.
The numbers are the report's (`--json` carries them exactly); nothing here computes."""
from __future__ import annotations

from typing import Any

from llmsize.cli.present import fmt_big, fmt_bytes, fmt_duration, fmt_flops, fmt_rate, layout_label  # noqa: F401  (re-exported)


def _eff(e: dict[str, Any]) -> str:
    return f"{e['value']:.3g} (table key {e['key']})"


def speed_lines(rep: dict[str, Any], units: str = "iec") -> list[str]:
    """The speed report as lines of text, each labelled."""
    head = f"{rep['model']} on {rep['gpus']} × {rep['gpu']} ({layout_label(rep['layout'])})"
    if rep["mode"] == "serve":
        r, admitted = rep["replicas"], " once admitted" if rep.get("offline") else ""
        out = [f"{head}, serving with {rep['engine']}, {r} replica{'s' if r != 1 else ''}"
               + (", every request queued at once (batch max)" if rep.get("offline") else ""),
               f"  batch in flight: {rep['batch']:,} per replica (limited by {rep['batch_limit'].replace('_', ' ')})",
               f"  time to first token{admitted}: {fmt_duration(rep['ttft_s'])} "
               f"(p90 {fmt_duration(rep['ttft_p90_s'])})",
               f"  time per output token: {fmt_duration(rep['tpot_s'])} (p90 {fmt_duration(rep['tpot_p90_s'])})",
               f"  one request end to end{admitted}: {fmt_duration(rep['e2e_s'])}",
               f"  throughput: {fmt_rate(rep['output_tokens_per_s'])} output tokens/s and "
               f"{fmt_rate(rep['input_tokens_per_s'])} prompt tokens/s, prefill included",
               f"  a decode step is {rep['decode_bound']}-bound: {fmt_bytes(rep['step_bytes_per_gpu'], units)} read "
               f"per GPU",
               f"  compute path: {rep['compute_path']}"
               + (f", attention on {rep['attention_path']}" if rep["attention_path"] != rep["compute_path"] else ""),
               f"  efficiency: {_eff(rep['efficiency'])}"
               + ("" if rep.get("mbu") is None else f"; --mbu {rep['mbu']:g}")
               + ("" if rep.get("prefill_efficiency") is None else
                  f"; --prefill-efficiency {rep['prefill_efficiency']:g}")]
        t = rep.get("targets")
        if t:
            given = " and ".join(x for x in (t["ttft_s"] is not None and f"--ttft {t['ttft_s']:g} s",
                                             t["tpot_s"] is not None and f"--tpot {t['tpot_s'] * 1000:g} ms",
                                             t.get("tokens_per_s") is not None and
                                             f"--target-tps {t['tokens_per_s']:g}") if x)
            out.append(f"  targets ({given}): " + (f"missed, {t['missed']}" if t["missed"] else "met"))
        return out
    g = rep["goodput"]
    out = [f"{head}, training {fmt_big(rep['tokens'])} tokens",
           f"  model FLOPs per token: {fmt_big(rep['flops_per_token'])} (hardware, with recomputation: "
           f"{fmt_big(rep['hardware_flops_per_token'])}); whole run {fmt_flops(rep['total_flops'])} FLOPs",
           f"  throughput: {fmt_rate(rep['tokens_per_s'])} tokens/s, MFU {100 * rep['mfu']:.1f}%; efficiency "
           f"{_eff(rep['efficiency'])}, compute path {rep['compute_path']}",
           f"  step: {fmt_duration(rep['step_s'])} over {rep['micro_batches']:,} micro-batches; pipeline bubble "
           f"×{rep['pipeline_bubble']:.3g}",
           f"  time: {fmt_duration(rep['seconds'])}, {fmt_rate(rep['gpu_hours'])} GPU-hours"
           + ("" if rep.get("energy_kwh") is None else f", {fmt_rate(rep['energy_kwh'])} kWh")
           + f" at goodput {g['value']:g} ({g['source']})"]
    t = rep.get("targets")
    if t:
        out.append(f"  targets (--max-days {t['max_days']:g}): " + (f"missed, {t['missed']}" if t["missed"] else "met"))
    return out
