"""`recon db init` on real SQLite files: the SPEC §2 tables and the journal, safe to run twice,
around tables the trading engine made itself, and SQLite set up for a shared file."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.store import (
    SCHEMA_REVISION,
    SchemaNotReady,
    StoreError,
    create_engine,
    load_open_orders,
    load_trades_between,
    require_current_schema,
    schema_is_current,
    session_factory,
)
from engine.store.models import Base
from engine.store.schema import MIGRATIONS_DIR, head_revision, init_schema
from tests.factories import NOW
from tests.postgres import new_database

SPEC_COLUMNS = {
    "order_state": [
        "id", "local_id", "broker_id", "client_order_id", "correlation_id", "symbol", "side",
        "order_type", "order_role", "strategy", "qty_requested", "qty_filled", "avg_fill_price",
        "stop_price", "limit_price", "state", "parent_id", "last_error", "created_at",
        "updated_at",
    ],
    "order_event": [
        "id", "order_local_id", "event_type", "old_state", "new_state", "qty_filled",
        "fill_price", "broker_id", "detail", "recorded_at",
    ],
    "trade": [
        "id", "trade_id", "correlation_id", "symbol", "side", "qty", "entry_price",
        "exit_price", "entry_at", "exit_at", "pnl", "pnl_pct", "strategy", "duration_seconds",
        "commission",
    ],
}  # fmt: skip
JOURNAL_COLUMNS = {
    "recon_run": [
        "id", "run_id", "started_at", "finished_at", "outcome", "operator", "account_number",
        "paper", "dry_run", "summary_json",
    ],
    "recon_action": [
        "id", "run_id", "seq", "phase", "kind", "symbol", "target", "reason", "needs_decision",
        "decision", "decided_by", "decided_at", "outcome", "outcome_detail", "finished_at",
    ],
}  # fmt: skip

# The trading engine's own DDL: SPEC columns only, no Alembic.
ENGINE_DDL = [
    "CREATE TABLE order_state (id INTEGER PRIMARY KEY, local_id TEXT NOT NULL UNIQUE, "
    "broker_id TEXT, client_order_id TEXT UNIQUE, correlation_id TEXT NOT NULL, "
    "symbol TEXT NOT NULL, side TEXT NOT NULL, order_type TEXT NOT NULL, "
    "order_role TEXT NOT NULL, strategy TEXT, qty_requested TEXT NOT NULL, "
    "qty_filled TEXT NOT NULL DEFAULT '0', avg_fill_price TEXT, stop_price TEXT, "
    "limit_price TEXT, state TEXT NOT NULL, parent_id TEXT, last_error TEXT, "
    "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE order_event (id INTEGER PRIMARY KEY, order_local_id TEXT NOT NULL, "
    "event_type TEXT NOT NULL, old_state TEXT, new_state TEXT, qty_filled TEXT, "
    "fill_price TEXT, broker_id TEXT, detail TEXT, recorded_at TEXT NOT NULL)",
    "CREATE TABLE trade (id INTEGER PRIMARY KEY, trade_id TEXT NOT NULL UNIQUE, "
    "correlation_id TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL, "
    "entry_price TEXT NOT NULL, exit_price TEXT NOT NULL, entry_at TEXT NOT NULL, "
    "exit_at TEXT NOT NULL, pnl TEXT NOT NULL, pnl_pct TEXT NOT NULL, strategy TEXT, "
    "duration_seconds INTEGER NOT NULL, commission TEXT NOT NULL)",
]
# What the engine writes: every row names only SPEC columns, and leaves out those with defaults.
ENGINE_ROWS = [
    "INSERT INTO order_state (local_id, correlation_id, symbol, side, order_type, order_role, "
    "strategy, qty_requested, state, created_at, updated_at) VALUES ('engine-1', 'trip-1', "
    "'AAPL', 'buy', 'market', 'entry', 'momentum', '100', 'submitted', "
    "'2026-11-24T14:00:00Z', '2026-11-24T14:00:00Z')",
    "INSERT INTO order_event (order_local_id, event_type, old_state, new_state, recorded_at) "
    "VALUES ('engine-1', 'submitted', 'pending_submit', 'submitted', '2026-11-24T14:00:00Z')",
    "INSERT INTO trade (trade_id, correlation_id, symbol, side, qty, entry_price, exit_price, "
    "entry_at, exit_at, pnl, pnl_pct, strategy, duration_seconds, commission) VALUES ('t-0', "
    "'trip-0', 'MSFT', 'long', '10', '400.00', '401.50', '2026-11-24T14:30:00Z', "
    "'2026-11-24T15:00:00Z', '15.00', '0.00375', 'momentum', 1800, '0')",
]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "recon.db"


@pytest.fixture
def db_url(db_path: Path) -> str:
    return f"sqlite:///{db_path}"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


def raw(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(sql).fetchall()


def engine_runs(db_path: Path, *statements: str) -> None:
    with sqlite3.connect(db_path) as connection:
        for statement in statements:
            connection.execute(statement)


def columns(db_path: Path, table: str) -> list[str]:
    return [row[1] for row in raw(db_path, f"PRAGMA table_info({table})")]


def table_sql(db_path: Path) -> dict[str, str]:
    return dict(raw(db_path, "SELECT name, sql FROM sqlite_master WHERE type = 'table'"))


async def test_db_init_creates_the_spec_tables_and_the_journal(db_url: str, db_path: Path) -> None:
    report = await init_schema(db_url)
    assert report.created_tables == (
        "order_event",
        "order_state",
        "recon_action",
        "recon_run",
        "trade",
    )
    assert (report.previous_revision, report.current_revision) == (None, SCHEMA_REVISION)
    assert not report.already_current
    for table, expected in (SPEC_COLUMNS | JOURNAL_COLUMNS).items():
        assert columns(db_path, table) == expected
    assert raw(db_path, "SELECT version_num FROM alembic_version") == [(SCHEMA_REVISION,)]


async def test_a_fleets_databases_initialised_at_once_each_get_the_whole_schema(
    tmp_path: Path,
) -> None:
    """Alembic runs a migration through module globals: interleaved, one database ran the
    other's steps (`KeyError: 'script'`, `table order_state already exists`)."""
    paths = [tmp_path / f"{name}.db" for name in ("alpha", "bravo", "charlie")]
    reports = await asyncio.gather(*(init_schema(f"sqlite:///{path}") for path in paths))
    assert [report.current_revision for report in reports] == [SCHEMA_REVISION] * 3
    for path in paths:
        assert raw(path, "SELECT version_num FROM alembic_version") == [(SCHEMA_REVISION,)]
        assert columns(path, "order_state") == SPEC_COLUMNS["order_state"]


