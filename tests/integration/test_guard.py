"""The guard over real HTTP: after the crashed day is reconciled, what happens to the book while
recon watches — a stop canceled on the broker, shares added, a position opened by hand or cut
back — is covered again exactly, once, with no market order."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from engine.reconcile.events import (
    Decision,
    Event,
    GuardChecked,
    GuardCheckFailed,
    GuardStreamStatus,
)
from engine.simulator.faults import Fault, FaultKind
from engine.simulator.local_seed import seed_local_database
from engine.simulator.orders import STOP_TYPES
from engine.simulator.runner import Simulator, running_simulator
from tests.clock import FakeClock
from tests.integration.database import sql
from tests.integration.reconcile_harness import (
    Operator,
    guarding,
    held,
    resting,
    run_reconcile,
    stop_cover,
    until,
)

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
D = Decimal


@pytest.fixture
async def protected_day(db_url: str) -> AsyncIterator[Simulator]:
    """The crashed day, reconciled: every position covered by a confirmed stop."""
    async with running_simulator("crashed_day", now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        first = await run_reconcile(simulator, db_url)
        assert first.exit_code == 0, first.errors
        yield simulator


def exactly_covered(simulator: Simulator) -> bool:
    return stop_cover(simulator) == held(simulator)


def open_stop_ids(simulator: Simulator, symbol: str) -> list[str]:
    return [
        order.id
        for order in simulator.broker.orders.values()
        if order.symbol == symbol and order.is_open and order.type in STOP_TYPES
    ]


def market_orders_by_recon(simulator: Simulator) -> list[str]:
    return [
        order.id
        for order in simulator.broker.orders.values()
        if order.type == "market" and order.client_order_id.startswith("recon")
    ]


def local_stop_rows(db_url: str) -> dict[str, str]:
    """broker id → state of every local stop row that names a broker order."""
    rows = sql(
        db_url,
        "SELECT broker_id, state FROM order_state "
        "WHERE order_role = 'stop_loss' AND broker_id IS NOT NULL",
    )
    return {broker_id: state for broker_id, state in rows}


def assert_local_rows_track_every_broker_stop(simulator: Simulator, db_url: str) -> None:
    rows = local_stop_rows(db_url)
    for order in simulator.broker.orders.values():
        if order.type in STOP_TYPES and order.symbol in simulator.broker.positions:
            if order.is_open:
                assert rows.get(order.id) not in (None, "canceled"), order
            elif order.id in rows:
                assert rows[order.id] != "accepted", order


async def test_a_stop_canceled_on_the_broker_is_replaced_after_the_grace(
    protected_day: Simulator, db_url: str
) -> None:
    """The stream, not the sweep, brings the cancellation to the guard, which waits out the
    grace on its clock — not a moment less — and covers the position then."""
    simulator = protected_day
    clock = FakeClock()
    events: list[Event] = []
    async with guarding(simulator, db_url, grace=0.3, sweep=60, events=events, clock=clock) as book:
        await until(lambda: stream_up(events) and resting(clock, 60), seconds=5)
        (nvda_stop,) = open_stop_ids(simulator, "NVDA")
        simulator.broker.cancel(nvda_stop)
        await until(lambda: waiting(events, "NVDA", 0.3) and resting(clock, 0.3), seconds=5)
        await clock.advance(0.29)
        assert open_stop_ids(simulator, "NVDA") == [] and book.guard.runs == []
        await clock.advance(0.01)
        await until(lambda: exactly_covered(simulator), seconds=5)
        (replacement,) = open_stop_ids(simulator, "NVDA")
        assert replacement != nvda_stop
    assert book.covered_at_stop is True
    assert [run.run_id.startswith("guard-") for run in book.guard.runs] == [True]
    assert market_orders_by_recon(simulator) == []
    assert_local_rows_track_every_broker_stop(simulator, db_url)


def stream_refused(events: list[Event]) -> bool:
    return any(isinstance(event, GuardStreamStatus) for event in events)


def stream_up(events: list[Event]) -> bool:
    statuses = [event for event in events if isinstance(event, GuardStreamStatus)]
    return bool(statuses) and statuses[-1].up


def waiting(events: list[Event], symbol: str, seconds: float) -> bool:
    """Whether the guard's last check left `symbol` waiting `seconds` for its cover."""
    checks = [event for event in events if isinstance(event, GuardChecked)]
    return bool(checks) and checks[-1].uncovered.get(symbol) == pytest.approx(seconds)


