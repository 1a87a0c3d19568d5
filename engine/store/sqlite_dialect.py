"""aiosqlite's dialect, with one cache of compiled statements for every SQLite file the process
opens. SQLAlchemy keeps an engine's compiled statements keyed by the engine's dialect, which is
equal only to itself: a fleet of twenty SQLite files compiled each of recon's statements twenty
times. Every engine recon opens on SQLite makes this dialect with the same arguments over the
process's one sqlite3 library, so all of them compile every statement alike; two of them are
equal here, and their engines share one cache — the dialect's own cache key that
sqlalchemy/sqlalchemy#5002 proposes for SQLAlchemy itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.util import LRUCache

# The driver name that selects this dialect in a URL: `sqlite+recon_aiosqlite:///…`.
DRIVER = "recon_aiosqlite"
# Statements kept compiled: SQLAlchemy's size for one engine, and many times recon's own.
CACHED_STATEMENTS = 500

registry.register(f"sqlite.{DRIVER}", __name__, "SharedCacheSQLiteDialect")


class SharedCacheSQLiteDialect(SQLiteDialect_aiosqlite):
    # SQLAlchemy caches a dialect's statements only if its own class body says it may.
    supports_statement_cache = True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SharedCacheSQLiteDialect):
            return NotImplemented
        return self._compiles_by() == other._compiles_by()

    def __hash__(self) -> int:
        return hash(self._compiles_by())

    def _compiles_by(self) -> tuple[Any, ...]:
        """What this dialect compiles a statement by that is not its class's: the bind
        parameter style and the sqlite3 library, whose version decides what SQL it may use."""
        library = self.dbapi.sqlite_version_info if self.dbapi is not None else None
        return self.paramstyle, library


# Shared by every engine on a SQLite file, through its `compiled_cache` execution option.
SQLITE_STATEMENTS: LRUCache[Any, Any] = LRUCache(CACHED_STATEMENTS)
