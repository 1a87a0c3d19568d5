"""One reconciliation per database at a time: on SQLite an OS lock on the database file itself,
so every spelling of it — a symlink, a hard link, a relative path — meets the same lock; an
advisory lock on PostgreSQL. Both vanish with the process that held them, so a killed run never
blocks the next one.

SQLite keeps POSIX locks of its own on the database file, and closing any descriptor of that
file drops every one of them the process holds (sqlite.org/howtocorrupt.html, §2.2). So the
descriptor recon locks is opened once per file and kept for the life of the process; it is
closed only once the file is deleted, when no other process can open it any more."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.private_files import PRIVATE_FILE
from engine.store import DatabaseUnreachable, StoreError

# Any fixed 64-bit number; it names recon's lock among the database's advisory locks.
POSTGRES_LOCK_KEY = 0x7265636F6E
# Beside the database file, where the holder writes its pid for whoever finds the lock taken.
HOLDER_NOTE_SUFFIX = ".recon.lock"

FileIdentity = tuple[int, int]  # (device, inode)


class ReconciliationLocked(Exception):
    """Another reconciliation holds this database."""


class UnsafeLockFile(StoreError):
    """The holder's note beside the database is not a plain file recon may write: a symlink
    planted there would turn recon's write on another file."""


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


@contextmanager
def _sqlite_file_lock(database: str | None) -> Iterator[None]:
    if not database or database == ":memory:":
        yield  # a private in-memory database cannot be shared
        return
    identity = _DATABASE_FILES.take(database)
    try:
        _write_holder(database)
        yield
    finally:
        _DATABASE_FILES.release(identity)


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
