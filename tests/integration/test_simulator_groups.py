"""Alpaca's rules for orders that meet other orders, met through the real alpaca-py client:
wash trades, OCO and bracket groups listed flat or nested, cancelled as one, and replaces."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from engine.simulator.runner import Simulator, SimulatorThread
from engine.simulator.scenarios import CRASH_TIME, SCENARIOS
from tests.integration.test_simulator_rules import client, rejection, sell_stop

D = Decimal


@pytest.fixture
def bracket_by_hand() -> Iterator[Simulator]:
    with SimulatorThread("bracket_by_hand", now=lambda: CRASH_TIME) as simulator:
        yield simulator


def sell_oco(take_profit: float, stop: float, **extra: Any) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol=extra.pop("symbol", "AAPL"),
        qty=100,
        side=OrderSide.SELL,
        time_in_force=TimeInForce.GTC,
        order_class=OrderClass.OCO,
        take_profit=TakeProfitRequest(limit_price=take_profit),
        stop_loss=StopLossRequest(stop_price=stop),
        **extra,
    )


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_reads_as_alpaca_py_models_flat_and_nested(name: str) -> None:
    with SimulatorThread(name, now=lambda: CRASH_TIME) as simulator:
        trading = client(simulator, raw_data=True)
        for nested in (False, True):
            request = GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500, nested=nested)
            listed: Any = trading.get_orders(request)
            for order in listed:
                Order(**order)


def test_sell_stop_while_a_buy_limit_rests_is_refused_as_a_wash_trade(sim: Simulator) -> None:
    trading = client(sim)
    trading.submit_order(
        LimitOrderRequest(
            symbol="AAPL", qty=50, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
            limit_price=185,
        )
    )  # fmt: skip
    assert rejection(lambda: trading.submit_order(sell_stop(100, 183.45))) == (
        403,
        40310000,
        "potential wash trade detected. use complex orders",
    )
    body = {"symbol": "AAPL", "qty": "100", "side": "sell", "type": "market",
            "time_in_force": "day"}  # fmt: skip
    answer = requests.post(
        f"{sim.url}/v2/orders",
        json=body,
        headers={"APCA-API-KEY-ID": sim.key_id, "APCA-API-SECRET-KEY": sim.secret_key},
        timeout=5,
    )
    assert answer.status_code == 403
    assert answer.json() == {
        "code": 40310000,
        "message": "potential wash trade detected. use complex orders",
        "existing_order_id": answer.json()["existing_order_id"],
        "reject_reason": "opposite side market/stop order exists",
    }


def test_oco_from_alpaca_py_is_answered_with_its_held_stop_leg(sim: Simulator) -> None:
    trading = client(sim)
    order: Any = trading.submit_order(sell_oco(200, 183.45, client_order_id="recon-oco-AAPL-1"))
    assert (order.order_class, order.type.value, order.status.value) == ("oco", "limit", "new")
    assert (order.limit_price, order.client_order_id) == ("200.0", "recon-oco-AAPL-1")
    [leg] = order.legs
    assert (leg.order_class, leg.type.value, leg.status.value, leg.side.value) == (
        "oco",
        "stop",
        "held",
        "sell",
    )
    assert (leg.stop_price, leg.qty, leg.time_in_force.value) == ("183.45", "100", "gtc")
    assert trading.get_open_position("AAPL").qty_available == "0"


def test_oco_with_a_stop_limit_leg_and_the_limit_repeated_on_top(sim: Simulator) -> None:
    oco = sell_oco(200, 183.45, limit_price=200)
    oco.stop_loss = StopLossRequest(stop_price=183.45, limit_price=183)
    order: Any = client(sim).submit_order(oco)
    assert (order.legs[0].type.value, order.legs[0].limit_price) == ("stop_limit", "183.0")


def test_oco_that_is_no_exit_is_refused_422(sim: Simulator) -> None:
    sim.broker.prices["MSFT"] = D("417.10")
    not_held = sell_oco(430, 410, symbol="MSFT")
    assert rejection(lambda: client(sim).submit_order(not_held)) == (
        422,
        42210000,
        "an oco order must close an existing position",
    )


def test_legs_are_listed_flat_with_their_class_or_nested_under_their_parent(
    bracket_by_hand: Simulator,
) -> None:
    trading = client(bracket_by_hand)
    flat: Any = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert sorted((o.type.value, o.status.value, o.order_class) for o in flat) == [
        ("limit", "new", "bracket"),
        ("stop", "held", "bracket"),
    ]
    assert all(o.legs is None for o in flat)
    nested: Any = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True))
    [entry] = nested
    assert (entry.type.value, entry.status.value, entry.side.value) == ("market", "filled", "buy")
    assert [(leg.type.value, leg.status.value) for leg in entry.legs] == [
        ("limit", "new"),
        ("stop", "held"),
    ]
    every: Any = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))
    assert [o.id for o in every] == [entry.id]


def test_nested_lookup_of_a_parent_embeds_its_legs_and_a_leg_comes_alone(
    bracket_by_hand: Simulator,
) -> None:
    trading = client(bracket_by_hand)
    [entry] = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))
    assert isinstance(entry, Order) and entry.legs is not None
    nested = GetOrderByIdRequest(nested=True)
    assert trading.get_order_by_id(entry.id, nested) == entry
    assert trading.get_order_by_id(entry.id).legs is None
    leg = trading.get_order_by_id(entry.legs[1].id, nested)
    assert (leg.status.value, leg.legs) == ("held", None)
    by_client_id = requests.get(
        f"{bracket_by_hand.url}/v2/orders:by_client_order_id",
        params={"client_order_id": entry.client_order_id, "nested": "true"},
        headers={
            "APCA-API-KEY-ID": bracket_by_hand.key_id,
            "APCA-API-SECRET-KEY": bracket_by_hand.secret_key,
        },
        timeout=5,
    ).json()
    assert [leg["id"] for leg in by_client_id["legs"]] == [str(leg.id) for leg in entry.legs]


def test_cancelling_one_leg_cancels_the_whole_group(bracket_by_hand: Simulator) -> None:
    trading = client(bracket_by_hand)
    [entry] = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True))
    assert isinstance(entry, Order) and entry.legs is not None
    trading.cancel_order_by_id(entry.legs[0].id)
    assert [trading.get_order_by_id(leg.id).status.value for leg in entry.legs] == [
        "canceled",
        "canceled",
    ]
    assert trading.get_orders() == []
    assert trading.get_open_position("NVDA").qty_available == "10"


def test_replace_order_by_id_answers_the_new_order(sim: Simulator) -> None:
    trading = client(sim)
    old = trading.submit_order(sell_stop(100, 183.45))
    assert isinstance(old, Order)
    new = trading.replace_order_by_id(
        old.id, ReplaceOrderRequest(qty=60, stop_price=184, client_order_id="recon-shrink-1")
    )
    assert isinstance(new, Order)
    assert (new.qty, new.stop_price, new.client_order_id) == ("60", "184.0", "recon-shrink-1")
    assert (new.replaces, new.status.value) == (old.id, "new")
    gone = trading.get_order_by_id(old.id)
    assert (gone.status.value, gone.replaced_by) == ("replaced", new.id)
    assert trading.get_open_position("AAPL").qty_available == "40"


def test_replacing_a_canceled_order_is_422(sim: Simulator) -> None:
    trading = client(sim)
    old = trading.submit_order(sell_stop(100, 183.45))
    assert isinstance(old, Order)
    trading.cancel_order_by_id(old.id)
    assert rejection(lambda: trading.replace_order_by_id(old.id, ReplaceOrderRequest(qty=5))) == (
        422,
        42210000,
        "order is not replaceable (status canceled)",
    )


def test_over_covered_stop_is_shrunk_by_a_replace() -> None:
    with SimulatorThread("over_covered", now=lambda: CRASH_TIME) as simulator:
        trading = client(simulator)
        [stop] = trading.get_orders()
        assert isinstance(stop, Order) and stop.qty == "15"
        shrunk = trading.replace_order_by_id(stop.id, ReplaceOrderRequest(qty=10))
        assert isinstance(shrunk, Order) and (shrunk.qty, shrunk.stop_price) == ("10", "139.16")
        assert trading.get_open_position("AMD").qty_available == "0"
