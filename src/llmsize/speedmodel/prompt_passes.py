"""Latency and throughput of an engine that runs each new prompt as a forward pass of its own, stalling
the running decodes (SGLang; vLLM's V0 engine without chunked prefill: `speedmodel.scheduling`).

R_o  = rate of the other requests' prompts: λ (a request rate) or R·(b − 1)/b (b closed-loop clients)
k    = 1 + R_o·t_p                      prompts a pass (those arriving during a pass join the next one)
pass = t_f + k·t_c,  t_f = t_p − t_c    (a prompt's compute t_c each; the weight read beyond it, the
                                         collectives and the launches t_f once a pass)
ρ    = R_o·pass/k                       share of time the running decodes stall
TPOT = t_d/(1 − ρ)
TTFT = [(1 − ρ)·t_d/2 + ρ·pass/2]_(b>1) + pass + t_0 + (k − 1)/2·t_d·[steps] + slot wait
closed loop: R = b/(TTFT + S_out·TPOT) solved for R (R appears on both sides); a rate: R = λ

Source: vllm-chunked-prefill
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from llmsize.errors import LlmsizeError, Overloaded


@dataclass(frozen=True, slots=True, kw_only=True)
class PassTiming:
    tpot_s: float
    ttft_s: float
    ttft_p90_s: float
    requests_per_s: float  # one replica's completed requests per second
    stall: float  # ρ: share of time the running decodes wait for prompt passes
    prompts_per_pass: float  # k


def _timing(r_o: float, *, t_d: float, t_p: float, t_c: float, b: int, fixed_s: float, round_wait: float,
            wait: float) -> tuple[float, float, float, float, float]:
    """(TPOT, TTFT, TTFT p90, ρ, k) at the others' prompt rate r_o; ρ >= 1 gives an infinite TPOT."""
    k = 1 + r_o * t_p
    pass_s = (t_p - t_c) + k * t_c
    rho = r_o * pass_s / k
    if rho >= 1:
        return math.inf, math.inf, math.inf, rho, k
    # ASSUMES: arrivals uniform over what runs when they come (a decode step, or another pass): half of
    # it left on average, 0.9 of it at the p90
    busy = ((1 - rho) * t_d + rho * pass_s) if b > 1 else 0.0
    ttft = busy / 2 + pass_s + fixed_s + round_wait + wait
    # ASSUMES: the p90 of the slot wait is ln(10) times its mean (an exponential tail), as serve's
    p90 = 0.9 * busy + pass_s + fixed_s + 1.8 * round_wait + math.log(10) * wait
    return t_d / (1 - rho), ttft, p90, rho, k


def separate_passes(*, t_d: float, t_p: float, t_c: float, b: int, output: int, fixed_s: float = 0.0,
                    request_rate: float | None = None, round_wait: float = 0.0, wait: float = 0.0) -> PassTiming:
    """TTFT, TPOT and requests/s of one replica whose engine runs prompts as passes of their own: `b`
    closed-loop clients (each sends its next request when the last one ends) or `request_rate` arrivals
    per second with `b` in flight. `t_d` a decode step of the batch, `t_p` one prompt's pass alone, `t_c`
    its compute, `fixed_s` the host's work to emit the first token, `round_wait` / `wait` the waits for a
    scheduling round and for a batch slot.

    Source: vllm-chunked-prefill"""
    if min(t_d, t_p, t_c, fixed_s, round_wait, wait) < 0 or t_c > t_p or b < 1 or output < 1:
        raise LlmsizeError("prompt-pass timing needs times >= 0, t_c <= t_p, b >= 1 and output >= 1")
    kw = dict(t_d=t_d, t_p=t_p, t_c=t_c, b=b, fixed_s=fixed_s, round_wait=round_wait, wait=wait)
    if request_rate is not None:
        tpot, ttft, p90, rho, k = _timing(request_rate, **kw)
        if rho >= 1:
            raise Overloaded(f"overloaded: at {request_rate:.3g} requests/s a replica spends all its time on "
                               "prompt passes; the running requests never decode")
        return PassTiming(tpot_s=tpot, ttft_s=ttft, ttft_p90_s=p90, requests_per_s=request_rate, stall=rho,
                          prompts_per_pass=k)

    def served(r: float) -> float:  # requests/s b clients complete when each sees the timing at rate r
        tpot_r, ttft_r, *_ = _timing(r * (b - 1) / b, **kw)
        return b / (ttft_r + output * tpot_r) if math.isfinite(tpot_r) else 0.0

    # served() falls as r grows, so the r with served(r) = r lies in (0, served(0)]: bisection
    lo, hi = 0.0, served(0.0)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if served(mid) > mid else (lo, mid)
    r = lo
    tpot, ttft, p90, rho, k = _timing(r * (b - 1) / b, **kw)
    return PassTiming(tpot_s=tpot, ttft_s=ttft, ttft_p90_s=p90, requests_per_s=r, stall=rho, prompts_per_pass=k)


def static_batch_timing(*, t_batch_prompt: float, t_d: float, output: int, b: int) -> PassTiming:
    """A fixed batch, as transformers' generate() serves one: its b prompts padded into one pass, then
    S_out decode steps of the b sequences; no request joins until the whole batch ends.

    TTFT = t_pb;  TPOT = t_d;  R = b/(t_pb + S_out·t_d)

    Source: hf-generate"""
    if b < 1 or output < 1:
        raise LlmsizeError("a static batch needs at least one sequence and one output token")
    return PassTiming(tpot_s=t_d, ttft_s=t_batch_prompt, ttft_p90_s=t_batch_prompt,
                      requests_per_s=b / (t_batch_prompt + output * t_d), stall=0.0, prompts_per_pass=float(b))
