"""The local store on a real SQLite file: exact Decimals, UTC text, the schema, bulk queries,
guarded state changes and the journal."""

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engine.domain import OrderState
from engine.store import (
    ConcurrentChange,
    CorruptRow,
    SchemaNotReady,
    create_engine,
    init_schema,
    journal,
    normalize_db_url,
    queries,
    require_current_schema,
    session_factory,
)
from engine.store.journal import PlannedActionRecord
from tests.factories import NOW, make_filled_entry, make_local_order, make_trade

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


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "recon.db"


@pytest.fixture
async def engine(db_path: Path) -> AsyncIterator[AsyncEngine]:
    await init_schema(f"sqlite:///{db_path}")
    engine = create_engine(f"sqlite:///{db_path}")
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


def columns(db_path: Path, table: str) -> list[str]:
    with sqlite3.connect(db_path) as connection:
        return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]


def raw(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(sql).fetchall()


async def test_db_init_twice_is_safe_and_leaves_the_spec_columns(db_path: Path) -> None:
    first = await init_schema(f"sqlite:///{db_path}")
    second = await init_schema(f"sqlite:///{db_path}")
    assert "order_state" in first.created_tables
    assert second.created_tables == ()
    assert "already current" in second.describe()
    for table, expected in SPEC_COLUMNS.items():
        assert columns(db_path, table) == expected
    assert {"recon_run", "recon_action"} <= {
        name for (name,) in raw(db_path, "SELECT name FROM sqlite_master WHERE type='table'")
    }


async def test_db_init_keeps_the_rows_of_tables_the_engine_created_itself(db_path: Path) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute(
            "CREATE TABLE order_state (id INTEGER PRIMARY KEY, local_id TEXT UNIQUE, "
            "broker_id TEXT, client_order_id TEXT UNIQUE, correlation_id TEXT, symbol TEXT, "
            "side TEXT, order_type TEXT, order_role TEXT, strategy TEXT, qty_requested TEXT, "
            "qty_filled TEXT DEFAULT '0', avg_fill_price TEXT, stop_price TEXT, "
            "limit_price TEXT, state TEXT, parent_id TEXT, last_error TEXT, created_at TEXT, "
            "updated_at TEXT)"
        )
        connection.execute(
            "INSERT INTO order_state (local_id, correlation_id, symbol, side, order_type, "
            "order_role, qty_requested, state, created_at, updated_at) VALUES ('keep-me', "
            "'c1', 'AAPL', 'buy', 'market', 'entry', '10', 'submitted', "
            "'2026-11-24T14:00:00Z', '2026-11-24T14:00:00Z')"
        )
    report = await init_schema(f"sqlite:///{db_path}")
    assert "order_state" not in report.created_tables
    assert raw(db_path, "SELECT local_id FROM order_state") == [("keep-me",)]
    assert "recon_run" in report.created_tables


async def test_engine_inserting_only_spec_columns_gets_the_defaults(
    engine: AsyncEngine, db_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute(
            "INSERT INTO order_state (local_id, correlation_id, symbol, side, order_type, "
            "order_role, qty_requested, state, created_at, updated_at) VALUES ('e1', 'c1', "
            "'AAPL', 'buy', 'market', 'entry', '10', 'submitted', '2026-11-24T14:00:00Z', "
            "'2026-11-24T14:00:00Z')"
        )
    async with sessions() as session:
        [order] = await queries.load_open_orders(session)
    assert order.qty_filled == Decimal(0)


async def test_sqlite_runs_in_wal_mode(engine: AsyncEngine, db_path: Path) -> None:
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    qty=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999999"), places=4),
    price=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("999999"), places=6),
)
async def test_decimals_round_trip_exactly(
    sessions: async_sessionmaker[AsyncSession], qty: Decimal, price: Decimal
) -> None:
    local_id = f"rt-{qty}-{price}"
    order = replace(
        make_local_order(local_id, qty=str(qty), stop_price=None),
        avg_fill_price=price,
        client_order_id=None,
    )
    async with sessions.begin() as session:
        await queries.insert_order(session, order, event_type="test", detail="", at=NOW)
    async with sessions() as session:
        loaded = {o.local_id: o for o in await queries.load_open_orders(session)}[local_id]
    assert (loaded.qty_requested, loaded.avg_fill_price) == (qty, price)
    assert str(loaded.qty_requested) == str(qty)


async def test_scale_is_kept_and_timestamps_are_utc_text_ending_in_z(
    sessions: async_sessionmaker[AsyncSession], db_path: Path
) -> None:
    order = replace(
        make_local_order("scale", qty="10.50"), created_at=NOW + timedelta(microseconds=5)
    )
    async with sessions.begin() as session:
        await queries.insert_order(session, order, event_type="test", detail="", at=NOW)
    assert raw(db_path, "SELECT qty_requested, created_at, updated_at FROM order_state") == [
        ("10.50", "2026-11-24T15:31:00.000005Z", "2026-11-24T13:31:00Z")
    ]


async def test_naive_datetime_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    order = replace(make_local_order("naive"), created_at=NOW.replace(tzinfo=None))
    with pytest.raises(StatementError, match="naive datetime"):
        async with sessions.begin() as session:
            await queries.insert_order(session, order, event_type="test", detail="", at=NOW)


