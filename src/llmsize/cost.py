"""Money: the cost of a training run and of serving a million tokens, from GPU-hours and a price
per GPU-hour (the catalog's cheapest published on-demand price, or one the user gives)."""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from llmsize.errors import LlmsizeError


def check_price(usd_per_gpu_hour: float) -> float:
    """A price must be a positive, finite number of dollars per GPU-hour."""
    if isinstance(usd_per_gpu_hour, bool) or not isinstance(usd_per_gpu_hour, (int, float)) \
            or not math.isfinite(usd_per_gpu_hour) or usd_per_gpu_hour <= 0:
        raise LlmsizeError(f"price must be a positive, finite number of USD per GPU-hour, got {usd_per_gpu_hour!r}")
    return float(usd_per_gpu_hour)


def gpu_prices(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Price overrides by the catalog's GPU name; one GPU priced twice (under two of its names, e.g. H100
    and H100-SXM) is refused rather than one price silently kept."""
    from llmsize.catalog.hardware import parse_gpu

    out: dict[str, float] = {}
    named: dict[str, str] = {}
    for name, usd in pairs:
        g = parse_gpu(name).name
        if g in out:
            raise LlmsizeError(f"price for {g} given twice ({named[g]} and {name}): give one")
        out[g], named[g] = check_price(usd), name
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceChoice:
    usd_per_gpu_hour: float
    provider: str
    source: str
    retrieved: str


def price_for(gpu_name: str, override: float | None = None) -> PriceChoice | None:
    """The user's price if given, else the cheapest published on-demand price in the catalog,
    else None (unknown: costs are then left out, never guessed)."""
    if override is not None:
        return PriceChoice(usd_per_gpu_hour=check_price(override), provider="given", source="user input",
                           retrieved="n/a")
    from llmsize.catalog.hardware import cheapest_price

    p = cheapest_price(gpu_name)
    if p is None:
        return None
    return PriceChoice(usd_per_gpu_hour=p.usd_per_gpu_hour, provider=p.provider, source=p.source,
                       retrieved=p.retrieved)


def training_cost(gpu_hours: float, usd_per_gpu_hour: float) -> float:
    """Cost of a run.

    $ = GPU-hours · price

    Source: narayanan2021"""
    if gpu_hours < 0:
        raise LlmsizeError(f"GPU-hours must not be negative, got {gpu_hours}")
    return gpu_hours * check_price(usd_per_gpu_hour)


def usd_per_million_tokens(tokens_per_s: float, gpus: int, usd_per_gpu_hour: float) -> float:
    """What a million tokens cost on `gpus` GPUs producing `tokens_per_s` together.

    $/1M = n · price / (3600 · tokens/s) · 10^6

    Source: pope2022"""
    if tokens_per_s <= 0 or gpus < 1:
        raise LlmsizeError("cost per token needs a positive throughput and at least one GPU")
    return gpus * check_price(usd_per_gpu_hour) / (3600.0 * tokens_per_s) * 1e6
