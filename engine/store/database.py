"""Where the database is and how to open it: URL normalisation, the default file, and engines
with SQLite set up for a shared file (WAL, a busy timeout, foreign keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from engine.store.errors import StoreConfigError, StoreError

SQLITE_BUSY_TIMEOUT_MS = 5000
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def default_db_url() -> str:
    return f"sqlite+aiosqlite:///{Path(user_data_dir('recon')) / 'recon.db'}"


def normalize_db_url(raw: str) -> str:
    """A bare `sqlite:///path` (what the trading engine's config holds) runs through aiosqlite,
    `postgresql://` through asyncpg; async URLs pass unchanged."""
    url = _parsed(raw)
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is not None:
        url = url.set(drivername=driver)
    return url.render_as_string(hide_password=False)


def create_engine(raw_url: str) -> AsyncEngine:
    url = _parsed(normalize_db_url(raw_url))
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            folder = Path(url.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the database folder {folder}: {exc.strerror}"
                ) from None
        engine = _create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    return _create_async_engine(url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def database_label(raw_url: str) -> str:
    """The database as the operator knows it: the file path, or the URL without its password."""
    url = _parsed(normalize_db_url(raw_url))
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the console read while the trading engine writes; the timeout waits out the
    # engine's short write transactions instead of failing on them.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _parsed(raw: str) -> URL:
    try:
        return make_url(raw.strip())
    except ArgumentError:
        raise StoreConfigError(
            f"RECON_DB_URL (--db) is not a database URL: {raw!r} "
            "(expected e.g. sqlite:///path/to/recon.db)"
        ) from None
