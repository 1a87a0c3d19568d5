"""One reconciliation per database at a time: an OS file lock beside a SQLite file, an advisory
lock on PostgreSQL. Both vanish with the process that held them, so a killed run never blocks
the next one."""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.private_files import close_to_others

# Any fixed 64-bit number; it names recon's lock among the database's advisory locks.
POSTGRES_LOCK_KEY = 0x7265636F6E


class ReconciliationLocked(Exception):
    """Another reconciliation holds this database."""


@asynccontextmanager
async def reconciliation_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    if engine.dialect.name == "sqlite":
        with _sqlite_file_lock(engine.url.database):
            yield
    elif engine.dialect.name == "postgresql":
        async with _postgres_advisory_lock(engine):
            yield
    else:
        raise ReconciliationLocked(
            f"recon cannot lock a {engine.dialect.name} database; use SQLite or PostgreSQL"
        )


@contextmanager
def _sqlite_file_lock(database: str | None) -> Iterator[None]:
    if not database or database == ":memory:":
        yield  # a private in-memory database cannot be shared
        return
    path = Path(f"{database}.recon.lock")
    with path.open("a+") as handle:
        close_to_others(path)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ReconciliationLocked(
                f"another reconciliation (pid {holder}) is running on {database}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@asynccontextmanager
async def _postgres_advisory_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    async with engine.connect() as connection:
        acquired = await connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": POSTGRES_LOCK_KEY}
        )
        if not acquired:
            raise ReconciliationLocked("another reconciliation is running on this database")
        try:
            yield
        finally:
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": POSTGRES_LOCK_KEY}
            )
