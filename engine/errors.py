"""The one error every command shares: bad usage or configuration, which exits 64 with a
single line. Kept apart so the command line can catch it without importing what raises it."""

from __future__ import annotations


class UsageError(Exception):
    """Something the operator must fix in the command line or the configuration."""
