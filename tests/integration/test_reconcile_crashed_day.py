"""The crashed trading day reconciled end to end: real HTTP, real alpaca-py, real SQLite."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.reconcile.events import Decision, Event, StopConfirmed
from engine.reconcile.result import EXIT_COMPLETED, EXIT_COMPLETED_WITH_ERRORS
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, running_simulator
from tests.integration.database import table_rows
from tests.integration.reconcile_harness import (
    Operator,
    held,
    run_reconcile,
    stop_cover,
)

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)


@pytest.fixture
async def crashed_day(db_url: str) -> AsyncIterator[Simulator]:
    async with running_simulator("crashed_day", now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        yield simulator


async def test_crashed_day_reconciles_with_yes_to_every_position_protected(
    crashed_day: Simulator, db_url: str
) -> None:
    events: list[Event] = []
    result = await run_reconcile(crashed_day, db_url, events=events)
    assert result.errors == ()
    assert result.exit_code == EXIT_COMPLETED
    assert all(position.protected for position in result.positions)
    assert stop_cover(crashed_day) == held(crashed_day)
    summary = result.to_json()
    assert summary["orphan_orders_canceled"] == 1
    assert summary["orphan_orders_adopted"] == 1
    assert summary["stale_orders_failed"] == 1
    assert summary["emergency_stops_placed"] == 11
    assert sum(isinstance(event, StopConfirmed) for event in events) == 11


async def test_second_run_sends_nothing_and_adds_nothing(
    crashed_day: Simulator, db_url: str
) -> None:
    await run_reconcile(crashed_day, db_url)
    engine_tables = {t: table_rows(db_url, t) for t in ("order_state", "order_event", "trade")}
    crashed_day.requests.clear()
    again = await run_reconcile(crashed_day, db_url, run_id="run-2")
    assert again.plan is not None and again.plan.is_empty
    assert again.exit_code == EXIT_COMPLETED
    assert crashed_day.requests.count("POST") == crashed_day.requests.count("DELETE") == 0
    assert {t: table_rows(db_url, t) for t in engine_tables} == engine_tables


async def test_dry_run_changes_nothing_anywhere(crashed_day: Simulator, db_url: str) -> None:
    before = {t: table_rows(db_url, t) for t in ("order_state", "order_event", "recon_run")}
    result = await run_reconcile(crashed_day, db_url, dry_run=True)
    assert result.plan is not None and len(result.plan.actions) == 20
    assert crashed_day.requests.count("POST") == crashed_day.requests.count("DELETE") == 0
    assert {t: table_rows(db_url, t) for t in before} == before


async def test_without_an_answer_the_orphan_is_kept_and_the_run_reports_it(
    crashed_day: Simulator, db_url: str
) -> None:
    operator = Operator(Decision.UNDECIDED)
    result = await run_reconcile(crashed_day, db_url, operator=operator)
    assert [action.symbol for action in operator.asked] == ["GOOGL"]
    assert result.to_json()["orphan_orders_kept"] == 1
    assert result.exit_code == EXIT_COMPLETED_WITH_ERRORS
    assert any(o.symbol == "GOOGL" and o.is_open for o in crashed_day.broker.orders.values())


async def test_declined_orphan_is_kept_and_journaled(crashed_day: Simulator, db_url: str) -> None:
    result = await run_reconcile(crashed_day, db_url, operator=Operator(Decision.DECLINED))
    assert result.exit_code == EXIT_COMPLETED
    decisions = [row for row in table_rows(db_url, "recon_action") if row[9] is not None]
    assert [(row[5], row[9], row[10]) for row in decisions] == [
        ("GOOGL", "declined", "test-operator")
    ]


async def test_journal_records_the_plan_and_each_outcome(
    crashed_day: Simulator, db_url: str
) -> None:
    await run_reconcile(crashed_day, db_url)
    [run] = table_rows(db_url, "recon_run")
    assert (run[1], run[4], run[5]) == ("run-1", "exit 0", "test-operator")
    actions = table_rows(db_url, "recon_action")
    assert len(actions) == 20
    assert all(row[12] in ("succeeded", "skipped") for row in actions)


async def test_every_forced_state_has_its_order_event(crashed_day: Simulator, db_url: str) -> None:
    await run_reconcile(crashed_day, db_url)
    events = {(row[1], row[4]) for row in table_rows(db_url, "order_event")}
    assert ("MSFT-entry", "filled") in events
    assert ("NVDA-stop", "canceled") in events
    assert ("NFLX-entry", "submit_failed") in events
    assert ("BA-entry", "expired") in events
    assert ("orphan-COIN-20261124", "filled") in events


async def test_emergency_stop_prices_follow_the_rules(crashed_day: Simulator, db_url: str) -> None:
    await run_reconcile(crashed_day, db_url)
    stops = {
        (o.symbol, o.time_in_force, o.qty): o.stop_price
        for o in crashed_day.broker.orders.values()
        if o.client_order_id.startswith("recon-stop-")
    }
    D = Decimal
    assert stops[("TSLA", "gtc", D(50))] == D("256.13")  # short: above the entry
    assert stops[("INTC", "gtc", D(100))] == D("37.73")  # re-based on the current price
    assert stops[("SNDL", "gtc", D(1000))] == D("0.8589")  # sub-dollar tick
    assert stops[("SPY", "day", D("0.5"))] == stops[("SPY", "gtc", D(10))]  # fraction: DAY
    assert stops[("AMD", "gtc", D(80))] == D("139.16")  # topped up, not doubled
