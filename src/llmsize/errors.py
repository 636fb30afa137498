"""The one error type llmsize raises for anything a user gave that it cannot use.

The CLI turns it into a one-line message and exit status 2; the web API into a 422.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping


class LlmsizeError(ValueError):
    """A user-facing problem: the message says what is wrong and what is accepted."""


class DoesNotFit(LlmsizeError):
    """A serving replica whose GPUs cannot hold the weights and one request's KV cache and state."""


class Overloaded(LlmsizeError):
    """A request rate past what a serving deployment serves: its queue grows without bound (a speed
    limit, which the planner counts as too slow, not as not fitting)."""


def did_you_mean(word: str, choices: Iterable[str], *, what: str) -> LlmsizeError:
    """Build an error for an unknown name, suggesting the closest known ones (case-insensitive)."""
    import difflib

    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lower), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(lower[c]) for c in close)}?" if close else ""
    shown = ", ".join(sorted(choices)[:12]) + (", ..." if len(choices) > 12 else "")
    shown_word = word if len(word) <= 80 else word[:77] + "..."
    return LlmsizeError(f"unknown {what} {shown_word!r}{hint} (known: {shown})")


def check_positive_ints(values: Mapping[str, object], owner: str = "", *, optional: bool = False) -> None:
    """Each value must be an int (not a bool) of at least 1, else LlmsizeError('<owner>: <name> must be a
    positive integer, got <value>') ('<name> must ...' without an owner). With `optional`, None passes."""
    for name, v in values.items():
        if optional and v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise LlmsizeError(f"{owner + ': ' if owner else ''}{name} must be a positive integer, got {v!r}")
