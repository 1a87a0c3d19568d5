"""`recon db init`: create or upgrade the schema with Alembic, run from code so no alembic.ini
has to travel with the package. Safe to run twice, and on a database the trading engine
created itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.store.database import create_engine, database_label
from engine.store.errors import SchemaNotReady, StoreError
from engine.store.models import Base

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@dataclass(frozen=True, slots=True)
class SchemaReport:
    database: str
    previous_revision: str | None
    current_revision: str
    created_tables: tuple[str, ...]

    def describe(self) -> str:
        if self.previous_revision == self.current_revision:
            return f"{self.database}: schema already current (revision {self.current_revision})"
        created = ", ".join(self.created_tables) or "no tables"
        return (
            f"{self.database}: schema at revision {self.current_revision} "
            f"(was {self.previous_revision or 'none'}); created {created}"
        )


async def init_schema(url: str) -> SchemaReport:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            before, tables_before = await connection.run_sync(_revision_and_tables)
            await connection.run_sync(_upgrade_to_head)
            after, tables_after = await connection.run_sync(_revision_and_tables)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot initialise {database_label(url)}: {_first_line(exc)}") from exc
    finally:
        await engine.dispose()
    return SchemaReport(
        database=database_label(url),
        previous_revision=before,
        current_revision=after or "none",
        created_tables=tuple(sorted(tables_after - tables_before)),
    )


async def require_current_schema(engine: AsyncEngine) -> None:
    """Refuse to work on a database `recon db init` has not prepared."""
    try:
        async with engine.connect() as connection:
            revision, _ = await connection.run_sync(_revision_and_tables)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the database: {_first_line(exc)}") from exc
    if revision != _head_revision():
        raise SchemaNotReady(
            f"the database schema is at revision {revision or 'none'}, recon needs "
            f"{_head_revision()}: run `recon db init` first"
        )


def _alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade_to_head(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


def _revision_and_tables(connection: Connection) -> tuple[str | None, set[str]]:
    revision = MigrationContext.configure(connection).get_current_revision()
    tables = set(inspect(connection).get_table_names()) & set(Base.metadata.tables)
    return revision, tables


def _head_revision() -> str:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise StoreError("recon's migrations are missing from the installation")
    return head


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]
