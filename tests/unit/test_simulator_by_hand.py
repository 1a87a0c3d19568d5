"""What a guard must survive, done to a running book without HTTP: stops canceled by hand or
expired, DAY orders expired at the close, shares bought and sold by hand past every rule, and
the protected books it starts from."""

from decimal import Decimal

import pytest

from engine.domain import OrderRole, OrderState
from engine.simulator.book import SimulatedBroker
from engine.simulator.orders import STOP_TYPES, SimOrder
from engine.simulator.scenarios import CRASH_TIME, LocalBookSeed, protected_positions
from tests.unit.test_simulator_book import (
    WASH_TRADE,
    broker_with,
    hear,
    market,
    refusal,
    scenario,
)

D = Decimal


def protected_book() -> tuple[SimulatedBroker, LocalBookSeed]:
    return scenario("protected_book")


def broker_order_of(broker: SimulatedBroker, local: LocalBookSeed, local_id: str) -> SimOrder:
    [row] = [row for row in local.orders if row.local_id == local_id]
    return broker.orders[row.broker_id or ""]


def covering_stops(broker: SimulatedBroker, symbol: str) -> list[SimOrder]:
    closing_side = "sell" if broker.position_qty(symbol) > 0 else "buy"
    return [
        o
        for o in broker.orders.values()
        if o.symbol == symbol and o.side == closing_side and o.type in STOP_TYPES and o.is_open
    ]


def assert_every_position_covered_by_the_engines_own_stops(
    broker: SimulatedBroker, local: LocalBookSeed
) -> None:
    rows = {row.broker_id: row for row in local.orders}
    for symbol, position in broker.positions.items():
        stops = covering_stops(broker, symbol)
        assert sum(o.qty for o in stops) == abs(position.qty), symbol
        for order in stops:
            row = rows[order.id]
            assert (row.order_role, row.state, row.qty_requested) == (
                OrderRole.STOP_LOSS,
                OrderState.ACCEPTED,
                order.qty,
            )
        [entry] = [
            r for r in local.orders if r.symbol == symbol and r.order_role is OrderRole.ENTRY
        ]
        assert (entry.state, entry.qty_filled) == (OrderState.FILLED, abs(position.qty))


# The books the guard starts from ---------------------------------------------------------------


def test_protected_book_covers_every_position_with_stops_recorded_on_both_sides() -> None:
    broker, local = protected_book()
    assert broker.market_open
    assert {s: p.qty for s, p in broker.positions.items()} == {
        "AAPL": 100, "MSFT": 50, "NVDA": 80, "TSLA": -50, "SPY": D("10.5"),
    }  # fmt: skip
    assert_every_position_covered_by_the_engines_own_stops(broker, local)
    assert [(o.qty, o.time_in_force) for o in covering_stops(broker, "SPY")] == [
        (10, "gtc"),
        (D("0.5"), "day"),
    ]
    assert [o.side for o in covering_stops(broker, "TSLA")] == ["buy"]


def test_protected_positions_builds_as_many_covered_longs_as_asked() -> None:
    broker = SimulatedBroker(now=lambda: CRASH_TIME)
    local = protected_positions(500).seed(broker)
    assert len(broker.positions) == 500
    assert (min(broker.positions), max(broker.positions)) == ("P0001", "P0500")
    assert_every_position_covered_by_the_engines_own_stops(broker, local)


# Canceled by hand, expired ---------------------------------------------------------------------


def test_stop_canceled_by_hand_on_the_web_page_is_heard_as_canceled() -> None:
    broker, local = protected_book()
    stop = broker_order_of(broker, local, "AAPL-stop")
    heard = hear(broker)
    broker.cancel(stop.id)
    assert (stop.status, stop.canceled_at) == ("canceled", CRASH_TIME)
    assert heard == [("canceled", stop.id)]
    assert covering_stops(broker, "AAPL") == []