async def test_a_stop_placed_by_hand_meanwhile_is_adopted_not_doubled(
    protected_day: Simulator, db_url: str
) -> None:
    simulator = protected_day
    async with guarding(simulator, db_url, grace=0.5) as book:
        (amd_stop,) = open_stop_ids(simulator, "AMD")[:1]
        total = sum(
            simulator.broker.orders[i].remaining_qty for i in open_stop_ids(simulator, "AMD")
        )
        simulator.broker.cancel(amd_stop)
        cut = simulator.broker.orders[amd_stop].remaining_qty
        simulator.broker.submit(
            {"symbol": "AMD", "qty": str(cut), "side": "sell", "type": "stop",
             "time_in_force": "gtc", "stop_price": "138.00", "client_order_id": "web-amd-again"}
        )  # fmt: skip
        await until(lambda: len(book.guard.runs) == 1, seconds=5)
    assert (
        sum(simulator.broker.orders[i].remaining_qty for i in open_stop_ids(simulator, "AMD"))
        == total
    )
    assert book.guard.runs[0].to_json()["orphan_orders_adopted"] == 1
    assert book.guard.runs[0].to_json()["emergency_stops_placed"] == 0


def engine_writes(db_url: str, statement: str, **values: object) -> None:
    """The trading engine, back, writing its own rows beside the guard."""
    sql(db_url, statement, **values)


async def test_a_stop_the_engine_is_placing_is_not_raced(
    protected_day: Simulator, db_url: str
) -> None:
    simulator = protected_day
    async with guarding(simulator, db_url, grace=0.2) as book:
        (nvda_stop,) = open_stop_ids(simulator, "NVDA")
        engine_writes(
            db_url,
            "INSERT INTO order_state (local_id, client_order_id, correlation_id, symbol, side, "
            "order_type, order_role, strategy, qty_requested, qty_filled, stop_price, state, "
            "created_at, updated_at) VALUES ('NVDA-stop-2', 'eng-NVDA-stop-2', 'trip-NVDA-1', "
            "'NVDA', 'sell', 'stop', 'stop_loss', 'momentum', '80', '0', '490.00', "
            "'pending_submit', '2026-11-24T15:31:00Z', '2026-11-24T15:31:00Z')",
        )
        simulator.broker.cancel(nvda_stop)
        await asyncio.sleep(1.0)  # five times the grace: the engine's stop is awaited
        assert open_stop_ids(simulator, "NVDA") == []
        placed = simulator.broker.submit(
            {"symbol": "NVDA", "qty": "80", "side": "sell", "type": "stop",
             "time_in_force": "gtc", "stop_price": "490.00",
             "client_order_id": "eng-NVDA-stop-2"}
        )  # fmt: skip
        engine_writes(
            db_url,
            "UPDATE order_state SET broker_id = :broker_id, state = 'accepted' "
            "WHERE local_id = 'NVDA-stop-2'",
            broker_id=placed["id"],
        )
        await until(lambda: local_stop_rows(db_url).get(nvda_stop) == "canceled", seconds=5)
    assert open_stop_ids(simulator, "NVDA") == [placed["id"]]
    assert all(run.to_json()["emergency_stops_placed"] == 0 for run in book.guard.runs)
    assert book.covered_at_stop is True


