"""The rejected setups of a plan as `plan_report` prints them: a count per kind and, per kind, the first
five setups with distinct reasons, in search order.

`plan_train` records its rejections here when given a tally instead of returning ~50,000 `Candidate`
objects for the 103-GPU catalogue; once a kind holds its five examples, a further rejection of that kind
is only counted, so the search does not even format its reason. The counts and examples are the ones a
list of candidates would give (tests/planner/test_plan_caches.py compares the two).
"""
from __future__ import annotations

from typing import Any

EXAMPLES = 5  # setups shown per rejection kind


class Tally:
    """Rejections per kind (in the order kinds first occur) and up to five examples per kind."""

    __slots__ = ("counts", "examples")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[dict[str, Any]]] = {}

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def full(self, kind: str) -> bool:
        """Whether `kind` has all its examples: a further one is only counted (`count`)."""
        return len(self.examples.get(kind, ())) >= EXAMPLES

    def count(self, kind: str, n: int = 1) -> None:
        """`n` more rejections of a kind whose examples are full (or whose reason repeats the last one's)."""
        self.counts[kind] = self.counts.get(kind, 0) + n
        self.examples.setdefault(kind, [])

    def add(self, kind: str, gpu: str, gpus: int, layout: Any, reason: str) -> None:
        """One rejected setup; it becomes an example while its kind has fewer than five with other reasons."""
        self.count(kind)
        ex = self.examples[kind]
        if len(ex) < EXAMPLES and all(e["reason"] != reason for e in ex):
            ex.append({"gpu": gpu, "gpus": gpus, "layout": layout.label(), "reason": reason})

    def add_candidate(self, c: Any) -> None:
        """A rejected `search.Candidate`."""
        self.add(c.kind, c.gpu.name, c.gpus, c.layout, c.reason)
