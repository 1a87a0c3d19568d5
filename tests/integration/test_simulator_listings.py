"""The three ways Alpaca has listed a filled bracket, met through the real alpaca-py client:
nested under its entry, its legs flat and naming no parent, and its held stop loss missing from
the open orders; a flat leg's group found again through a nested lookup of its parent."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from alpaca.common.enums import Sort
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Order
from alpaca.trading.requests import GetOrderByIdRequest, GetOrdersRequest

from engine.simulator.runner import Simulator, SimulatorThread
from engine.simulator.scenarios import CRASH_TIME
from tests.integration.test_simulator_rules import client

ENTRY_WITH_LEGS = ("market", "filled", ("limit", "stop"))
TAKE_PROFIT = ("limit", "new", None)
STOP_LOSS = ("stop", "held", None)
OPEN, CLOSED, ALL = QueryOrderStatus.OPEN, QueryOrderStatus.CLOSED, QueryOrderStatus.ALL


def running(name: str) -> Iterator[Simulator]:
    with SimulatorThread(name, now=lambda: CRASH_TIME) as simulator:
        yield simulator


@pytest.fixture
def bracket_flat() -> Iterator[Simulator]:
    yield from running("bracket_flat")


@pytest.fixture
def bracket_held_hidden() -> Iterator[Simulator]:
    yield from running("bracket_held_hidden")


def listed(simulator: Simulator, status: QueryOrderStatus, **query: Any) -> list[Order]:
    orders: Any = client(simulator).get_orders(GetOrdersRequest(status=status, **query))
    return list(orders)


def shapes(orders: list[Order]) -> list[tuple[str, str, tuple[str, ...] | None]]:
    """(type, status, the nested legs' types) of each order listed at top level, sorted."""
    return sorted(
        (
            str(o.type.value if o.type else None),
            o.status.value,
            None if o.legs is None else tuple(str(leg.type.value if leg.type else None)
                                              for leg in o.legs),
        )
        for o in orders
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "open_nested", "open_flat"),
    [
        ("bracket_by_hand", [ENTRY_WITH_LEGS], [TAKE_PROFIT, STOP_LOSS]),
        ("bracket_flat", [TAKE_PROFIT, STOP_LOSS], [TAKE_PROFIT, STOP_LOSS]),
        ("bracket_held_hidden", [TAKE_PROFIT], [TAKE_PROFIT]),
    ],
)
def test_filled_hand_bracket_lists_open_as_its_scenario_says_and_nested_under_all(
    name: str, open_nested: list[Any], open_flat: list[Any]
) -> None:
    with SimulatorThread(name, now=lambda: CRASH_TIME) as simulator:
        assert shapes(listed(simulator, OPEN, nested=True)) == open_nested
        assert shapes(listed(simulator, OPEN)) == open_flat
        assert shapes(listed(simulator, ALL, nested=True)) == [ENTRY_WITH_LEGS]


def test_flat_legs_carry_their_class_and_no_parent(bracket_flat: Simulator) -> None:
    raw: Any = client(bracket_flat, raw_data=True).get_orders(
        GetOrdersRequest(status=OPEN, nested=True)
    )
    assert sorted((o["order_class"], o["side"], o["legs"]) for o in raw) == [
        ("bracket", "sell", None),
        ("bracket", "sell", None),
    ]
    assert not any("parent" in key for order in raw for key in order)


def test_flat_legs_group_is_found_by_looking_up_its_parent_nested(
    bracket_flat: Simulator,
) -> None:
    trading = client(bracket_flat)
    legs = {o.id for o in listed(bracket_flat, OPEN, nested=True)}
    [entry] = listed(bracket_flat, ALL, nested=True)
    parent: Any = trading.get_order_by_id(entry.id, GetOrderByIdRequest(nested=True))
    assert {leg.id for leg in parent.legs} == legs
    alone: list[Any] = [trading.get_order_by_id(leg_id) for leg_id in legs]
    assert all(leg.legs is None for leg in alone)


def test_last_day_of_orders_misses_the_flat_legs_parent(bracket_flat: Simulator) -> None:
    last_day = CRASH_TIME - timedelta(hours=24)
    assert listed(bracket_flat, ALL, nested=True, after=last_day) == []
    assert listed(bracket_flat, ALL, after=last_day) == []
    assert len(listed(bracket_flat, OPEN, nested=True)) == 2


def test_flat_legs_are_paged_as_the_orders_at_top_level(bracket_flat: Simulator) -> None:
    [first] = listed(bracket_flat, OPEN, nested=True, symbols=["NVDA"], direction=Sort.ASC,
                     limit=1)  # fmt: skip
    assert (first.type and first.type.value, first.legs) == ("limit", None)
    assert listed(bracket_flat, OPEN, nested=True, symbols=["AAPL"]) == []
    assert listed(bracket_flat, OPEN, nested=True, side="buy") == []


def test_held_stop_loss_missing_from_the_open_orders_is_listed_closed_and_under_all(
    bracket_held_hidden: Simulator,
) -> None:
    assert shapes(listed(bracket_held_hidden, OPEN)) == [TAKE_PROFIT]
    assert shapes(listed(bracket_held_hidden, CLOSED)) == [("market", "filled", None), STOP_LOSS]
    assert shapes(listed(bracket_held_hidden, ALL)) == [
        TAKE_PROFIT,
        ("market", "filled", None),
        STOP_LOSS,
    ]
    [entry] = listed(bracket_held_hidden, CLOSED, nested=True)
    assert entry.legs is not None
    stop_loss: Any = client(bracket_held_hidden).get_order_by_id(entry.legs[1].id)
    assert stop_loss.status.value == "held"
    position: Any = client(bracket_held_hidden).get_open_position("NVDA")
    assert (position.qty, position.qty_available) == ("10", "0")
