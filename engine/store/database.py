"""Where the database is and how to open it: URL normalisation, the default file, and engines
with SQLite set up for a file shared with the trading engine (WAL, a busy timeout, foreign keys)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.util import LRUCache

from engine.private_files import PRIVATE_FOLDER, close_to_others, private_folder
from engine.store.errors import StoreConfigError, StoreError

SQLITE_BUSY_TIMEOUT_MS = 5000
# A server that does not answer is reported as unreachable after this, not waited on for
# asyncpg's default minute.
CONNECT_TIMEOUT_SECONDS = 10
DEFAULT_DB_FILENAME = "recon.db"
# The synchronous spellings the trading engine's own config may hold, and the async driver
# recon runs them through. `postgres://` is what many hosting providers hand out.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
}
# recon's SQLite dialect (`engine.store.sqlite_dialect`), loaded by the first SQLite engine,
# and the compiled statements every SQLite engine of the process shares through it.
SQLITE_DRIVER = "recon_aiosqlite"
registry.register(
    f"sqlite.{SQLITE_DRIVER}", "engine.store.sqlite_dialect", "SharedCacheSQLiteDialect"
)
# SQLAlchemy's size for one engine's cache, and many times the statements recon has.
SQLITE_STATEMENTS: LRUCache[Any, Any] = LRUCache(500)
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)(?P<password>[^@]*)@")
# Where a database URL came from, as error messages name it.
DB_URL_SETTING = "RECON_DB_URL (--db)"
_URL_EXAMPLE = "expected e.g. sqlite:///path/to/recon.db or postgresql://user@host/recon"


def default_db_url() -> str:
    """A SQLite file in the user's data directory; the directory is made when an engine is."""
    return f"sqlite+aiosqlite:///{_default_db_path()}"


def _default_db_path() -> Path:
    return Path(user_data_dir("recon")) / DEFAULT_DB_FILENAME


def normalize_db_url(raw: str, *, setting: str = DB_URL_SETTING) -> str:
    """A bare `sqlite:///path` (what the trading engine's config holds) runs through aiosqlite,
    `postgresql://` through asyncpg; async URLs pass unchanged. Anything that is not a URL of
    a database SQLAlchemy can reach asynchronously raises `StoreConfigError`."""
    text = raw.strip()
    url = _parsed(text, setting)
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is not None:
        # Swap only the scheme, so the rest reads exactly as the operator wrote it.
        text = driver + text[text.index("://") :]
        url = _parsed(text, setting)
    try:
        dialect = url.get_dialect(_is_async=True)
    except NoSuchModuleError:
        raise StoreConfigError(
            f"{setting} names an unknown database {url.drivername!r} ({_URL_EXAMPLE})"
        ) from None
    if not dialect.is_async:
        raise StoreConfigError(
            f"{setting} uses {url.drivername!r}, which has no asyncio driver "
            "(use e.g. sqlite+aiosqlite:// or postgresql+asyncpg://)"
        )
    return text


def create_engine(raw_url: str) -> AsyncEngine:
    """An async engine for the URL; for SQLite the file's folder is created first, every
    connection gets WAL, a busy timeout and foreign keys, and every statement is compiled once
    for all the process's SQLite files."""
    url = _parsed(normalize_db_url(raw_url))
    if url.get_backend_name() != "sqlite":
        try:
            return _create_async_engine(
                url, pool_pre_ping=True, connect_args={"timeout": CONNECT_TIMEOUT_SECONDS}
            )
        except ImportError as exc:
            raise StoreConfigError(
                f"{DB_URL_SETTING} names {url.get_backend_name()}, whose driver "
                f"{url.get_driver_name()} cannot be loaded ({exc}); `make install` installs it"
            ) from None
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        path = Path(url.database).expanduser()
        folder = path.parent
        try:
            if path == _default_db_path():  # recon's own: closed to others even if it was open
                private_folder(folder)
                close_to_others(path)
            else:
                folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
        except OSError as exc:
            raise StoreError(
                f"cannot create the database folder {folder}: {exc.strerror}"
            ) from None
    engine = _create_async_engine(
        url.set(drivername=f"sqlite+{SQLITE_DRIVER}"),
        execution_options={"compiled_cache": SQLITE_STATEMENTS},
    )
    event.listen(engine.sync_engine, "connect", _configure_sqlite)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Rows outlive their transaction: each read or change is its own short transaction.
    return async_sessionmaker(engine, expire_on_commit=False)


def database_label(raw_url: str) -> str:
    """The database as the operator knows it: the file path, or the URL without its password."""
    return _label(_parsed(normalize_db_url(raw_url)))


def engine_label(engine: AsyncEngine) -> str:
    """The database `engine` opens, as `database_label` names it."""
    return _label(engine.url)


def _label(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def without_password(raw_url: str) -> str:
    """The URL as written, its password (if any) shown as `***`: what a repr may show."""
    try:
        return make_url(raw_url.strip()).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _without_password(raw_url)


def database_passwords(raw_url: str) -> tuple[str, ...]:
    """The URL's password as written in it and as it decodes (`p%40ss` is `p@ss`), for the
    scrubber; none for a URL without one, or one that is not a URL."""
    written = _PASSWORD_IN_URL.search(raw_url.strip())
    found = [written.group("password")] if written else []
    try:
        password = make_url(raw_url.strip()).password
    except (ArgumentError, ValueError):
        password = None
    if password:
        found.append(str(password))
    return tuple(dict.fromkeys(found))


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets recon read while the trading engine writes; the timeout waits out the engine's
    # short write transactions instead of failing on them.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _parsed(raw: str, setting: str = DB_URL_SETTING) -> URL:
    try:
        return make_url(raw.strip())
    except (ArgumentError, ValueError):
        raise StoreConfigError(
            f"{setting} is not a database URL: {_without_password(raw)!r} ({_URL_EXAMPLE})"
        ) from None


def _without_password(raw: str) -> str:
    return _PASSWORD_IN_URL.sub(r"\1***@", raw.strip())
