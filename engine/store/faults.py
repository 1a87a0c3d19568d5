"""The database's own failures as the store's typed errors, each one line: a SQLite file another
writer holds past the busy timeout, a server that does not answer or cut the connection, and
anything else SQLAlchemy or its driver raises — never SQLAlchemy's traceback, its SQL or its
parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, InterfaceError, SQLAlchemyError

from engine.errors import first_line
from engine.store.database import SQLITE_BUSY_TIMEOUT_MS
from engine.store.errors import DatabaseLocked, DatabaseUnreachable, StoreError

# What SQLite says when another connection holds the lock past the busy timeout.
_LOCKED = ("database is locked", "database table is locked")


def database_fault(error: SQLAlchemyError | OSError | TimeoutError, doing: str) -> StoreError:
    """`error`, met while `doing` (`record the run`), as the store's typed error."""
    if isinstance(error, OSError | TimeoutError):  # the server's address refused or never answered
        return DatabaseUnreachable(f"{doing}: the database did not answer ({first_line(error)})")
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    said = first_line(cause)
    if any(locked in said for locked in _LOCKED):
        return DatabaseLocked(
            f"{doing}: the database is locked by another writer "
            f"(waited {SQLITE_BUSY_TIMEOUT_MS // 1000} s)"
        )
    if isinstance(error, InterfaceError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        return DatabaseUnreachable(f"{doing}: the connection to the database was lost ({said})")
    return StoreError(f"{doing}: {said}")


@asynccontextmanager
async def typed_store_errors(doing: str) -> AsyncIterator[None]:
    """Inside, any failure of the database is raised as the store's typed error."""
    try:
        yield
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise database_fault(error, doing) from error
