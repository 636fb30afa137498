"""The one error type llmsize raises for anything a user gave that it cannot use.

The CLI turns it into a one-line message and exit status 2; the web API into a 422.
"""
from __future__ import annotations

from collections.abc import Iterable


class LlmsizeError(ValueError):
    """A user-facing problem: the message says what is wrong and what is accepted."""


def did_you_mean(word: str, choices: Iterable[str], *, what: str) -> LlmsizeError:
    """Build an error for an unknown name, suggesting the closest known ones (case-insensitive)."""
    import difflib

    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lower), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(lower[c]) for c in close)}?" if close else ""
    shown = ", ".join(sorted(choices)[:12]) + (", ..." if len(choices) > 12 else "")
    return LlmsizeError(f"unknown {what} {word!r}{hint} (known: {shown})")
