"""The result types: named byte terms live at the peak, and the estimate holding them."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from llmsize.errors import LlmsizeError
from llmsize.sources import SOURCES

CATEGORIES = ("weights", "gradients", "optimizer", "master_weights", "activations", "transient", "kv_cache",
              "device")
PHASES = ("forward", "backward", "optimizer step", "prefill", "decode", "device")


@dataclass(frozen=True, slots=True, kw_only=True)
class MemTerm:
    """One named part of the peak: bytes, category, formula in paper symbols, source key, phase."""

    name: str
    bytes: int
    category: str
    formula: str
    source: str
    phase: str
    closed_form: object = None  # llmsize.memory.closed_form.ClosedForm, when asked for (memory_result)

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise LlmsizeError(f"memory term {self.name!r}: unknown category {self.category!r}")
        if self.source not in SOURCES:
            raise LlmsizeError(f"memory term {self.name!r}: unknown source {self.source!r}")
        if not isinstance(self.bytes, int) or self.bytes < 0:
            raise LlmsizeError(f"memory term {self.name!r}: bytes must be a non-negative int, got {self.bytes!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryEstimate:
    """Peak bytes of one workload, the phase where it happens, and the terms live there (they sum to
    `peak_bytes` exactly). `phases` maps each phase to the bytes live at that phase's own peak."""

    model: str
    peak_bytes: int
    peak_phase: str
    terms: tuple[MemTerm, ...]
    trainable_params: int
    weights_bytes: int
    phases: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        total = sum(t.bytes for t in self.terms)
        if total != self.peak_bytes:
            raise AssertionError(f"terms sum to {total}, peak is {self.peak_bytes}")

    def by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.terms:
            out[t.category] = out.get(t.category, 0) + t.bytes
        return out
