"""The crashed day under broker faults: each ends as SPEC §1 says, and no fault ever leaves two
stops on the same shares."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.reconcile.result import EXIT_ABORTED, EXIT_COMPLETED, EXIT_COMPLETED_WITH_ERRORS
from engine.simulator.faults import Fault, FaultKind
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, running_simulator
from tests.integration.conftest import TEST_TIMEOUT_SECONDS
from tests.integration.database import sql, table_rows
from tests.integration.reconcile_harness import held, run_reconcile, stop_cover

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
ENGINE_TABLES = ("order_state", "order_event", "trade", "recon_run", "recon_action")


@pytest.fixture
async def crashed_day(db_url: str) -> AsyncIterator[Simulator]:
    async with running_simulator("crashed_day", now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        yield simulator


def recon_stop_ids(simulator: Simulator) -> list[str]:
    return [
        o.client_order_id
        for o in simulator.broker.orders.values()
        if o.client_order_id.startswith("recon-")
    ]


async def assert_aborted_untouched(simulator: Simulator, db_url: str, fault: Fault) -> str:
    before = {table: table_rows(db_url, table) for table in ENGINE_TABLES}
    simulator.faults.add(fault)
    result = await run_reconcile(simulator, db_url)
    assert result.exit_code == EXIT_ABORTED
    assert simulator.requests.count("POST") == simulator.requests.count("DELETE") == 0
    assert {table: table_rows(db_url, table) for table in ENGINE_TABLES} == before
    assert result.aborted is not None
    return result.aborted


async def test_broker_unreachable_aborts_before_any_change(
    crashed_day: Simulator, db_url: str
) -> None:
    reason = await assert_aborted_untouched(
        crashed_day, db_url, Fault(FaultKind.STATUS, path="/v2/account", status=503, times=None)
    )
    assert "get account failed after 4 attempts" in reason


async def test_unknown_broker_status_aborts_before_any_change(
    crashed_day: Simulator, db_url: str
) -> None:
    def invent_status(orders: Any) -> Any:
        return [{**order, "status": "teleported"} for order in orders]

    reason = await assert_aborted_untouched(
        crashed_day,
        db_url,
        Fault(FaultKind.REWRITE, path="/v2/orders", method="GET", rewrite=invent_status),
    )
    assert "unknown broker status 'teleported'" in reason


async def test_absurd_quantity_aborts_as_invalid_snapshot(
    crashed_day: Simulator, db_url: str
) -> None:
    def absurd(positions: Any) -> Any:
        return [{**p, "qty": "-0"} if p["symbol"] == "AAPL" else p for p in positions]

    reason = await assert_aborted_untouched(
        crashed_day, db_url, Fault(FaultKind.REWRITE, path="/v2/positions", rewrite=absurd)
    )
    assert "broker position AAPL qty is 0, not a plausible quantity" in reason


async def test_filled_without_fill_price_is_critical_but_state_still_forced(
    crashed_day: Simulator, db_url: str
) -> None:
    msft = next(
        o for o in crashed_day.broker.orders.values() if o.symbol == "MSFT" and o.type == "market"
    )
    msft.filled_avg_price = None
    result = await run_reconcile(crashed_day, db_url)
    assert result.exit_code == EXIT_COMPLETED_WITH_ERRORS
    assert any(error.startswith("CRITICAL") and "MSFT" in error for error in result.errors)
    states = {row[1]: row[15] for row in table_rows(db_url, "order_state")}
    assert states["MSFT-entry"] == "filled"


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.LOSE_ANSWER, path="/v2/orders", method="POST", times=4),
        Fault(FaultKind.DROP_CONNECTION, path="/v2/orders", method="POST", times=4),
        Fault(FaultKind.STATUS, path="/v2/orders", method="POST", status=504, times=4),
        Fault(FaultKind.STATUS, path="/v2/orders", method="POST", status=429, times=4),
        Fault(
            FaultKind.DELAY,
            path="/v2/orders",
            method="POST",
            delay=TEST_TIMEOUT_SECONDS * 2,
            times=3,
        ),
    ],
    ids=["answer-lost", "dropped", "504", "429", "timeout"],
)
async def test_ambiguous_submissions_never_cover_the_same_shares_twice(
    crashed_day: Simulator, db_url: str, fault: Fault
) -> None:
    crashed_day.faults.add(fault)
    result = await run_reconcile(crashed_day, db_url)
    assert result.exit_code == EXIT_COMPLETED, result.errors
    assert stop_cover(crashed_day) == held(crashed_day)
    ids = recon_stop_ids(crashed_day)
    assert len(ids) == len(set(ids)) == 11


async def test_stop_refused_three_times_closes_the_shares_at_market(
    crashed_day: Simulator, db_url: str
) -> None:
    crashed_day.broker.positions = {"NVDA": crashed_day.broker.positions["NVDA"]}
    crashed_day.faults.add(
        Fault(FaultKind.STATUS, path="/v2/orders", method="POST", status=403, times=3)
    )
    result = await run_reconcile(crashed_day, db_url)
    assert result.to_json()["market_exits"] == 1
    assert result.exit_code == EXIT_COMPLETED_WITH_ERRORS
    assert "NVDA" not in crashed_day.broker.positions
    assert any("closed 80 at market" in error for error in result.errors)


async def test_two_local_rows_naming_one_broker_order_abort_before_any_change(
    crashed_day: Simulator, db_url: str
) -> None:
    aapl_stop = next(row for row in table_rows(db_url, "order_state") if row[1] == "AAPL-stop")
    broker_id = aapl_stop[2]
    sql(
        db_url,
        "UPDATE order_state SET broker_id = :broker_id WHERE local_id = 'AMZN-stop'",
        broker_id=broker_id,
    )
    before = {table: table_rows(db_url, table) for table in ENGINE_TABLES}
    result = await run_reconcile(crashed_day, db_url)
    assert result.exit_code == EXIT_ABORTED
    assert result.aborted is not None
    assert f"both name broker order {broker_id}" in result.aborted
    assert crashed_day.requests.count("POST") == crashed_day.requests.count("DELETE") == 0
    assert {table: table_rows(db_url, table) for table in ENGINE_TABLES} == before
