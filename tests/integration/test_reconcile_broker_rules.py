"""The four situations where Alpaca's own rules used to leave positions bare, reconciled end to end
over real HTTP against the simulator that enforces those rules: a wash-trade refusal, a bracket
placed by hand, a take-profit holding every share, and a stop covering more than is held."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from engine.reconcile.actions import ActionKind
from engine.reconcile.events import ActionStarted, Decision, Event
from engine.reconcile.result import EXIT_COMPLETED, EXIT_COMPLETED_WITH_ERRORS, RunResult
from engine.simulator.book import SimOrder
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, running_simulator
from tests.integration.database import sql, table_rows
from tests.integration.reconcile_harness import (
    Operator,
    held,
    run_reconcile,
    stop_cover,
)

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)


@asynccontextmanager
async def situation(name: str, db_url: str) -> AsyncIterator[Simulator]:
    async with running_simulator(name, now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        yield simulator


def orders(simulator: Simulator, wanted: Callable[[SimOrder], bool]) -> list[SimOrder]:
    return [order for order in simulator.broker.orders.values() if wanted(order)]


def market_orders_sent(simulator: Simulator) -> list[SimOrder]:
    return orders(simulator, lambda o: o.type == "market" and o.client_order_id.startswith("recon"))


async def assert_second_run_changes_nothing(simulator: Simulator, db_url: str) -> None:
    tables = {t: table_rows(db_url, t) for t in ("order_state", "order_event")}
    simulator.requests.clear()
    again = await run_reconcile(simulator, db_url, run_id="run-2")
    assert again.plan is not None and again.plan.is_empty, again.plan.actions
    assert simulator.requests.count("POST") == simulator.requests.count("DELETE") == 0
    assert simulator.requests.count("PATCH") == 0
    assert {t: table_rows(db_url, t) for t in tables} == tables


def local_state(db_url: str, local_id: str) -> str:
    [(state,)] = sql(
        db_url, "SELECT state FROM order_state WHERE local_id = :local_id", local_id=local_id
    )
    return str(state)


def summary(result: RunResult) -> dict[str, Any]:
    return result.to_json()


# 1. Wash trade -----------------------------------------------------------------------------


async def test_a_confirmed_blocking_buy_is_cancelled_and_the_stop_then_goes_in(
    db_url: str,
) -> None:
    async with situation("wash_trade", db_url) as simulator:
        operator = Operator(Decision.CONFIRMED)
        result = await run_reconcile(simulator, db_url, operator=operator)
        assert result.exit_code == EXIT_COMPLETED, result.errors
        assert [action.kind for action in operator.asked] == ["cancel_blocking_order"]
        assert "blocks AAPL's stop" in operator.asked[0].reason
        assert stop_cover(simulator) == held(simulator)
        assert orders(simulator, lambda o: o.side == "buy" and o.is_open) == []
        assert market_orders_sent(simulator) == []
        assert summary(result)["blocking_orders_canceled"] == 1
        assert local_state(db_url, "AAPL-entry-2") == "canceled"
        await assert_second_run_changes_nothing(simulator, db_url)


async def test_a_kept_blocking_buy_leaves_the_position_unprotected_and_names_it(
    db_url: str,
) -> None:
    async with situation("wash_trade", db_url) as simulator:
        result = await run_reconcile(simulator, db_url, operator=Operator(Decision.DECLINED))
        assert result.exit_code == EXIT_COMPLETED_WITH_ERRORS
        (blocker,) = orders(simulator, lambda o: o.side == "buy" and o.is_open)
        assert any(blocker.id in error and "stays UNPROTECTED" in error for error in result.errors)
        assert [p.protected for p in result.positions] == [False]
        # Nothing the broker would refuse was sent: no stop, no market exit.
        assert orders(simulator, lambda o: o.client_order_id.startswith("recon")) == []
        assert summary(result)["blocking_orders_kept"] == 1
        assert "1 blocking order kept" in result.tallies()


class BuysAgainAsTheStopGoes(list[Event]):
    """The events of a run, and the trading engine's hand: as recon's first emergency stop
    starts, after the read it was planned from, the engine rests another buy."""

    def __init__(self, simulator: Simulator) -> None:
        super().__init__()
        self._simulator = simulator

    def append(self, event: Event) -> None:
        super().append(event)
        if _starts_a_stop(event) and sum(map(_starts_a_stop, self)) == 1:
            self._simulator.broker.submit(
                {"symbol": "AAPL", "qty": "10", "side": "buy", "type": "limit",
                 "time_in_force": "day", "limit_price": "184.00"}
            )  # fmt: skip


def _starts_a_stop(event: Event) -> bool:
    return isinstance(event, ActionStarted) and event.action.kind is ActionKind.EMERGENCY_STOP


async def test_a_stop_refused_as_a_wash_trade_the_plan_could_not_foresee_sends_no_market_exit(
    db_url: str,
) -> None:
    async with situation("wash_trade", db_url) as simulator:
        events = BuysAgainAsTheStopGoes(simulator)
        result = await run_reconcile(simulator, db_url, events=events)
        assert any("potential wash trade" in error for error in result.errors)
        assert market_orders_sent(simulator) == []
        assert summary(result)["market_exits"] == 0
        # The next read shows the new buy: it is put to the operator, and the stop goes in.
        assert summary(result)["blocking_orders_canceled"] == 1
        assert summary(result)["orphan_orders_canceled"] == 1
        assert stop_cover(simulator) == held(simulator)
        assert result.exit_code == EXIT_COMPLETED_WITH_ERRORS  # the refusal is reported


# 2. A bracket placed by hand ---------------------------------------------------------------


async def test_a_bracket_placed_by_hand_is_adopted_and_both_legs_keep_working(
    db_url: str,
) -> None:
    async with situation("bracket_by_hand", db_url) as simulator:
        operator = Operator(Decision.CONFIRMED)  # --yes: nothing of the bracket is cancelled
        result = await run_reconcile(simulator, db_url, operator=operator)
        assert result.exit_code == EXIT_COMPLETED, result.errors
        assert operator.asked == []
        assert simulator.requests.count("DELETE") == 0
        legs = orders(simulator, lambda o: o.order_class == "bracket" and o.is_open)
        assert sorted(leg.status for leg in legs) == ["held", "new"]
        assert stop_cover(simulator) == held(simulator)
        assert summary(result)["orphan_orders_adopted"] == 1
        assert [p.protected for p in result.positions] == [True]
        await assert_second_run_changes_nothing(simulator, db_url)


# 3. A take-profit holding every share ------------------------------------------------------


async def test_a_take_profit_holding_every_share_becomes_an_oco_exit_with_no_decision(
    db_url: str,
) -> None:
    async with situation("take_profit_kept", db_url) as simulator:
        (take_profit,) = orders(simulator, lambda o: o.type == "limit" and o.is_open)
        operator = Operator(Decision.UNDECIDED)  # no --yes, no terminal
        result = await run_reconcile(simulator, db_url, operator=operator)
        assert result.exit_code == EXIT_COMPLETED, result.errors
        assert operator.asked == []
        (oco,) = orders(simulator, lambda o: o.order_class == "oco" and o.type == "limit")
        assert (oco.limit_price, oco.qty, oco.status) == (
            take_profit.limit_price,
            Decimal(50),
            "new",
        )
        assert stop_cover(simulator) == held(simulator)
        assert market_orders_sent(simulator) == []
        assert summary(result)["oco_exits_placed"] == 1
        await assert_second_run_changes_nothing(simulator, db_url)


# 4. Stops covering more than is held -------------------------------------------------------


async def test_a_stop_covering_more_than_is_held_is_cut_back_by_a_replace(db_url: str) -> None:
    async with situation("over_covered", db_url) as simulator:
        result = await run_reconcile(simulator, db_url)
        assert result.exit_code == EXIT_COMPLETED, result.errors
        assert simulator.requests.count("PATCH") == 1
        assert stop_cover(simulator) == held(simulator)
        assert summary(result)["surplus_stops_reduced"] == 1
        assert market_orders_sent(simulator) == []
        await assert_second_run_changes_nothing(simulator, db_url)
