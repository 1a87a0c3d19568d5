"""One reconciliation per database at a time: on SQLite an OS lock on the database file itself,
so every spelling of it — a symlink, a hard link, a relative path — meets the same lock; an
advisory lock on PostgreSQL. Both vanish with the process that held them, so a killed run never
blocks the next one.

SQLite keeps POSIX locks of its own on the database file, and closing any descriptor of that
file drops every one of them the process holds (sqlite.org/howtocorrupt.html, §2.2). So the
descriptor recon locks is opened once per file and kept for the life of the process; it is
closed only once the file is deleted, when no other process can open it any more.

A PostgreSQL advisory lock lives on one connection, and a server restart or a failover cuts
that connection and the lock with it. So a lock held for long (the guard's) is kept: before
each change it is checked, and taken again on a new connection if it went — unless another
process took it meanwhile. A standby waits for the lock instead of giving up, and holds it
as soon as it is free."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import stat
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Protocol

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from engine.private_files import PRIVATE_FILE
from engine.store import DatabaseUnreachable, StoreError, typed_store_errors

# Any fixed 64-bit number; it names recon's lock among the database's advisory locks.
POSTGRES_LOCK_KEY = 0x7265636F6E
# Beside the database file, where the holder writes its pid for whoever finds the lock taken.
HOLDER_NOTE_SUFFIX = ".recon.lock"

# How often a standby tries the lock: a takeover waits this long at most once it is free.
STANDBY_TRY_SECONDS = 1.0

FileIdentity = tuple[int, int]  # (device, inode)
log = structlog.get_logger("recon.lock")


class ReconciliationLocked(Exception):
    """Another reconciliation holds this database."""


class StoodDown(ReconciliationLocked):
    """A standby was stopped before the lock it waited for came free."""


class UnsafeLockFile(StoreError):
    """The holder's note beside the database is not a plain file recon may write: a symlink
    planted there would turn recon's write on another file."""


class HeldLock(Protocol):
    async def keep(self) -> None:
        """Before a change: the lock is still this process's, or is taken again; raises
        `ReconciliationLocked` if another process holds it now, a `StoreError` if the
        database cannot be reached to take it."""
        ...


class _Lock(HeldLock, Protocol):
    async def take(self) -> None: ...

    async def release(self) -> None: ...


@asynccontextmanager
async def reconciliation_lock(
    engine: AsyncEngine,
    *,
    standing_by: Callable[[str], None] | None = None,
    until: asyncio.Event | None = None,
) -> AsyncIterator[HeldLock]:
    """The database's lock, held inside. Held elsewhere, `ReconciliationLocked` at once — or,
    with `standing_by`, that callback hears why once and the lock is tried every
    `STANDBY_TRY_SECONDS` until it is free, or until `until` is set (`StoodDown`)."""
    lock = _lock_for(engine)
    stopped = until or asyncio.Event()
    while True:
        try:
            await lock.take()
            break
        except ReconciliationLocked as exc:
            if standing_by is None:
                raise
            standing_by(str(exc))
            standing_by = _quiet
        with suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), STANDBY_TRY_SECONDS)
        if stopped.is_set():
            raise StoodDown("stopped while standing by; the lock never came free")
    try:
        yield lock
    finally:
        await lock.release()


def _quiet(_: str) -> None:
    return None


def _lock_for(engine: AsyncEngine) -> _Lock:
    if engine.dialect.name == "sqlite":
        return _FileLock(engine.url.database)
    if engine.dialect.name == "postgresql":
        return _PostgresLock(engine)
    raise ReconciliationLocked(
        f"recon cannot lock a {engine.dialect.name} database; use SQLite or PostgreSQL"
    )


class _FileLock:
    """An flock on the database file; it lives as long as its descriptor, which this process
    never closes early, so it is never lost while held."""

    def __init__(self, database: str | None) -> None:
        # A private in-memory database cannot be shared, and needs no lock.
        self._database = None if not database or database == ":memory:" else database
        self._identity: FileIdentity | None = None

    async def take(self) -> None:
        if self._database is None:
            return
        identity = _DATABASE_FILES.take(self._database)
        try:
            _write_holder(self._database)
        except BaseException:
            _DATABASE_FILES.release(identity)
            raise
        self._identity = identity

    async def keep(self) -> None:
        return None

    async def release(self) -> None:
        if self._identity is not None:
            _DATABASE_FILES.release(self._identity)
            self._identity = None


