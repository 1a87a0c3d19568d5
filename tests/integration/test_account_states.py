"""An account the broker refuses orders on (SPEC §3, Account state): a run stops before its first
change with one line naming the flag, and a guard sends nothing while it holds and covers the
book within a sweep of it clearing — over real HTTP against the simulator."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.reconcile.events import AccountOrderState, Event, GuardChecked
from engine.reconcile.result import EXIT_ABORTED
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, SimulatorThread, running_simulator
from tests.integration.reconcile_harness import guarding, held, run_reconcile, stop_cover, until
from tests.integration.test_guard_command import recon

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
# Each way Alpaca says an account takes no orders, and the flag recon must name.
REFUSING_STATES: list[tuple[dict[str, Any], str]] = [
    ({"status": "ACCOUNT_CLOSED"}, "status ACCOUNT_CLOSED"),
    ({"account_blocked": True}, "account_blocked"),
    ({"trading_blocked": True}, "trading_blocked"),
    ({"trade_suspended_by_user": True}, "trade_suspended_by_user"),
]
CHANGES = ("POST", "PATCH", "DELETE")


@pytest.fixture
async def bare_book(db_url: str) -> AsyncIterator[Simulator]:
    async with running_simulator("crashed_day", now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        yield simulator


def changes_sent(simulator: Simulator) -> list[str]:
    return [method for method in CHANGES if simulator.requests.count(method)]


@pytest.mark.parametrize(("state", "named"), REFUSING_STATES)
async def test_a_run_on_an_account_that_refuses_orders_stops_before_any_change(
    bare_book: Simulator, db_url: str, state: dict[str, Any], named: str
) -> None:
    bare_book.broker.set_account_state(**state)
    result = await run_reconcile(bare_book, db_url)
    assert result.exit_code == EXIT_ABORTED
    assert result.aborted is not None and named in result.aborted
    assert "\n" not in result.aborted
    assert changes_sent(bare_book) == []
    assert result.report is None  # nothing journaled as done, nothing forced locally


async def test_a_dry_run_shows_the_plan_and_says_the_account_refuses_orders(
    bare_book: Simulator, db_url: str
) -> None:
    bare_book.broker.set_account_state(trade_suspended_by_user=True)
    result = await run_reconcile(bare_book, db_url, dry_run=True)
    assert result.exit_code == EXIT_ABORTED
    assert result.plan is not None and result.plan.actions
    assert "trade_suspended_by_user" in result.errors[0]


def test_recon_reconcile_on_a_suspended_account_prints_one_line_and_exits_2(db_url: str) -> None:
    with SimulatorThread("suspended_account") as simulator:
        asyncio.run(seed_local_database(db_url, simulator.local_book))
        process = recon(simulator, db_url, "reconcile", "--yes")
        out, _ = process.communicate(timeout=60)
        assert process.returncode == EXIT_ABORTED
        assert out.splitlines() == [
            "ABORTED before any change: the account refuses orders: trade_suspended_by_user "
            "(the owner has switched trading off)"
        ]
        assert changes_sent(simulator) == []


async def test_a_guard_sends_nothing_while_trading_is_suspended_and_covers_once_it_clears(
    bare_book: Simulator, db_url: str
) -> None:
    simulator = bare_book
    simulator.broker.set_account_state(trade_suspended_by_user=True)
    events: list[Event] = []
    sweep = 0.5
    async with guarding(simulator, db_url, grace=0.2, sweep=sweep, events=events) as book:
        # Three sweeps with every position past its grace, and not one order sent.
        await until(lambda: states(events) == ["trade_suspended_by_user"], seconds=5)
        await until(lambda: sweeps(events) >= 4, seconds=10)
        assert changes_sent(simulator) == []
        assert book.guard.runs == []
        simulator.broker.set_account_state(trade_suspended_by_user=False)
        took = await until(lambda: stop_cover(simulator) == held(simulator), seconds=10)
        assert took < sweep + 5
    assert states(events) == ["trade_suspended_by_user", None]
    assert book.covered_at_stop is True


def sweeps(events: list[Event]) -> int:
    return sum(isinstance(event, GuardChecked) for event in events)


def states(events: list[Event]) -> list[str | None]:
    """Each change of the account's order state the guard told, by the flag it named."""
    return [
        None if event.refusal is None else event.refusal.split(" ")[0]
        for event in events
        if isinstance(event, AccountOrderState)
    ]
