"""The result of planning a weight format for a model: every stored tensor with its exact bytes."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.sources import SOURCES


@dataclass(frozen=True, slots=True, kw_only=True)
class TensorQuant:
    """One weight tensor under a format: `bytes` is everything stored for it (packed values, scales,
    zeros, indices), itemised in `parts` as (part name, bytes)."""

    name: str
    role: str
    shape: tuple[int, ...]  # PyTorch order (out, in) / (experts, out, in)
    params: int
    format: str  # e.g. Q6_K, bf16, gptq-int4-g128, bnb-nf4-dq, fp8-e4m3
    bytes: int
    parts: tuple[tuple[str, int], ...] = ()
    layer: int | None = None

    def __post_init__(self) -> None:
        if self.bytes < 0 or self.params < 0:
            raise LlmsizeError(f"{self.name}: sizes must not be negative")
        if self.parts and sum(b for _, b in self.parts) != self.bytes:
            raise LlmsizeError(f"{self.name}: parts do not add up to the tensor's bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightPlan:
    """All tensors of one model in one format, with exact totals."""

    model: str
    format: str
    tensors: tuple[TensorQuant, ...]
    source: str
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise LlmsizeError(f"unknown source key {self.source!r}")
        if not self.tensors:
            raise LlmsizeError(f"{self.model}: a weight plan needs at least one tensor")
        if self.bytes <= 0:
            raise LlmsizeError(f"{self.model} in {self.format}: weight bytes came out as {self.bytes}")

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tensors)

    @property
    def params(self) -> int:
        return sum(t.params for t in self.tensors)

    @property
    def bits_per_weight(self) -> Fraction:
        """bpw = 8 · bytes / params."""
        return Fraction(8 * self.bytes, self.params) if self.params else Fraction(0)

    def by_format(self) -> dict[str, dict[str, int]]:
        """{format: {tensors, params, bytes}} in order of first appearance."""
        out: dict[str, dict[str, int]] = {}
        for t in self.tensors:
            d = out.setdefault(t.format, {"tensors": 0, "params": 0, "bytes": 0})
            d["tensors"] += 1
            d["params"] += t.params
            d["bytes"] += t.bytes
        return out

    def as_dict(self, *, tensors: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = dict(model=self.model, format=self.format, bytes=self.bytes, params=self.params,
                                 bits_per_weight=round(float(self.bits_per_weight), 4), by_format=self.by_format(),
                                 notes=list(self.notes), source=self.source)
        if tensors:
            d["tensors"] = [dict(name=t.name, role=t.role, shape=list(t.shape), params=t.params, format=t.format,
                                 bytes=t.bytes, parts=dict(t.parts)) for t in self.tensors]
        return d
