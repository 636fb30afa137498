"""Queueing of requests at a serving replica: the wait for one of its batch slots under Poisson arrivals.

Source: kleinrock1975
"""
from __future__ import annotations

import math

from llmsize.errors import LlmsizeError


def slot_wait_s(rate: float, slots: int, service_s: float) -> float:
    """Mean wait for one of `slots` batch slots (the engine's max sequences or its KV capacity in
    requests), each held for `service_s`, under Poisson arrivals: an M/D/c queue, taken as half the
    M/M/c (Erlang C) wait: next to none while far fewer than all slots are busy on average.

    W = C(c, a)·S/(c − a)/2,  a = λ·S,  C(c, a) = c·B/(c − a(1 − B)),  B = Erlang B: B_k = a·B_{k−1}/(k + a·B_{k−1})

    Source: kleinrock1975"""
    if rate <= 0 or slots < 1 or service_s <= 0:
        raise LlmsizeError("a slot wait needs a positive rate, service time and at least one slot")
    a = rate * service_s
    if a >= slots:
        return math.inf
    erlang_b = 1.0
    for k in range(1, slots + 1):
        erlang_b = a * erlang_b / (k + a * erlang_b)
        if erlang_b < 1e-300:  # past a + a few √a the blocking probability only shrinks: no wait
            return 0.0
    c = slots * erlang_b / (slots - a * (1 - erlang_b))
    return c * service_s / (slots - a) / 2
