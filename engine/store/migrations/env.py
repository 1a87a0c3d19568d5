"""Alembic environment: migrations run on the connection `engine.store.schema` hands over, or,
from the `alembic` command line, on an async engine of their own through `run_sync`."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection

from engine.store.database import create_engine, default_db_url
from engine.store.models import Base


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_on_own_engine(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def database_url() -> str:
    return (
        context.config.get_main_option("sqlalchemy.url")
        or os.environ.get("RECON_DB_URL")
        or default_db_url()
    )


if context.is_offline_mode():
    # The first migration inspects what the trading engine already created: it needs a database.
    raise SystemExit("recon's migrations run against a database only; --sql is not supported")

given_connection = context.config.attributes.get("connection")
if given_connection is not None:
    run_migrations(given_connection)
else:
    asyncio.run(run_migrations_on_own_engine(database_url()))