class _OpenDatabaseFiles:
    """The descriptors this process locks its SQLite files by, one per file identity, and
    which of them a reconciliation of this process holds now."""

    def __init__(self) -> None:
        self._turn = threading.Lock()
        self._descriptors: dict[FileIdentity, int] = {}
        self._held: set[FileIdentity] = set()

    def take(self, database: str) -> FileIdentity:
        try:
            identity = _identity(os.stat(database))
        except OSError as exc:
            raise DatabaseUnreachable(
                f"cannot open {database} to lock it: {exc.strerror}"
            ) from None
        with self._turn:
            self._forget_deleted()
            if identity in self._held:
                raise ReconciliationLocked(
                    f"another reconciliation (pid {os.getpid()}, this process) is running on "
                    f"{database}"
                )
            descriptor = self._descriptors.get(identity)
            if descriptor is None:
                descriptor = os.open(database, os.O_RDONLY | os.O_CLOEXEC)
                identity = _identity(os.fstat(descriptor))
                self._descriptors[identity] = descriptor
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ReconciliationLocked(
                    f"another reconciliation (pid {_holder(database)}) is running on {database}"
                ) from None
            self._held.add(identity)
        return identity

    def release(self, identity: FileIdentity) -> None:
        with self._turn:
            self._held.discard(identity)
            fcntl.flock(self._descriptors[identity], fcntl.LOCK_UN)

    def _forget_deleted(self) -> None:
        for identity, descriptor in list(self._descriptors.items()):
            if identity not in self._held and os.fstat(descriptor).st_nlink == 0:
                os.close(descriptor)
                del self._descriptors[identity]


_DATABASE_FILES = _OpenDatabaseFiles()


def _note_path(database: str) -> Path:
    return Path(f"{os.path.realpath(database)}{HOLDER_NOTE_SUFFIX}")


def _write_holder(database: str) -> None:
    """This process's pid beside the database, for a second reconciliation to name; never
    written through a symlink, nor into anything but a plain file."""
    note = _note_path(database)
    try:
        descriptor = os.open(
            note,
            os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            PRIVATE_FILE,
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeLockFile(
                f"refusing {note}: it is a symbolic link, and recon never writes through one"
            ) from None
        raise UnsafeLockFile(f"cannot write {note}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise UnsafeLockFile(f"refusing {note}: it is not a plain file")
        os.fchmod(descriptor, PRIVATE_FILE)
        handle.truncate()
        handle.write(str(os.getpid()))


def _holder(database: str) -> str:
    try:
        descriptor = os.open(
            _note_path(database), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        )
    except OSError:
        return "unknown"
    with os.fdopen(descriptor) as handle:
        return handle.read(32).strip() or "unknown"


def _identity(status: os.stat_result) -> FileIdentity:
    return (status.st_dev, status.st_ino)


class _PostgresLock:
    """A session-level advisory lock, held on a connection of its own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def take(self) -> None:
        async with typed_store_errors("take the database's lock"):
            connection = await self._engine.connect()
            try:
                acquired = await connection.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": POSTGRES_LOCK_KEY}
                )
            except BaseException:
                await _closed(connection)
                raise
        if not acquired:
            await _closed(connection)
            raise ReconciliationLocked("another reconciliation is running on this database")
        self._connection = connection

    async def keep(self) -> None:
        if self._connection is not None and await _answers(self._connection):
            return
        log.warning("lock_connection_lost")
        if self._connection is not None:
            await _closed(self._connection)
            self._connection = None
        await self.take()
        log.info("lock_taken_again")

    async def release(self) -> None:
        """Let go; a lock whose connection is gone went with it, and there is nothing to do."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with suppress(SQLAlchemyError, OSError):
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": POSTGRES_LOCK_KEY}
            )
        await _closed(connection)


async def _answers(connection: AsyncConnection) -> bool:
    try:
        await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError):
        return False
    return True


async def _closed(connection: AsyncConnection) -> None:
    """Closed, however dead it already is."""
    with suppress(SQLAlchemyError, OSError):
        await connection.close()
