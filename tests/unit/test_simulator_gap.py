"""A market that falls through each new stop as it arrives, without HTTP: the stop is answered
`pending_new`, and by the next read or change of the book it has filled one tick beyond its
level, closing the shares it covered; what was on the book before is spared, and so is any
order that is no simple stop."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from engine.domain import OrderRole, OrderState
from engine.simulator.book import SimulatedBroker
from engine.simulator.listing import OrderQuery
from engine.simulator.orders import STOP_TYPES
from tests.unit.test_simulator_book import (
    aapl_bracket,
    broker_with,
    hear,
    limit,
    refusal,
    scenario,
    stop,
)

D = Decimal


def falling(symbol: str, qty: str, entry: str, price: str) -> SimulatedBroker:
    broker = broker_with(symbol, qty, entry, price)
    broker.gap_through_new_stops = True
    return broker


def tsla_falling() -> SimulatedBroker:
    """100 TSLA bought at 250.00, now 240.00, and the market gapping through new stops."""
    return falling("TSLA", "100", "250.00", "240.00")


def test_new_stop_answers_pending_new_and_reads_filled_one_tick_through_with_the_shares_gone() -> (
    None
):
    broker = tsla_falling()
    answer = broker.submit(stop("TSLA", "sell", 100, "235.00"))
    assert (answer["status"], answer["filled_qty"]) == ("pending_new", "0")
    heard = hear(broker)
    assert broker.positions_wire() == []
    filled = broker.get_order(answer["id"])
    assert (filled["status"], filled["filled_qty"], filled["filled_avg_price"]) == (
        "filled",
        "100",
        "234.99",
    )
    assert broker.prices["TSLA"] == D("234.99")
    assert heard == [("new", answer["id"]), ("fill", answer["id"])]


def test_the_stream_hears_the_stop_pending_then_new_then_filled() -> None:
    broker = tsla_falling()
    heard: list[tuple[str, str]] = []
    broker.subscribe(lambda event, order: heard.append((event, order["status"])))
    broker.submit(stop("TSLA", "sell", 100, "235.00"))
    broker.list_orders(OrderQuery(status="all"))
    assert heard == [("pending_new", "pending_new"), ("new", "new"), ("fill", "filled")]


def test_a_stop_for_part_of_the_position_closes_only_its_shares() -> None:
    broker = tsla_falling()
    broker.submit(stop("TSLA", "sell", 40, "235.00"))
    position = broker.position_wire("TSLA")
    assert (position["qty"], position["qty_available"], position["current_price"]) == (
        "60",
        "60",
        "234.99",
    )


def test_a_shorts_buy_stop_gaps_one_tick_above() -> None:
    broker = falling("TSLA", "-50", "251.10", "249.87")
    answer = broker.submit(stop("TSLA", "buy", 50, "256.13"))
    assert broker.get_order(answer["id"])["filled_avg_price"] == "256.14"
    assert "TSLA" not in broker.positions


def test_a_sub_dollar_stop_gaps_by_a_hundredth_of_a_cent() -> None:
    broker = falling("SNDL", "1000", "0.8765", "0.8810")
    answer = broker.submit(stop("SNDL", "sell", 1000, "0.8590"))
    assert broker.get_order(answer["id"])["filled_avg_price"] == "0.8589"


def test_a_stop_limit_gaps_and_fills_too() -> None:
    broker = tsla_falling()
    answer = broker.submit(stop("TSLA", "sell", 100, "235.00", type="stop_limit",
                                limit_price=D("234.00")))  # fmt: skip
    assert answer["status"] == "pending_new"
    assert broker.get_order(answer["id"])["status"] == "filled"
    assert broker.positions == {}


def test_the_gap_fills_a_resting_stop_it_crosses_on_the_way_at_the_same_price() -> None:
    broker = broker_with("TSLA", "100", "250.00", "240.00")
    resting = broker.submit(stop("TSLA", "sell", 30, "236.00"))["id"]
    broker.gap_through_new_stops = True
    gapped = broker.submit(stop("TSLA", "sell", 70, "230.00"))["id"]
    broker.account_wire()
    assert [broker.orders[i].filled_avg_price for i in (resting, gapped)] == [
        D("229.99"),
        D("229.99"),
    ]
    assert broker.positions == {}


def test_a_second_new_stop_meets_the_market_where_the_first_left_it() -> None:
    broker = tsla_falling()
    first = broker.submit(stop("TSLA", "sell", 30, "236.00"))["id"]
    second = broker.submit(stop("TSLA", "sell", 70, "230.00"))["id"]
    assert broker.orders[first].filled_avg_price == D("235.99")  # the second submit caught up
    broker.account_wire()
    assert broker.orders[second].filled_avg_price == D("229.99")
    assert broker.positions == {}


READS: dict[str, Callable[[SimulatedBroker, dict[str, Any]], object]] = {
    "account": lambda broker, _: broker.account_wire(),
    "positions": lambda broker, _: broker.positions_wire(),
    "position": lambda broker, _: broker.position_wire("TSLA"),
    "orders": lambda broker, _: broker.list_orders(OrderQuery()),
    "order": lambda broker, order: broker.get_order(order["id"]),
    "by client id": lambda broker, order: broker.get_order_by_client_id(order["client_order_id"]),
    "another order": lambda broker, _: broker.submit(limit("TSLA", "sell", 10, "260.00")),
}


@pytest.mark.parametrize("read", READS.values(), ids=READS)
def test_any_read_or_change_of_the_book_finds_the_stop_gapped_through(
    read: Callable[[SimulatedBroker, dict[str, Any]], object],
) -> None:
    broker = tsla_falling()
    answer = broker.submit(stop("TSLA", "sell", 40, "235.00"))
    read(broker, answer)
    assert (broker.orders[answer["id"]].status, broker.positions["TSLA"].qty) == ("filled", D(60))


def test_a_cancel_arrives_after_the_market_has_filled_the_stop() -> None:
    broker = tsla_falling()
    answer = broker.submit(stop("TSLA", "sell", 100, "235.00"))
    assert refusal(broker.cancel, answer["id"]) == (
        422,
        42210000,
        'order is already in "filled" state',
    )


def test_a_stop_on_the_book_before_the_market_fell_is_spared() -> None:
    broker = broker_with("TSLA", "100", "250.00", "240.00")
    answer = broker.submit(stop("TSLA", "sell", 100, "235.00"))
    broker.gap_through_new_stops = True
    assert broker.get_order(answer["id"])["status"] == "new"
    assert (broker.prices["TSLA"], broker.positions["TSLA"].qty) == (D("240.00"), D(100))


def test_a_closed_market_keeps_the_stop_pending_until_the_open() -> None:
    broker = tsla_falling()
    broker.set_market_open(False)
    answer = broker.submit(stop("TSLA", "sell", 100, "235.00"))
    assert broker.get_order(answer["id"])["status"] == "pending_new"
    broker.set_market_open(True)
    assert broker.get_order(answer["id"])["status"] == "filled"


def test_limits_and_a_brackets_stop_loss_are_no_new_stops_to_gap_through() -> None:
    broker = falling("AAPL", "100", "187.20", "189.50")
    take_profit = broker.submit(limit("AAPL", "sell", 50, "200.00"))
    bracket = broker.submit(aapl_bracket())
    assert broker.get_order(take_profit["id"])["status"] == "new"
    assert [leg["status"] for leg in broker.get_order(bracket["id"], nested=True)["legs"]] == [
        "new",
        "held",
    ]
    assert broker.prices["AAPL"] == D("189.50")


def test_stop_falls_through_scenario_holds_an_unprotected_long_below_its_entry() -> None:
    broker, local = scenario("stop_falls_through")
    assert broker.gap_through_new_stops
    position = broker.positions["TSLA"]
    assert (position.qty, position.avg_entry_price, broker.prices["TSLA"]) == (
        D(100),
        D(250),
        D(240),
    )
    [entry] = local.orders
    assert (entry.local_id, entry.order_role, entry.state, entry.qty_filled) == (
        "TSLA-entry",
        OrderRole.ENTRY,
        OrderState.FILLED,
        D(100),
    )
    assert [o.status for o in broker.orders.values()] == ["filled"]
    assert not any(o.type in STOP_TYPES for o in broker.orders.values())