async def test_db_init_twice_is_safe_and_keeps_rows_and_spec_columns(
    db_url: str, db_path: Path
) -> None:
    await init_schema(db_url)
    engine_runs(db_path, *ENGINE_ROWS)
    second = await init_schema(db_url)
    assert second.already_current
    assert second.created_tables == ()
    assert second.describe() == f"{db_path}: schema already current (revision {SCHEMA_REVISION})"
    for table, expected in SPEC_COLUMNS.items():
        assert columns(db_path, table) == expected
    assert raw(db_path, "SELECT local_id FROM order_state") == [("engine-1",)]


async def test_db_init_on_the_engines_own_tables_keeps_them_and_adds_the_journal(
    db_url: str, db_path: Path, engine: AsyncEngine
) -> None:
    engine_runs(db_path, *ENGINE_DDL, *ENGINE_ROWS)
    engine_tables = table_sql(db_path)

    report = await init_schema(db_url)

    assert report.created_tables == ("recon_action", "recon_run")
    assert report.previous_revision is None
    assert "created recon_action, recon_run" in report.describe()
    after = table_sql(db_path)
    assert {table: after[table] for table in engine_tables} == engine_tables  # not altered
    assert raw(db_path, "SELECT local_id, state FROM order_state") == [("engine-1", "submitted")]
    assert raw(db_path, "SELECT count(*) FROM order_event") == [(1,)]
    assert await schema_is_current(engine)
    async with session_factory(engine)() as session:
        [order] = await load_open_orders(session)
    assert order.local_id == "engine-1"


