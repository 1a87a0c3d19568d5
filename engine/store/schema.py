"""`recon db init`: create or upgrade the schema with Alembic run from code (no alembic.ini
travels with the package), safe to run twice and on a database whose SPEC tables the trading
engine created itself, which are completed around and never altered."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import SQLAlchemyError

from engine.errors import first_line
from engine.store.database import create_engine, database_label
from engine.store.errors import DatabaseUnreachable, SchemaNotReady, StoreError
from engine.store.models import SPEC_TABLES, Base
from engine.store.revision import VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Alembic keeps the migration being run in module globals (`alembic.context`, `alembic.op`), so
# two migrations interleaved on one event loop — a fleet's databases seeded at once — would run
# each other's steps. One at a time per loop.
_MIGRATING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class SchemaReport:
    """What `init_schema` found and did."""

    database: str
    previous_revision: str | None  # None: the database had never been initialised by recon
    current_revision: str
    created_tables: tuple[str, ...]

    @property
    def already_current(self) -> bool:
        return self.previous_revision == self.current_revision

    def describe(self) -> str:
        if self.already_current:
            return f"{self.database}: schema already current (revision {self.current_revision})"
        created = ", ".join(self.created_tables) or "no tables"
        return (
            f"{self.database}: schema at revision {self.current_revision} "
            f"(was {self.previous_revision or 'none'}); created {created}"
        )


async def init_schema(url: str) -> SchemaReport:
    """Create what is missing and bring the schema to the newest revision."""
    label = database_label(url)
    migrating = _MIGRATING.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with migrating:
        return await _init_schema(url, label)


async def _init_schema(url: str, label: str) -> SchemaReport:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            before, tables_before = await connection.run_sync(_revision_and_tables)
            if before is None:
                await connection.run_sync(_check_engine_tables)
            elif before != head_revision() and before not in _known_revisions():
                raise SchemaNotReady(_newer_revision_message(before))
            await connection.run_sync(_upgrade_to_head)
            after, tables_after = await connection.run_sync(_revision_and_tables)
    except (OSError, TimeoutError) as exc:  # the server's address refused or never answered
        raise DatabaseUnreachable(f"cannot reach the database {label}: {first_line(exc)}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot initialise {label}: {first_line(exc)}") from exc
    except CommandError as exc:
        raise StoreError(f"cannot migrate {label}: {first_line(exc)}") from exc
    finally:
        await engine.dispose()
    return SchemaReport(
        database=label,
        previous_revision=before,
        current_revision=after or "none",
        created_tables=tuple(sorted(tables_after - tables_before)),
    )


def head_revision() -> str:
    """The newest migration shipped with this recon."""
    head = _script_directory().get_current_head()
    if head is None:
        raise StoreError("recon's migrations are missing from the installation")
    return head


def _check_engine_tables(connection: Connection) -> None:
    """The trading engine's own tables, if it made them, must hold every SPEC column: recon
    adds tables beside them but never alters them."""
    inspector = inspect(connection)
    existing = set(inspector.get_table_names())
    for table in SPEC_TABLES:
        if table not in existing:
            continue
        present = {column["name"] for column in inspector.get_columns(table)}
        missing = [c.name for c in Base.metadata.tables[table].columns if c.name not in present]
        if missing:
            raise SchemaNotReady(
                f"the existing table {table} lacks {', '.join(missing)}; recon does not alter "
                "the trading engine's tables (is this the engine's database?)"
            )


def _alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())


def _known_revisions() -> set[str]:
    return {script.revision for script in _script_directory().walk_revisions()}


def _upgrade_to_head(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


def _revision_and_tables(connection: Connection) -> tuple[str | None, set[str]]:
    revision = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE}
    ).get_current_revision()
    tables = set(inspect(connection).get_table_names()) & set(Base.metadata.tables)
    return revision, tables


def _newer_revision_message(revision: str) -> str:
    return (
        f"the database schema is at revision {revision}, which this recon does not know "
        f"(it knows up to {head_revision()}): a newer recon migrated it; upgrade recon"
    )
