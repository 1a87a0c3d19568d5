"""aiosqlite's dialect, equal to any other made alike, so that every SQLite file the process
opens shares one cache of compiled statements. SQLAlchemy keeps an engine's compiled statements
keyed by the engine's dialect, which is equal only to itself: a fleet of twenty SQLite files
compiled each of recon's statements twenty times. Every engine recon opens on SQLite makes this
dialect with the same arguments over the process's one sqlite3 library, so all of them compile
every statement alike — the dialect's own cache key that sqlalchemy/sqlalchemy#5002 proposes for
SQLAlchemy itself. `engine.store.database` registers it, and SQLAlchemy loads this module only
when the first SQLite engine is made."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite


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