async def test_db_init_refuses_an_engine_table_missing_a_spec_column_and_changes_nothing(
    db_url: str, db_path: Path
) -> None:
    engine_runs(
        db_path,
        "CREATE TABLE order_state (id INTEGER PRIMARY KEY, local_id TEXT, symbol TEXT, state TEXT)",
        "INSERT INTO order_state (local_id, symbol, state) VALUES ('old', 'AAPL', 'filled')",
    )
    with pytest.raises(SchemaNotReady, match="existing table order_state lacks broker_id, ") as no:
        await init_schema(db_url)
    assert "\n" not in str(no.value)
    assert set(table_sql(db_path)) == {"order_state"}
    assert raw(db_path, "SELECT local_id FROM order_state") == [("old",)]


async def test_engine_inserting_only_spec_columns_after_init_gets_the_defaults(
    db_url: str, db_path: Path, engine: AsyncEngine
) -> None:
    await init_schema(db_url)
    engine_runs(db_path, *ENGINE_ROWS)
    async with session_factory(engine)() as session:
        [order] = await load_open_orders(session)
        [trade] = await load_trades_between(session, NOW.replace(hour=0, minute=0), NOW)
    assert str(order.qty_filled) == "0"
    assert (trade.trade_id, str(trade.pnl)) == ("t-0", "15.00")


async def test_sqlite_runs_with_wal_a_busy_timeout_and_foreign_keys(
    db_url: str, db_path: Path, engine: AsyncEngine
) -> None:
    await init_schema(db_url)
    async with engine.connect() as connection:
        settings = [
            (await connection.exec_driver_sql(f"PRAGMA {pragma}")).scalar()
            for pragma in ("journal_mode", "busy_timeout", "foreign_keys")
        ]
    assert settings == ["wal", 5000, 1]
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]  # kept by the file itself


async def test_the_models_and_the_migration_describe_the_same_schema(
    db_url: str, engine: AsyncEngine
) -> None:
    await init_schema(db_url)

    def differences(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


def test_the_schema_revision_commands_check_is_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_REVISION


async def test_uninitialised_database_is_refused_with_the_command_to_run(
    db_url: str, engine: AsyncEngine
) -> None:
    assert not await schema_is_current(engine)
    with pytest.raises(SchemaNotReady, match=r"revision none, recon needs .*: run `recon db init`"):
        await require_current_schema(engine)
    await init_schema(db_url)
    assert await schema_is_current(engine)
    await require_current_schema(engine)


async def test_database_migrated_by_a_newer_recon_is_left_alone(db_url: str, db_path: Path) -> None:
    await init_schema(db_url)
    engine_runs(db_path, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaNotReady, match="revision 9999, which this recon does not know"):
        await init_schema(db_url)
    assert raw(db_path, "SELECT version_num FROM alembic_version") == [("9999",)]


@pytest.fixture
def not_a_database(db_path: Path) -> Path:
    db_path.write_bytes(b"certainly not sqlite " * 100)
    return db_path


async def test_a_file_that_is_not_a_database_is_one_clear_line(not_a_database: Path) -> None:
    db_path = not_a_database
    with pytest.raises(StoreError, match=f"cannot initialise {db_path}: .*not a database") as no:
        await init_schema(f"sqlite:///{db_path}")
    assert "\n" not in str(no.value)


async def test_the_database_folder_is_created_with_the_engine_not_before(tmp_path: Path) -> None:
    db_path = tmp_path / "not" / "yet" / "recon.db"
    url = f"sqlite:///{db_path}"
    assert not db_path.parent.exists()
    await init_schema(url)
    assert columns(db_path, "recon_run") == JOURNAL_COLUMNS["recon_run"]


def test_migrations_also_run_from_alembics_own_command_on_an_async_engine(db_path: Path) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{db_path}")
    command.upgrade(config, "head")
    assert raw(db_path, "SELECT version_num FROM alembic_version") == [(SCHEMA_REVISION,)]
    assert columns(db_path, "order_state") == SPEC_COLUMNS["order_state"]


async def test_db_init_twice_on_postgresql(postgres_server_url: str) -> None:
    url = new_database(postgres_server_url)
    report = await init_schema(url)
    assert set(report.created_tables) == {*SPEC_COLUMNS, "recon_run", "recon_action"}
    await init_schema(url)
    assert (await init_schema(url)).already_current
    engine = create_engine(url)
    try:
        assert await schema_is_current(engine)
        async with session_factory(engine)() as session:
            assert await load_open_orders(session) == []
    finally:
        await engine.dispose()
