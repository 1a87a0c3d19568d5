"""Whether a database carries the schema this recon expects, checked with one plain query so
commands that only read and write rows need not load Alembic."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.errors import first_line
from engine.store.database import engine_label
from engine.store.errors import DatabaseUnreachable, SchemaNotReady, StoreError

# The head of engine/store/migrations; a test keeps the two in step.
SCHEMA_REVISION = "0001"
VERSION_TABLE = "alembic_version"


async def schema_is_current(engine: AsyncEngine) -> bool:
    """Whether `recon db init` has brought this database to the revision this recon needs."""
    return await current_revision(engine) == SCHEMA_REVISION


async def require_current_schema(engine: AsyncEngine) -> None:
    """Refuse, in one line, to work on a database `recon db init` has not prepared."""
    revision = await current_revision(engine)
    if revision != SCHEMA_REVISION:
        raise SchemaNotReady(
            f"the database schema is at revision {revision or 'none'}, recon needs "
            f"{SCHEMA_REVISION}: run `recon db init` first"
        )


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision Alembic stamped, or None on a database recon never initialised."""
    label = engine_label(engine)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_stamped_revision)
    except (OSError, TimeoutError) as exc:  # the server's address refused or never answered
        raise DatabaseUnreachable(f"cannot reach the database {label}: {first_line(exc)}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the database: {first_line(exc)}") from exc


def _stamped_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    revisions = connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    # One row on a linear history; several would mean branches this recon never made.
    return revisions[0] if len(revisions) == 1 else ", ".join(sorted(revisions)) or None
