"""The engine's database read and written as the trading engine would, on SQLite or on
PostgreSQL alike: plain SQL through recon's own engine factory, usable from sync tests and
from inside a running event loop."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from engine.store import create_engine
from tests.aside import run_aside


def sql(db_url: str, statement: str, **values: Any) -> list[tuple[Any, ...]]:
    """Run one statement in a transaction of its own; the rows it returns, if any."""
    return run_aside(_execute(db_url, statement, values))


def sql_many(db_url: str, statement: str, rows: list[dict[str, Any]]) -> None:
    """One statement for each of `rows`, in one transaction."""
    run_aside(_execute(db_url, statement, rows))


def table_rows(db_url: str, table: str) -> list[tuple[Any, ...]]:
    return sql(db_url, f"SELECT * FROM {table} ORDER BY id")


async def _execute(
    db_url: str, statement: str, values: dict[str, Any] | list[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), values)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()
