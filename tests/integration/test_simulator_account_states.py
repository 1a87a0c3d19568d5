"""An account that refuses orders, met through the real alpaca-py client: each of Alpaca's flags
(and a status other than ACTIVE) in the account's JSON and refusing every new order and replace
in Alpaca's words, while cancels still go through; and the scenario that starts suspended."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from alpaca.trading.models import TradeAccount
from alpaca.trading.requests import ReplaceOrderRequest

from engine.simulator.runner import Simulator, SimulatorThread
from engine.simulator.scenarios import CRASH_TIME
from tests.integration.test_simulator_rules import client, rejection, sell_stop

D = Decimal
REFUSALS = {
    "trade_suspended_by_user": "new orders are rejected by user request",
    "trading_blocked": "trading is blocked for this account",
    "account_blocked": "account is blocked",
}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """100 AAPL held at 189.50, a GTC stop on half of them placed while the account took
    orders."""
    with SimulatorThread("empty", now=lambda: CRASH_TIME) as simulator:
        simulator.broker.prices["AAPL"] = D("189.50")
        simulator.broker.seed_position("AAPL", D(100), D("187.20"))
        yield simulator


@pytest.mark.parametrize("flag", REFUSALS)
def test_each_flag_shows_in_the_account_and_refuses_orders_and_replaces_not_cancels(
    sim: Simulator, flag: str
) -> None:
    trading = client(sim)
    working = trading.submit_order(sell_stop(50, 183.45))
    sim.broker.set_account_state(**{flag: True})
    account: Any = client(sim, raw_data=True).get_account()
    assert account[flag] is True and account["status"] == "ACTIVE"
    TradeAccount(**account)
    refused = (403, 40310000, REFUSALS[flag])
    assert rejection(lambda: trading.submit_order(sell_stop(50, 183.00))) == refused
    replace = ReplaceOrderRequest(stop_price=184.00)
    assert rejection(lambda: trading.replace_order_by_id(working.id, replace)) == refused
    trading.cancel_order_by_id(working.id)
    assert trading.get_order_by_id(working.id).status.value == "canceled"


def test_an_account_not_active_refuses_orders_naming_its_status(sim: Simulator) -> None:
    sim.broker.set_account_state(status="ACCOUNT_UPDATED")
    trading = client(sim)
    assert trading.get_account().status.value == "ACCOUNT_UPDATED"
    assert rejection(lambda: trading.submit_order(sell_stop(50, 183.45))) == (
        403,
        40310000,
        "account is not active (status: ACCOUNT_UPDATED)",
    )


def test_cleared_flags_take_orders_again_and_the_gravest_reason_is_named_first(
    sim: Simulator,
) -> None:
    trading = client(sim)
    sim.broker.set_account_state(trade_suspended_by_user=True, account_blocked=True)
    assert rejection(lambda: trading.submit_order(sell_stop(50, 183.45)))[2] == (
        "account is blocked"
    )
    sim.broker.set_account_state(account_blocked=False)
    assert rejection(lambda: trading.submit_order(sell_stop(50, 183.45)))[2] == (
        "new orders are rejected by user request"
    )
    sim.broker.set_account_state(trade_suspended_by_user=False)
    assert trading.submit_order(sell_stop(50, 183.45)).status.value == "new"


def test_suspended_account_scenario_holds_bare_equities_and_refuses_their_stops() -> None:
    with SimulatorThread("suspended_account", now=lambda: CRASH_TIME) as simulator:
        trading = client(simulator, raw_data=True)
        account: Any = trading.get_account()
        assert (account["status"], account["trade_suspended_by_user"]) == ("ACTIVE", True)
        assert (account["trading_blocked"], account["account_blocked"]) == (False, False)
        positions: Any = trading.get_all_positions()
        assert sorted(p["symbol"] for p in positions) == ["AAPL", "MSFT"]
        assert {row.symbol for row in simulator.local_book.orders} == {"AAPL", "MSFT"}
        assert rejection(lambda: trading.submit_order(sell_stop(100, 183.45))) == (
            403,
            40310000,
            "new orders are rejected by user request",
        )