def test_expired_stop_reads_expired_with_its_time_and_is_heard() -> None:
    broker, local = protected_book()
    stop = broker_order_of(broker, local, "NVDA-stop")
    heard = hear(broker)
    broker.expire(stop.id)
    wire = broker.get_order(stop.id)
    assert (wire["status"], wire["expired_at"]) == ("expired", "2026-11-24T15:31:00.000000Z")
    assert heard == [("expired", stop.id)]


def test_an_order_already_filled_cannot_expire() -> None:
    broker, local = protected_book()
    entry = broker_order_of(broker, local, "AAPL-entry")
    assert refusal(broker.expire, entry.id) == (
        422,
        42210000,
        'order is already in "filled" state',
    )


def test_the_close_expires_every_open_day_order_and_nothing_else() -> None:
    broker, local = protected_book()
    fraction = broker_order_of(broker, local, "SPY-stop-fraction")
    before = {o.id: o.status for o in broker.orders.values() if o.id != fraction.id}
    heard = hear(broker)
    broker.set_market_open(False)
    assert (fraction.status, fraction.expired_at) == ("expired", CRASH_TIME)
    assert heard == [("expired", fraction.id)]
    assert {o.id: o.status for o in broker.orders.values() if o.id != fraction.id} == before
    assert not broker.clock_wire()["is_open"]


def test_closing_again_spares_a_day_order_placed_after_the_close() -> None:
    broker = broker_with("AAPL", "100", "187.20", "189.50")
    broker.set_market_open(False)
    order = broker.submit(market("AAPL", "buy", 5))
    broker.set_market_open(False)
    assert broker.orders[order["id"]].status == "accepted"
    broker.set_market_open(True)
    assert broker.orders[order["id"]].status == "filled"


# Shares bought and sold by hand ----------------------------------------------------------------


def test_shares_bought_by_hand_add_to_a_covered_position_past_the_wash_trade_rule() -> None:
    broker, _ = protected_book()
    assert refusal(broker.submit, market("AAPL", "buy", 25)) == WASH_TRADE
    heard = hear(broker)
    order = broker.fill_by_hand("AAPL", "buy", D(25))
    assert order["client_order_id"].startswith("web-")
    assert (order["type"], order["time_in_force"], order["status"]) == ("market", "day", "filled")
    assert (order["filled_qty"], order["filled_avg_price"]) == ("25", "189.50")
    assert heard == [("new", order["id"]), ("fill", order["id"])]
    assert broker.positions["AAPL"].qty == 125
    assert broker.positions["AAPL"].avg_entry_price == (100 * D("187.20") + 25 * D("189.50")) / 125
    assert sum(o.qty for o in covering_stops(broker, "AAPL")) == 100


def test_shares_sold_by_hand_shrink_a_position_below_what_its_stop_holds() -> None:
    broker, _ = protected_book()
    cash = broker.account.cash
    broker.fill_by_hand("MSFT", "sell", D(20), price=D("418.00"))
    assert broker.positions["MSFT"].qty == 30
    assert broker.account.cash == cash + 20 * D("418.00")
    assert [o.qty for o in covering_stops(broker, "MSFT")] == [50]


def test_a_position_opened_by_hand_needs_a_price_and_takes_it() -> None:
    broker, _ = protected_book()
    orders_before = len(broker.orders)
    with pytest.raises(ValueError, match="COIN has no price"):
        broker.fill_by_hand("COIN", "buy", D(30))
    assert "COIN" not in broker.positions and len(broker.orders) == orders_before
    broker.fill_by_hand("COIN", "buy", D(30), price=D("214.00"))
    assert (broker.positions["COIN"].qty, broker.positions["COIN"].avg_entry_price) == (30, 214)
    assert broker.prices["COIN"] == D("214.00")


def test_hand_orders_get_the_same_client_order_id_every_time() -> None:
    (first, _), (second, _) = protected_book(), protected_book()
    assert (
        first.fill_by_hand("SPY", "sell", D("0.5"))["client_order_id"]
        == second.fill_by_hand("SPY", "sell", D("0.5"))["client_order_id"]
    )
