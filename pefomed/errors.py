"""User-facing errors.

Every error a user can cause with bad input is a :class:`PefomedError`: one line that says what
is wrong, where, and how to fix it. The CLI prints its message and exits with status 2; it never
shows a traceback for these.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class PefomedError(ValueError):
    """Bad input from the user: the message is one line saying what, where and how to fix."""


class UnknownNameError(PefomedError, KeyError):
    """A name that is not in a registry."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0] if self.args else ""


class UnsupportedError(PefomedError):
    """A combination that cannot work (adapter x model, part x model, ...), refused up front."""


class BudgetExceeded(PefomedError):
    """A hard budget limit (memory cap) was crossed; the run stops and records why."""


def did_you_mean(name: str, choices: Iterable[str], what: str) -> str:
    """Return "unknown <what> 'x'; did you mean 'y'? Known: a, b, c" as one line."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "."
    return f"unknown {what} {name!r}{hint} Known: {', '.join(choices)}"
