"""Typed store errors; each renders as one line an operator can act on."""

from __future__ import annotations


class StoreError(Exception):
    """Anything wrong with the local database."""


class StoreConfigError(StoreError):
    """The database URL cannot be used."""


class DatabaseUnreachable(StoreError):
    """The database server did not answer, or cut the connection."""


class DatabaseLocked(StoreError):
    """Another writer held the database past the busy timeout."""


# The database refusing for the moment, locked or out of reach: another try later may succeed.
PASSING_FAULTS = (DatabaseLocked, DatabaseUnreachable)


class SchemaNotReady(StoreError):
    """The database lacks recon's schema; `recon db init` creates it."""


class CorruptRow(StoreError):
    """A stored row cannot become a domain object."""

    def __init__(self, table: str, row_key: str, column: str, problem: str) -> None:
        super().__init__(f"corrupt row in {table} ({row_key}): {column} {problem}")
        self.table = table
        self.row_key = row_key
        self.column = column


class ConcurrentChange(StoreError):
    """The trading engine changed an order between recon's read and its write."""

    def __init__(self, local_id: str, expected_state: str, actual_state: str | None) -> None:
        now = f"now {actual_state}" if actual_state is not None else "the row is gone"
        super().__init__(
            f"order {local_id} is no longer {expected_state} ({now}): something else changed "
            "it; run again to see the new state"
        )
        self.local_id = local_id
        self.expected_state = expected_state
        self.actual_state = actual_state