@pytest.fixture
async def protected_book(db_url: str) -> AsyncIterator[Simulator]:
    async with running_simulator("protected_book", now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        yield simulator


async def test_shares_added_to_a_covered_position_get_a_top_up(
    protected_book: Simulator, db_url: str
) -> None:
    simulator = protected_book
    async with guarding(simulator, db_url) as book:
        simulator.broker.fill_by_hand("AAPL", "buy", D(5))
        await until(lambda: exactly_covered(simulator), seconds=5)
    assert stop_cover(simulator)["AAPL"] == D(105)
    assert [run.to_json()["emergency_stops_placed"] for run in book.guard.runs] == [1]
    assert market_orders_by_recon(simulator) == []
    assert book.covered_at_stop is True


async def test_a_position_opened_by_hand_gets_an_entry_and_a_stop(
    protected_book: Simulator, db_url: str
) -> None:
    simulator = protected_book
    async with guarding(simulator, db_url) as book:
        simulator.broker.fill_by_hand("UBER", "buy", D(10), price=D("78.00"))
        await until(lambda: exactly_covered(simulator), seconds=5)
    (run,) = book.guard.runs
    assert (run.to_json()["synthetic_entries"], run.to_json()["emergency_stops_placed"]) == (1, 1)
    assert_local_rows_track_every_broker_stop(simulator, db_url)


async def test_a_position_cut_back_by_hand_has_its_surplus_stop_reduced(
    protected_book: Simulator, db_url: str
) -> None:
    simulator = protected_book
    async with guarding(simulator, db_url) as book:
        simulator.broker.fill_by_hand("AAPL", "sell", D(30))
        await until(lambda: exactly_covered(simulator), seconds=5)
    assert stop_cover(simulator)["AAPL"] == D(70)
    assert [run.to_json()["surplus_stops_reduced"] for run in book.guard.runs] == [1]
    assert_local_rows_track_every_broker_stop(simulator, db_url)


async def test_with_the_stream_refused_the_sweep_finds_the_lost_stop(
    protected_book: Simulator, db_url: str
) -> None:
    simulator = protected_book
    simulator.streams.refuse()
    clock = FakeClock()
    events: list[Event] = []
    async with guarding(simulator, db_url, grace=0.3, sweep=0.6, events=events, clock=clock):
        await until(lambda: stream_refused(events) and resting(clock, 0.6), seconds=5)
        (msft_stop,) = open_stop_ids(simulator, "MSFT")
        simulator.broker.cancel(msft_stop)
        await clock.advance(0.6)  # the sweep
        await until(lambda: waiting(events, "MSFT", 0.3) and resting(clock, 0.3), seconds=5)
        await clock.advance(0.3)  # the grace
        await until(lambda: exactly_covered(simulator), seconds=5)
    statuses = [e for e in events if isinstance(e, GuardStreamStatus)]
    assert not any(status.up for status in statuses)
    assert "connection limit exceeded" in statuses[0].detail


async def test_a_dropped_stream_is_reconnected_and_the_book_read_again(
    protected_book: Simulator, db_url: str
) -> None:
    simulator = protected_book
    events: list[Event] = []
    async with guarding(simulator, db_url, grace=0.2, sweep=60, events=events):
        await until(lambda: _stream_up(events), seconds=5)
        await asyncio.sleep(0.5)  # the reads that connecting asked for are done
        events.clear()
        simulator.streams.drop_all()
        (nvda_stop,) = open_stop_ids(simulator, "NVDA")
        simulator.broker.cancel(nvda_stop)  # unheard: the stream is down
        # No sweep for a minute: only the re-read after reconnecting can find it.
        await until(lambda: exactly_covered(simulator), seconds=5)
    assert _stream_up(events)


async def test_a_day_stop_expired_at_the_close_is_placed_again(
    protected_book: Simulator, db_url: str
) -> None:
    simulator = protected_book
    async with guarding(simulator, db_url) as book:
        simulator.broker.set_market_open(False)
        await until(lambda: len(book.guard.runs) == 1 and exactly_covered(simulator), seconds=5)
    (day_stop,) = [
        o for o in simulator.broker.orders.values()
        if o.symbol == "SPY" and o.is_open and o.time_in_force == "day"
    ]  # fmt: skip
    assert day_stop.qty == D("0.5") and day_stop.client_order_id.startswith("recon-stop-SPY")


def _stream_up(events: list[Event]) -> bool:
    return any(isinstance(e, GuardStreamStatus) and e.up for e in events)


async def test_an_order_the_operator_kept_in_the_run_is_not_asked_about_again(db_url: str) -> None:
    async with running_simulator("wash_trade", now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        first = await run_reconcile(simulator, db_url, operator=Operator(Decision.DECLINED))
        guard_operator = Operator(Decision.CONFIRMED)
        async with guarding(
            simulator, db_url, operator=guard_operator, asked=first.decided_orders
        ) as book:
            await until(lambda: len(book.guard.runs) == 1, seconds=5)
    assert guard_operator.asked == []
    assert book.covered_at_stop is False  # the kept buy still blocks the stop
    assert any("stays UNPROTECTED" in error for error in book.guard.runs[0].errors)


async def test_an_answer_from_before_time_began_is_logged_and_the_guard_keeps_covering(
    protected_day: Simulator, db_url: str
) -> None:
    """Year 1 an hour east of UTC is year 0 in UTC: reading it once killed the guard."""
    simulator = protected_day
    events: list[Event] = []

    def year_zero(answer: Any) -> Any:
        if isinstance(answer, list):
            return [{**order, "created_at": "0001-01-01T00:00:00+01:00"} for order in answer]
        return {**answer, "created_at": "0001-01-01T00:00:00+01:00"}

    def failures() -> list[str]:
        return [event.error for event in events if isinstance(event, GuardCheckFailed)]

    async with guarding(simulator, db_url, grace=0.3, events=events) as book:
        await until(lambda: any(isinstance(e, GuardChecked) for e in events), seconds=5)
        simulator.faults.add(
            Fault(FaultKind.REWRITE, path="/v2/orders", method="GET", rewrite=year_zero, times=1)
        )
        await until(lambda: failures() != [], seconds=5)
        (nvda_stop,) = open_stop_ids(simulator, "NVDA")
        simulator.broker.cancel(nvda_stop)
        await until(lambda: exactly_covered(simulator), seconds=5)
        assert not book.watching.done()
    assert book.covered_at_stop is True
    [failure] = failures()
    assert "created_at is '0001-01-01T00:00:00+01:00', beyond any time recon can hold" in failure
    assert market_orders_by_recon(simulator) == []
