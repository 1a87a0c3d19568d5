"""The one error every command shares: bad usage or configuration, which exits 64 with a
single line; and how any error is said in one line. Kept apart so the command line and the
console can use them without importing what raises the errors."""

from __future__ import annotations

from engine.secrets import scrub


class UsageError(Exception):
    """Something the operator must fix in the command line or the configuration."""


def first_line(error: Exception) -> str:
    """An error as one line: its first, or its type when it says nothing; scrubbed of every
    registered secret, since the console says every error through this."""
    return scrub((str(error).splitlines() or [type(error).__name__])[0])
