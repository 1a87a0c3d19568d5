"""The three ways the simulated broker lists a group, without HTTP: nested as Alpaca documents,
a filled bracket's legs flat and nameless, and its held stop loss missing from the open orders;
paged on what is listed at top level, while lookups by id answer alike; and the scenarios that
list them so."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.simulator.book import SimulatedBroker
from engine.simulator.listing import GroupListing, OrderQuery
from engine.simulator.scenarios import CRASH_TIME, LocalBookSeed
from tests.unit.test_simulator_book import (
    aapl_bracket,
    aapl_long,
    aapl_oco,
    hand_bracket,
    scenario,
    statuses,
)

D = Decimal
NESTED, FLAT, HELD_HIDDEN = GroupListing.NESTED, GroupListing.FLAT, GroupListing.HELD_HIDDEN
OPEN_NESTED = OrderQuery(status="open", nested=True)
OPEN_FLAT = OrderQuery(status="open")
ALL_NESTED = OrderQuery(status="all", nested=True)
ENTRY_WITH_LEGS = ("market", "filled", ("limit", "stop"))
TAKE_PROFIT = ("limit", "new", None)
STOP_LOSS = ("stop", "held", None)


def hand_bracket_listed(listing: GroupListing) -> SimulatedBroker:
    """`bracket_by_hand`'s book: NVDA's filled entry, take-profit `new`, stop loss `held`."""
    broker, _ = scenario("bracket_by_hand")
    broker.group_listing = listing
    return broker


def shapes(listed: list[dict[str, Any]]) -> list[tuple[str, str, tuple[str, ...] | None]]:
    """(type, status, the nested legs' types) of each order listed at top level, in order."""
    return [
        (
            o["type"],
            o["status"],
            None if o["legs"] is None else tuple(leg["type"] for leg in o["legs"]),
        )
        for o in listed
    ]


@pytest.mark.parametrize(
    ("listing", "open_nested", "open_flat"),
    [
        (NESTED, [ENTRY_WITH_LEGS], [TAKE_PROFIT, STOP_LOSS]),
        (FLAT, [TAKE_PROFIT, STOP_LOSS], [TAKE_PROFIT, STOP_LOSS]),
        (HELD_HIDDEN, [TAKE_PROFIT], [TAKE_PROFIT]),
    ],
)
def test_filled_hand_bracket_is_listed_open_as_each_mode_says_and_nested_under_all(
    listing: GroupListing, open_nested: list[Any], open_flat: list[Any]
) -> None:
    broker = hand_bracket_listed(listing)
    assert sorted(shapes(broker.list_orders(OPEN_NESTED))) == open_nested
    assert sorted(shapes(broker.list_orders(OPEN_FLAT))) == open_flat
    assert shapes(broker.list_orders(ALL_NESTED)) == [ENTRY_WITH_LEGS]


@pytest.mark.parametrize("listing", [FLAT, HELD_HIDDEN])
def test_legs_listed_flat_keep_their_class_and_name_no_parent(listing: GroupListing) -> None:
    broker = hand_bracket_listed(listing)
    for leg in broker.list_orders(OPEN_NESTED):
        assert (leg["order_class"], leg["legs"], leg["side"]) == ("bracket", None, "sell")
        assert not any("parent" in key for key in leg)


def test_held_hidden_stop_loss_is_listed_among_the_closed_orders_still_held() -> None:
    broker = hand_bracket_listed(HELD_HIDDEN)
    closed_flat = broker.list_orders(OrderQuery(status="closed"))
    assert sorted(shapes(closed_flat)) == [("market", "filled", None), STOP_LOSS]
    assert sorted(shapes(broker.list_orders(OrderQuery(status="all")))) == [
        TAKE_PROFIT,
        ("market", "filled", None),
        STOP_LOSS,
    ]
    [entry] = broker.list_orders(OrderQuery(status="closed", nested=True))
    assert [(leg["type"], leg["status"]) for leg in entry["legs"]] == [
        ("limit", "new"),
        ("stop", "held"),
    ]


@pytest.mark.parametrize("listing", list(GroupListing))
def test_lookups_by_id_answer_alike_in_every_mode(listing: GroupListing) -> None:
    broker = hand_bracket_listed(listing)
    entry = hand_bracket(broker)
    take_profit, stop_loss = entry.leg_ids
    by_id = broker.get_order(entry.id, nested=True)
    assert [leg["id"] for leg in by_id["legs"]] == [take_profit, stop_loss]
    assert broker.get_order(entry.id)["legs"] is None
    assert broker.get_order_by_client_id(entry.client_order_id, nested=True) == by_id
    held = broker.get_order(stop_loss, nested=True)
    assert (held["status"], held["legs"]) == ("held", None)


@pytest.mark.parametrize("listing", [FLAT, HELD_HIDDEN])
def test_a_bracket_whose_entry_still_works_is_listed_nested_as_today(
    listing: GroupListing,
) -> None:
    broker = aapl_long()
    broker.group_listing = listing
    answer = broker.submit(aapl_bracket(type="limit", limit_price=D("188.00")))
    assert shapes(broker.list_orders(OPEN_NESTED)) == [("limit", "new", ("limit", "stop"))]
    assert [o["id"] for o in broker.list_orders(ALL_NESTED)] == [answer["id"]]


def test_held_hidden_leaves_an_unfilled_brackets_held_legs_out_of_the_flat_open_list() -> None:
    """As alpaca-trade-api-js #80 saw it: the open list shows the order, but no legs."""
    broker = aapl_long()
    broker.group_listing = HELD_HIDDEN
    broker.submit(aapl_bracket(type="limit", limit_price=D("188.00")))
    assert shapes(broker.list_orders(OPEN_FLAT)) == [("limit", "new", None)]
    assert sorted(shapes(broker.list_orders(OrderQuery(status="closed")))) == [
        ("limit", "held", None),
        ("stop", "held", None),
    ]


@pytest.mark.parametrize("listing", [FLAT, HELD_HIDDEN])
def test_oco_take_profit_still_working_carries_its_stop_leg_nested(
    listing: GroupListing,
) -> None:
    broker = aapl_long()
    broker.group_listing = listing
    broker.submit(aapl_oco())
    assert shapes(broker.list_orders(OPEN_NESTED)) == [("limit", "new", ("stop",))]


@pytest.mark.parametrize("listing", list(GroupListing))
def test_a_bracket_whose_legs_are_canceled_leaves_nothing_open(listing: GroupListing) -> None:
    broker = hand_bracket_listed(listing)
    entry = hand_bracket(broker)
    broker.cancel(entry.leg_ids[0])
    assert statuses(broker, entry.id) == ["filled", "canceled", "canceled"]
    assert broker.list_orders(OPEN_NESTED) == broker.list_orders(OPEN_FLAT) == []


def flat_legs_among_other_orders() -> tuple[SimulatedBroker, list[str]]:
    """NVDA's flat legs from an hour ago between two AAPL limits, two hours ago and just now:
    ids oldest first, the legs (take-profit, stop loss) sharing their submission time."""
    broker = hand_bracket_listed(FLAT)
    broker.prices["AAPL"] = D("189.50")
    older = broker.seed_order(
        symbol="AAPL", side="buy", type="limit", qty=D(1), limit_price=D("180.00"),
        submitted_at=CRASH_TIME - timedelta(hours=2),
    )  # fmt: skip
    newer = broker.seed_order(
        symbol="AAPL", side="buy", type="limit", qty=D(1), limit_price=D("181.00")
    )
    entry = hand_bracket(broker)
    return broker, [older.id, *entry.leg_ids, newer.id]


def ids(listed: list[dict[str, Any]]) -> list[str]:
    return [o["id"] for o in listed]


def test_flat_legs_are_paged_on_their_own_times_symbols_and_sides() -> None:
    broker, (older, take_profit, stop_loss, newer) = flat_legs_among_other_orders()
    an_hour_ago = CRASH_TIME - timedelta(hours=1)
    asc = broker.list_orders(replace(OPEN_NESTED, direction="asc", limit=500))
    assert ids(asc) == [older, take_profit, stop_loss, newer]
    desc = broker.list_orders(replace(OPEN_NESTED, limit=2))
    assert ids(desc) == [newer, take_profit]
    after = replace(OPEN_NESTED, after=an_hour_ago - timedelta(seconds=1))
    assert sorted(ids(broker.list_orders(after))) == sorted([take_profit, stop_loss, newer])
    until = replace(OPEN_NESTED, until=an_hour_ago + timedelta(seconds=1))
    assert sorted(ids(broker.list_orders(until))) == sorted([older, take_profit, stop_loss])
    nvda = replace(OPEN_NESTED, symbols=frozenset({"NVDA"}))
    assert sorted(ids(broker.list_orders(nvda))) == sorted([take_profit, stop_loss])
    assert ids(broker.list_orders(replace(OPEN_NESTED, side="buy"))) == [newer, older]


# The scenarios ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "listing"), [("bracket_flat", FLAT), ("bracket_held_hidden", HELD_HIDDEN)]
)
def test_bracket_scenario_lists_its_legs_its_way_and_its_entry_outside_the_last_day(
    name: str, listing: GroupListing
) -> None:
    broker, local = scenario(name)
    assert (broker.group_listing, local) == (listing, LocalBookSeed())
    assert (broker.positions["NVDA"].qty, broker.positions["NVDA"].avg_entry_price) == (
        D(10),
        D(495),
    )
    entry = hand_bracket(broker)
    assert statuses(broker, entry.id) == ["filled", "new", "held"]
    assert entry.submitted_at <= CRASH_TIME - timedelta(hours=24)
    last_day = OrderQuery(status="all", nested=True, after=CRASH_TIME - timedelta(hours=24))
    assert broker.list_orders(last_day) == []
    assert shapes(broker.list_orders(ALL_NESTED)) == [ENTRY_WITH_LEGS]