@pytest.mark.parametrize(
    ("column", "value", "complaint"),
    [
        ("qty_requested", "ten", "qty_requested 'ten' is not a number"),
        ("state", "exploded", "state is 'exploded', not a known value"),
        ("created_at", "yesterday", "created_at 'yesterday' is not an ISO-8601"),
    ],
)
async def test_corrupt_row_is_reported_with_its_row_and_column(
    sessions: async_sessionmaker[AsyncSession],
    db_path: Path,
    column: str,
    value: str,
    complaint: str,
) -> None:
    async with sessions.begin() as session:
        await queries.insert_order(
            session, make_local_order("bad"), event_type="t", detail="", at=NOW
        )
    with sqlite3.connect(db_path) as connection:
        connection.execute(f"UPDATE order_state SET {column} = ?", (value,))
    with pytest.raises(CorruptRow, match=f"order_state \\(local_id bad\\): {complaint}"):
        async with sessions() as session:
            await queries.load_open_orders(session)


async def test_state_change_from_a_stale_state_raises_and_writes_nothing(
    sessions: async_sessionmaker[AsyncSession], db_path: Path
) -> None:
    async with sessions.begin() as session:
        await queries.insert_order(
            session, make_local_order("o1"), event_type="t", detail="", at=NOW
        )
    with pytest.raises(ConcurrentChange, match="no longer submitted"):
        async with sessions.begin() as session:
            await queries.apply_state_change(
                session,
                "o1",
                expected_state=OrderState.SUBMITTED,
                new_state=OrderState.FILLED,
                broker_id=None,
                qty_filled=Decimal(100),
                avg_fill_price=None,
                event_type="t",
                detail="",
                at=NOW,
            )
    assert raw(db_path, "SELECT state FROM order_state") == [("accepted",)]
    assert raw(db_path, "SELECT count(*) FROM order_event") == [(1,)]


async def test_state_change_writes_its_event_in_the_same_transaction(
    sessions: async_sessionmaker[AsyncSession], db_path: Path
) -> None:
    async with sessions.begin() as session:
        await queries.insert_order(
            session, make_local_order("o1"), event_type="t", detail="", at=NOW
        )
    async with sessions.begin() as session:
        await queries.apply_state_change(
            session,
            "o1",
            expected_state=OrderState.ACCEPTED,
            new_state=OrderState.CANCELED,
            broker_id="b-1",
            qty_filled=Decimal(0),
            avg_fill_price=None,
            event_type="take_broker_state",
            detail="the broker reports canceled",
            at=NOW,
        )
    assert raw(db_path, "SELECT old_state, new_state, broker_id FROM order_event WHERE id = 2") == [
        ("accepted", "canceled", "b-1")
    ]


async def count_queries(engine: AsyncEngine, work: object) -> int:
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await work  # type: ignore[misc]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return len(statements)


@pytest.mark.parametrize("book_size", [10, 1000])
async def test_loaders_run_a_fixed_number_of_queries_whatever_the_book_size(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], book_size: int
) -> None:
    async with sessions.begin() as session:
        for n in range(book_size):
            await queries.insert_order(
                session,
                make_local_order(f"o{n}", symbol=f"S{n % 50}", client_order_id=f"c{n}"),
                event_type="t",
                detail="",
                at=NOW,
            )
            await queries.insert_order(
                session,
                replace(
                    make_filled_entry(f"S{n % 50}"), local_id=f"e{n}", correlation_id=f"trip-{n}"
                ),
                event_type="t",
                detail="",
                at=NOW,
            )

    async def load_everything() -> None:
        async with sessions() as session:
            await queries.load_open_orders(session)
            await queries.load_orders_linked_to(
                session, ["x"] * 5, [f"c{n}" for n in range(book_size)]
            )
            await queries.load_round_trips(session, [f"S{n}" for n in range(50)])
            await queries.load_trades_between(session, NOW - timedelta(days=1), NOW)

    assert await count_queries(engine, load_everything()) == 4


async def test_trades_are_loaded_in_exit_order_within_the_range(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        for trade in (make_trade("5", 10), make_trade("-3", 90), make_trade("1", 60 * 30)):
            await queries.insert_trade(session, trade)
    async with sessions() as session:
        trades = await queries.load_trades_between(session, NOW - timedelta(hours=3), NOW)
    assert [t.pnl for t in trades] == [Decimal("-3"), Decimal("5")]


async def test_journal_records_a_run_and_reports_it_unfinished_until_closed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await journal.start_run(
            session,
            run_id="r1",
            operator="ops",
            account_number="PA1",
            paper=True,
            dry_run=False,
            started_at=NOW,
        )
        await journal.record_planned_actions(
            session,
            "r1",
            [PlannedActionRecord(1, "orders", "cancel_orphan", "GOOGL", "b1", "why", True)],
        )
        await journal.record_decision(
            session, "r1", 1, decision="confirmed", decided_by="ops", decided_at=NOW
        )
    async with sessions() as session:
        [unfinished] = await journal.find_unfinished_runs(session)
    assert (unfinished.run_id, unfinished.actions_planned, unfinished.actions_finished) == (
        "r1",
        1,
        0,
    )
    async with sessions.begin() as session:
        await journal.close_unfinished_run(session, "r1", noticed_by="r2", at=NOW)
    async with sessions() as session:
        assert await journal.find_unfinished_runs(session) == []
        [action] = await journal.load_run_actions(session, "r1")
    assert (action.decision, action.decided_by, action.decided_at) == ("confirmed", "ops", NOW)


async def test_uninitialised_database_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(SchemaNotReady, match="recon db init"):
            await require_current_schema(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("sqlite:///var/recon.db", "sqlite+aiosqlite:///var/recon.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u:p@db/recon", "postgresql+asyncpg://u:p@db/recon"),
    ],
)
def test_bare_urls_are_run_through_async_drivers(given_url: str, expected: str) -> None:
    assert normalize_db_url(given_url) == expected
