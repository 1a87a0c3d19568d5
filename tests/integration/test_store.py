"""The store on a real SQLite file and on a real PostgreSQL server: exact Decimals and UTC text
through the database, corrupt rows reported by row and column, bulk loaders at a fixed query
count, guarded state changes, and the journal."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, literal_column, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engine.domain import LocalOrder, OrderRole, OrderState, OrderType, Side
from engine.store import (
    ConcurrentChange,
    CorruptRow,
    PlannedActionRecord,
    StoreError,
    apply_state_change,
    close_unfinished_run,
    create_engine,
    find_unfinished_runs,
    finish_run,
    insert_order,
    insert_trade,
    load_open_orders,
    load_orders_linked_to,
    load_round_trips,
    load_run_actions,
    load_trades_between,
    record_decision,
    record_outcome,
    record_planned_actions,
    session_factory,
    start_run,
)
from engine.store.database import SQLITE_STATEMENTS
from engine.store.journal import OutcomeRecord, record_outcomes
from engine.store.schema import init_schema
from tests.factories import NOW, make_filled_entry, make_local_order, make_trade
from tests.integration.database import sql, sql_many

Sessions = async_sessionmaker[AsyncSession]
ORDER_COLUMNS = (
    "local_id, broker_id, client_order_id, correlation_id, symbol, side, order_type, order_role, "
    "qty_requested, qty_filled, state, created_at, updated_at"
)
_local_ids = count()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    await init_schema(db_url)
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> Sessions:
    return session_factory(engine)


def raw(db_url: str, statement: str, *params: object) -> list[tuple[Any, ...]]:
    """What is really in the database, read in plain SQL past recon's store, as another
    process would."""
    return sql(db_url, _named(statement), **_by_name(params))


def engine_writes(db_url: str, statement: str, rows: list[tuple[object, ...]]) -> None:
    """Rows written the way the trading engine writes them: plain SQL naming SPEC columns."""
    sql_many(db_url, _named(statement), [_by_name(row) for row in rows])


def _named(statement: str) -> str:
    """`?` placeholders as the named ones SQLAlchemy takes on every backend: `:p0`, `:p1`…"""
    parts = statement.split("?")
    return "".join(f"{part}:p{n}" for n, part in enumerate(parts[:-1])) + parts[-1]


def _by_name(values: tuple[object, ...]) -> dict[str, object]:
    return {f"p{n}": value for n, value in enumerate(values)}


def engine_order(
    local_id: str,
    *,
    state: str = "accepted",
    symbol: str = "AAPL",
    role: str = "stop_loss",
    qty_filled: str = "0",
    broker_id: str | None = None,
    client_order_id: str | None = None,
    correlation_id: str | None = None,
) -> tuple[object, ...]:
    return (
        local_id,
        broker_id,
        client_order_id,
        correlation_id or f"trip-{symbol}",
        symbol,
        "sell" if role == "stop_loss" else "buy",
        "stop" if role == "stop_loss" else "market",
        role,
        "100",
        qty_filled,
        state,
        "2026-11-24T13:31:00Z",
        "2026-11-24T13:31:00Z",
    )


def insert_engine_orders(db_url: str, rows: list[tuple[object, ...]]) -> None:
    placeholders = ", ".join("?" * len(ORDER_COLUMNS.split(",")))
    engine_writes(
        db_url, f"INSERT INTO order_state ({ORDER_COLUMNS}) VALUES ({placeholders})", rows
    )


async def write_order(sessions: Sessions, order: LocalOrder) -> None:
    async with sessions.begin() as session:
        await insert_order(session, order)


# Exact values through the database ---------------------------------------------------------

# Any scale a price or quantity may carry, from whole shares to crypto's eight places.
amounts = st.integers(min_value=0, max_value=8).flatmap(
    lambda places: st.decimals(allow_nan=False, allow_infinity=False, places=places)
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(qty=amounts, filled=amounts, price=amounts)
@example(qty=Decimal("10.50"), filled=Decimal("0.0001"), price=Decimal("123456789012345.678901"))
@example(qty=Decimal("100"), filled=Decimal("-0.00"), price=Decimal("99999999999999999999.99"))
async def test_money_and_quantities_round_trip_exactly_with_their_scale(
    sessions: Sessions, db_url: str, qty: Decimal, filled: Decimal, price: Decimal
) -> None:
    local_id = f"exact-{next(_local_ids)}"
    order = replace(
        make_local_order(local_id, client_order_id=local_id),
        qty_requested=qty,
        qty_filled=filled,
        avg_fill_price=price,
        stop_price=price,
        limit_price=qty,
    )
    await write_order(sessions, order)
    async with sessions() as session:
        [loaded] = await load_orders_linked_to(session, [], [local_id])
    read_back = (loaded.qty_requested, loaded.qty_filled, loaded.avg_fill_price, loaded.limit_price)
    assert tuple(map(str, read_back)) == (str(qty), str(filled), str(price), str(qty))
    assert raw(
        db_url,
        "SELECT qty_requested, avg_fill_price FROM order_state WHERE local_id = ?",
        local_id,
    ) == [(str(qty), str(price))]


async def test_trade_amounts_and_negative_pnl_round_trip_exactly(sessions: Sessions) -> None:
    trade = replace(
        make_trade("-12.3400", 5), pnl_pct=Decimal("-0.001234"), commission=Decimal("0.0035")
    )
    async with sessions.begin() as session:
        await insert_trade(session, trade)
    async with sessions() as session:
        [loaded] = await load_trades_between(session, NOW - timedelta(hours=1), NOW)
    assert loaded == trade
    assert (str(loaded.pnl), str(loaded.commission)) == ("-12.3400", "0.0035")


async def test_timestamps_are_stored_as_utc_text_ending_in_z(
    sessions: Sessions, db_url: str
) -> None:
    new_york = timezone(timedelta(hours=-5))
    order = replace(
        make_local_order("times"),
        created_at=datetime(2026, 11, 24, 10, 31, 0, 123456, tzinfo=new_york),
        updated_at=datetime(2026, 11, 24, 15, 31, tzinfo=UTC),
    )
    async with sessions.begin() as session:
        await insert_order(session, order, at=NOW)
    assert raw(db_url, "SELECT created_at, updated_at FROM order_state") == [
        ("2026-11-24T15:31:00.123456Z", "2026-11-24T15:31:00Z")
    ]
    assert raw(db_url, "SELECT recorded_at FROM order_event") == [("2026-11-24T15:31:00Z",)]
    async with sessions() as session:
        [loaded] = await load_open_orders(session)
    assert (loaded.created_at, loaded.updated_at) == (order.created_at, order.updated_at)
    assert loaded.created_at.tzinfo is UTC


async def test_naive_datetime_is_refused_and_nothing_is_written(
    sessions: Sessions, db_url: str
) -> None:
    order = replace(make_local_order("naive"), created_at=NOW.replace(tzinfo=None))
    with pytest.raises(StatementError, match="refusing to store naive datetime"):
        await write_order(sessions, order)
    assert raw(db_url, "SELECT count(*) FROM order_state") == [(0,)]


# Corrupt rows -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "complaint"),
    [
        ("qty_requested", "ten", "qty_requested 'ten' is not a number"),
        ("qty_filled", "NaN", "qty_filled 'NaN' is not a finite number"),
        ("avg_fill_price", "1.2.3", "avg_fill_price '1.2.3' is not a number"),
        ("state", "exploded", "state is 'exploded', not a known value"),
        ("side", "hold", "side is 'hold', not a known value"),
        ("order_role", "hedge", "order_role is 'hedge', not a known value"),
        ("order_type", "iceberg", "order_type is 'iceberg', not a known value"),
        ("created_at", "yesterday", "created_at 'yesterday' is not an ISO-8601 timestamp"),
        ("updated_at", "2026-11-24T15:31:00", "updated_at '2026-11-24T15:31:00' has no time zone"),
        # Year 1 an hour east of UTC is year 0 in UTC: converting it overflowed.
        (
            "created_at",
            "0001-01-01T00:00:00+01:00",
            "created_at '0001-01-01T00:00:00+01:00' is beyond any time recon can hold",
        ),
        (
            "updated_at",
            "0001-01-01T00:00:00Z",
            "updated_at is '0001-01-01T00:00:00Z', outside 1970 to 9000",
        ),
        ("qty_filled", "1e999999", "qty_filled is '1E+999999', beyond 1E+1000 in size"),
    ],
)
async def test_corrupt_order_row_is_reported_with_its_local_id_and_column(
    sessions: Sessions, db_url: str, column: str, value: str, complaint: str
) -> None:
    insert_engine_orders(db_url, [engine_order("good"), engine_order("bad")])
    engine_writes(db_url, f"UPDATE order_state SET {column} = ? WHERE local_id = 'bad'", [(value,)])
    with pytest.raises(CorruptRow) as raised:
        async with sessions() as session:
            await load_open_orders(session)
    assert str(raised.value) == f"corrupt row in order_state (local_id bad): {complaint}"
    assert (raised.value.table, raised.value.row_key, raised.value.column) == (
        "order_state",
        "local_id bad",
        column,
    )


@pytest.mark.parametrize(
    "load",
    [
        lambda session: load_orders_linked_to(session, [], ["c-bad"]),
        lambda session: load_orders_linked_to(session, ["b-bad"], []),
        lambda session: load_round_trips(session, ["AAPL"]),
    ],
    ids=["linked_by_client_id", "linked_by_broker_id", "round_trips"],
)
async def test_every_order_loader_reports_a_corrupt_row_instead_of_skipping_it(
    sessions: Sessions, db_url: str, load: Callable[[AsyncSession], Awaitable[object]]
) -> None:
    insert_engine_orders(
        db_url,
        [
            engine_order(
                "bad", state="filled", role="entry", qty_filled="100", broker_id="b-bad",
                client_order_id="c-bad",
            )
        ],
    )  # fmt: skip
    engine_writes(db_url, "UPDATE order_state SET qty_filled = 'lots'", [()])
    with pytest.raises(CorruptRow, match=r"order_state \(local_id bad\): qty_filled 'lots'"):
        async with sessions() as session:
            await load(session)


async def test_corrupt_trade_row_is_reported_with_its_trade_id_and_column(
    sessions: Sessions, db_url: str
) -> None:
    async with sessions.begin() as session:
        await insert_trade(session, make_trade("5", 10))
    engine_writes(db_url, "UPDATE trade SET pnl = 'profit'", [()])
    with pytest.raises(CorruptRow, match=r"^corrupt row in trade \(trade_id t-AAPL-10\): pnl"):
        async with sessions() as session:
            await load_trades_between(session, NOW - timedelta(hours=1), NOW)


async def test_a_trade_amount_too_large_to_add_up_is_a_corrupt_row(
    sessions: Sessions, db_url: str
) -> None:
    async with sessions.begin() as session:
        await insert_trade(session, make_trade("5", 10))
    engine_writes(db_url, "UPDATE trade SET pnl = '-9e999999'", [()])
    with pytest.raises(CorruptRow, match=r"trade \(trade_id t-AAPL-10\): pnl .* in size"):
        async with sessions() as session:
            await load_trades_between(session, NOW - timedelta(hours=1), NOW)


async def test_text_that_is_not_utf8_is_a_corrupt_row_naming_its_column(
    sessions: Sessions, db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL refuses text that is not valid in its encoding on write")
    insert_engine_orders(db_url, [engine_order("good"), engine_order("bad")])
    engine_writes(
        db_url, "UPDATE order_state SET symbol = CAST(x'ff41' AS TEXT) WHERE local_id = 'bad'", [()]
    )
    with pytest.raises(CorruptRow, match=r"^corrupt row in order_state \(a row\): symbol is not"):
        async with sessions() as session:
            await load_open_orders(session)


async def test_order_row_without_a_local_id_is_reported_by_its_row_id(
    sessions: Sessions, db_url: str
) -> None:
    insert_engine_orders(db_url, [engine_order("x")])
    engine_writes(db_url, "UPDATE order_state SET local_id = ''", [()])
    with pytest.raises(CorruptRow, match=r"order_state \(id 1, no local_id\): local_id"):
        async with sessions() as session:
            await load_open_orders(session)


# Loaders ----------------------------------------------------------------------------------


async def test_open_orders_are_exactly_the_non_terminal_ones(
    sessions: Sessions, db_url: str
) -> None:
    insert_engine_orders(db_url, [engine_order(state.value, state=state) for state in OrderState])
    async with sessions() as session:
        open_orders = await load_open_orders(session)
    assert [order.local_id for order in open_orders] == [
        "pending_submit",
        "submitted",
        "accepted",
        "partially_filled",
    ]


async def test_trades_are_loaded_in_exit_order_within_the_half_open_range(
    sessions: Sessions, db_url: str
) -> None:
    start, end = NOW - timedelta(hours=3), NOW
    async with sessions.begin() as session:
        for trade in (
            make_trade("5", 10),
            make_trade("-3", 90),
            make_trade("1", 60 * 3),  # exits exactly at the start: inside
            make_trade("7", 0),  # exits exactly at the end: outside
            make_trade("2", 60 * 4),  # before the range
            replace(make_trade("4", 60 * 3, symbol="MSFT"), exit_at=start + timedelta(seconds=0.5)),
            replace(make_trade("6", 0, symbol="MSFT"), exit_at=end - timedelta(microseconds=1)),
        ):
            await insert_trade(session, trade)
    # The engine may write the offset instead of Z; such a row still sorts by its time.
    engine_writes(
        db_url,
        "UPDATE trade SET exit_at = ? WHERE trade_id = 't-AAPL-90'",
        [("2026-11-24T14:01:00+00:00",)],
    )
    async with sessions() as session:
        trades = await load_trades_between(session, start, end)
    assert [str(trade.pnl) for trade in trades] == ["1", "4", "-3", "5", "6"]


async def count_statements(engine: AsyncEngine, work: Awaitable[object]) -> int:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await work
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return len(statements)


@pytest.mark.parametrize("book_size", [10, 1000])
async def test_each_loader_runs_one_query_whatever_the_book_size(
    engine: AsyncEngine, sessions: Sessions, db_url: str, book_size: int
) -> None:
    symbols = [f"S{n}" for n in range(min(book_size, 100))]
    insert_engine_orders(
        db_url,
        [
            engine_order(
                f"o{n}",
                symbol=symbols[n % len(symbols)],
                role="entry" if n % 2 else "stop_loss",
                state="filled" if n % 2 else "accepted",
                broker_id=f"b{n}",
                client_order_id=f"c{n}",
                correlation_id=f"trip-{n // 2}",
            )
            for n in range(book_size)
        ],
    )
    async with sessions.begin() as session:
        for n in range(book_size):
            await insert_trade(session, make_trade(str(n), n % 600, symbol=f"S{n}"))
    ids = range(book_size)
    loaders: dict[str, Callable[[AsyncSession], Awaitable[object]]] = {
        "open": load_open_orders,
        "linked": lambda s: load_orders_linked_to(s, [f"b{n}" for n in ids], ["c0"]),
        "round_trips": lambda s: load_round_trips(s, symbols),
        "trades": lambda s: load_trades_between(s, NOW - timedelta(days=1), NOW),
    }
    counts = {}
    async with sessions() as session:
        for name, load in loaders.items():
            counts[name] = await count_statements(engine, load(session))
    assert counts == dict.fromkeys(loaders, 1)


# Writers ----------------------------------------------------------------------------------


async def test_inserted_order_reads_back_equal_with_its_creation_event(
    sessions: Sessions, db_url: str
) -> None:
    order = make_filled_entry("AAPL")
    await write_order(sessions, order)
    async with sessions() as session:
        [loaded] = await load_round_trips(session, ["AAPL"])
    assert loaded == order
    assert raw(
        db_url,
        "SELECT order_local_id, event_type, old_state, new_state, recorded_at FROM order_event",
    ) == [("entry-AAPL", "created", None, "filled", "2026-11-24T13:31:00Z")]


async def change_to_canceled(session: AsyncSession, expected: OrderState) -> None:
    await apply_state_change(
        session,
        "stop",
        expected_state=expected,
        new_state=OrderState.CANCELED,
        broker_id="b-1",
        qty_filled=Decimal("0"),
        avg_fill_price=None,
        event_type="take_broker_state",
        detail="the broker reports canceled",
        at=NOW,
        last_error="canceled at the broker",
    )


async def test_state_change_updates_the_row_and_appends_its_event(
    sessions: Sessions, db_url: str
) -> None:
    await write_order(sessions, make_local_order("stop"))
    async with sessions.begin() as session:
        await change_to_canceled(session, OrderState.ACCEPTED)
    assert raw(db_url, "SELECT state, broker_id, last_error, updated_at FROM order_state") == [
        ("canceled", "b-1", "canceled at the broker", "2026-11-24T15:31:00Z")
    ]
    assert raw(
        db_url, "SELECT event_type, old_state, new_state, broker_id FROM order_event WHERE id = 2"
    ) == [("take_broker_state", "accepted", "canceled", "b-1")]


async def test_state_change_from_a_stale_state_raises_and_writes_no_event(
    sessions: Sessions, db_url: str
) -> None:
    await write_order(sessions, make_local_order("stop"))
    # The trading engine fills the stop between recon's read and its write.
    engine_writes(db_url, "UPDATE order_state SET state = 'filled'", [()])
    with pytest.raises(ConcurrentChange, match="order stop is no longer accepted \\(now filled\\)"):
        async with sessions.begin() as session:
            await change_to_canceled(session, OrderState.ACCEPTED)
    assert raw(db_url, "SELECT state, broker_id FROM order_state") == [("filled", None)]
    assert raw(db_url, "SELECT count(*) FROM order_event") == [(1,)]


async def test_state_change_of_a_vanished_order_raises(sessions: Sessions) -> None:
    with pytest.raises(ConcurrentChange, match="the row is gone"):
        async with sessions.begin() as session:
            await change_to_canceled(session, OrderState.ACCEPTED)


async def test_state_change_is_left_to_the_callers_transaction(
    sessions: Sessions, db_url: str
) -> None:
    await write_order(sessions, make_local_order("stop"))
    async with sessions() as session:
        await change_to_canceled(session, OrderState.ACCEPTED)
        await session.rollback()
    assert raw(db_url, "SELECT state FROM order_state") == [("accepted",)]
    assert raw(db_url, "SELECT count(*) FROM order_event") == [(1,)]


async def test_the_same_local_id_or_client_order_id_cannot_be_written_twice(
    sessions: Sessions,
) -> None:
    await write_order(sessions, make_local_order("o1", client_order_id="c-1"))
    with pytest.raises(IntegrityError):
        await write_order(sessions, make_local_order("o1", client_order_id="c-2"))
    with pytest.raises(IntegrityError):
        await write_order(sessions, make_local_order("o2", client_order_id="c-1"))


# The journal ------------------------------------------------------------------------------

PLAN = [
    PlannedActionRecord(1, "orders", "fail_stale", "AAPL", "local-7", "never submitted", False),
    PlannedActionRecord(2, "orders", "cancel_orphan", "GOOGL", "b-9", "no local row", True),
    PlannedActionRecord(3, "positions", "emergency_stop", "TSLA", "TSLA", "uncovered 10", False),
]


async def begin_run(sessions: Sessions, run_id: str, *, minutes_ago: int = 0) -> None:
    async with sessions.begin() as session:
        await start_run(
            session,
            run_id=run_id,
            operator="ops",
            account_number="PA3RECON0001",
            paper=True,
            dry_run=False,
            started_at=NOW - timedelta(minutes=minutes_ago),
        )
        await record_planned_actions(session, run_id, PLAN)


async def test_journal_keeps_each_action_with_its_decision_and_outcome(
    sessions: Sessions, db_url: str
) -> None:
    await begin_run(sessions, "r1")
    async with sessions.begin() as session:
        await record_decision(
            session, "r1", 2, decision="declined", decided_by="ops", decided_at=NOW
        )
        await record_outcome(session, "r1", 2, outcome="skipped", detail="kept", finished_at=NOW)
        await record_outcome(
            session, "r1", 3, outcome="succeeded", detail="stop at 196.00", finished_at=NOW
        )
        await finish_run(session, "r1", outcome="exit 0", finished_at=NOW, summary_json="{}")
    async with sessions() as session:
        actions = await load_run_actions(session, "r1")
        unfinished = await find_unfinished_runs(session)
    assert [(a.seq, a.kind, a.needs_decision, a.decision, a.outcome) for a in actions] == [
        (1, "fail_stale", False, None, None),
        (2, "cancel_orphan", True, "declined", "skipped"),
        (3, "emergency_stop", False, None, "succeeded"),
    ]
    assert (actions[1].decided_by, actions[1].decided_at, actions[2].outcome_detail) == (
        "ops",
        NOW,
        "stop at 196.00",
    )
    assert unfinished == []
    assert raw(
        db_url, "SELECT run_id, outcome, operator, paper, dry_run, finished_at FROM recon_run"
    ) == [("r1", "exit 0", "ops", 1, 0, "2026-11-24T15:31:00Z")]


async def test_a_run_killed_before_finishing_is_found_with_how_far_it_got(
    sessions: Sessions,
) -> None:
    await begin_run(sessions, "finished", minutes_ago=30)
    async with sessions.begin() as session:
        await finish_run(session, "finished", outcome="exit 0", finished_at=NOW, summary_json=None)
    await begin_run(sessions, "killed", minutes_ago=10)
    async with sessions.begin() as session:
        await record_outcome(session, "killed", 1, outcome="succeeded", detail="", finished_at=NOW)
        await start_run(
            session,
            run_id="killed-before-planning",
            operator="ops",
            account_number="PA3RECON0001",
            paper=True,
            dry_run=False,
            started_at=NOW,
        )
    async with sessions() as session:
        unfinished = await find_unfinished_runs(session)
    assert [(r.run_id, r.actions_planned, r.actions_finished) for r in unfinished] == [
        ("killed", 3, 1),
        ("killed-before-planning", 0, 0),
    ]
    assert unfinished[0].started_at == NOW - timedelta(minutes=10)

    async with sessions.begin() as session:
        for run in unfinished:
            await close_unfinished_run(session, run.run_id, noticed_by="next", at=NOW)
    async with sessions() as session:
        assert await find_unfinished_runs(session) == []


@pytest.mark.parametrize(("field", "value"), [("decision", "maybe"), ("outcome", "exploded")])
async def test_journal_refuses_a_decision_or_outcome_it_does_not_know(
    sessions: Sessions, field: str, value: str
) -> None:
    await begin_run(sessions, "r1")
    with pytest.raises(ValueError, match=f"{field} must be one of .* not '{value}'"):
        async with sessions.begin() as session:
            if field == "decision":
                await record_decision(
                    session, "r1", 2, decision=value, decided_by="ops", decided_at=NOW
                )
            else:
                await record_outcome(session, "r1", 2, outcome=value, detail="", finished_at=NOW)


async def test_journal_refuses_to_record_against_an_action_never_planned(
    sessions: Sessions,
) -> None:
    await begin_run(sessions, "r1")
    with pytest.raises(StoreError, match="the journal has no action 9 of run r1"):
        async with sessions.begin() as session:
            await record_decision(
                session, "r1", 9, decision="confirmed", decided_by="ops", decided_at=NOW
            )
    with pytest.raises(StoreError, match="the journal has no run r2"):
        async with sessions.begin() as session:
            await finish_run(session, "r2", outcome="exit 0", finished_at=NOW, summary_json=None)


async def test_outcomes_recorded_together_land_each_on_its_action_or_none_do(
    sessions: Sessions,
) -> None:
    await begin_run(sessions, "r1")
    together = [
        OutcomeRecord(1, "succeeded", "stale order failed", NOW),
        OutcomeRecord(3, "failed", "stop refused", NOW),
    ]
    async with sessions.begin() as session:
        await record_outcomes(session, "r1", together)
    missing = r"the journal is missing one or more of actions \[2, 9\] of run r1"
    with pytest.raises(StoreError, match=missing):
        async with sessions.begin() as session:
            await record_outcomes(
                session,
                "r1",
                [OutcomeRecord(2, "skipped", "", NOW), OutcomeRecord(9, "skipped", "", NOW)],
            )
    async with sessions() as session:
        actions = await load_run_actions(session, "r1")
    assert [(a.seq, a.outcome, a.outcome_detail) for a in actions] == [
        (1, "succeeded", "stale order failed"),
        (2, None, None),
        (3, "failed", "stop refused"),
    ]


async def test_journal_actions_belong_to_a_run_and_are_planned_once(sessions: Sessions) -> None:
    with pytest.raises(IntegrityError):  # foreign keys are on
        async with sessions.begin() as session:
            await record_planned_actions(session, "no-such-run", PLAN)
    await begin_run(sessions, "r1")
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            await record_planned_actions(session, "r1", PLAN[:1])


async def test_an_entry_written_by_recon_is_seen_by_the_loaders_at_once(sessions: Sessions) -> None:
    entry = replace(
        make_filled_entry("TSLA"),
        local_id="orphan-TSLA-20261124",
        correlation_id="orphan-TSLA-20261124",
        strategy="unknown",
        order_role=OrderRole.ENTRY,
        order_type=OrderType.MARKET,
        side=Side.BUY,
    )
    async with sessions.begin() as session:
        await insert_order(session, entry, event_type="synthetic_entry", detail="broker position")
        trips = await load_round_trips(session, [entry.symbol])
    assert trips == [entry]


async def test_round_trips_include_an_entry_canceled_after_a_partial_fill(
    sessions: Sessions, db_url: str
) -> None:
    insert_engine_orders(
        db_url,
        [
            engine_order("partial", role="entry", state="canceled", qty_filled="30"),
            engine_order("stop", qty_filled="0"),
            engine_order("elsewhere", role="entry", state="filled", symbol="MSFT"),
        ],
    )
    async with sessions() as session:
        rows = await load_round_trips(session, ["AAPL"])
    assert [row.local_id for row in rows] == ["partial", "stop"]


async def test_every_sqlite_file_of_the_process_compiles_a_statement_once(tmp_path: Path) -> None:
    """A fleet's accounts share recon's compiled statements rather than compile them each."""
    statement = select(literal_column("'compiled once'"))
    engines = [create_engine(f"sqlite:///{tmp_path / name}.db") for name in ("alpha", "bravo")]
    try:
        for engine in engines:  # each connected once: a first connection asks its own questions
            async with engine.connect():
                pass
        before = len(SQLITE_STATEMENTS)
        for engine in engines:
            async with engine.connect() as connection:
                assert await connection.scalar(statement) == "compiled once"
            assert len(SQLITE_STATEMENTS) == before + 1
    finally:
        for engine in engines:
            await engine.dispose()
