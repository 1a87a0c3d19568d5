"""The simulated broker's book without HTTP: reproducible scenarios, the crashed day's cases,
fills and positions, and its rules holding under concurrent submissions."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.domain import OrderRole, OrderState
from engine.simulator.book import SimulatedBroker, SimulatorRejection
from engine.simulator.scenarios import CRASH_TIME, LocalBookSeed, load

D = Decimal


def crashed_day() -> tuple[SimulatedBroker, LocalBookSeed]:
    broker = SimulatedBroker(now=lambda: CRASH_TIME)
    return broker, load("crashed_day").seed(broker)


def broker_with(symbol: str, qty: str, entry: str, price: str) -> SimulatedBroker:
    broker = SimulatedBroker(now=lambda: CRASH_TIME)
    broker.prices[symbol] = D(price)
    broker.seed_position(symbol, D(qty), D(entry))
    return broker


def stop(symbol: str, side: str, qty: object, stop_price: str, **extra: Any) -> dict[str, Any]:
    return {"symbol": symbol, "qty": qty, "side": side, "type": "stop",
            "time_in_force": "gtc", "stop_price": D(stop_price), **extra}  # fmt: skip


def test_crashed_day_is_the_same_book_every_time() -> None:
    first, first_local = crashed_day()
    second, second_local = crashed_day()
    assert [o.to_wire() for o in first.orders.values()] == [
        o.to_wire() for o in second.orders.values()
    ]
    assert first_local == second_local


def test_crashed_day_local_rows_point_at_real_broker_orders() -> None:
    broker, local = crashed_day()
    for row in local.orders:
        if row.broker_id is not None:
            order = broker.orders[row.broker_id]
            assert (order.symbol, order.client_order_id) == (row.symbol, row.client_order_id)


def test_crashed_day_has_every_spec_case() -> None:
    broker, local = crashed_day()
    rows = {row.local_id: row for row in local.orders}
    by_client_id = {o.client_order_id: o for o in broker.orders.values()}

    def broker_status(local_id: str) -> str:
        broker_id = rows[local_id].broker_id
        assert broker_id is not None
        return broker.orders[broker_id].status

    assert broker_status("AAPL-stop") == "new"
    assert (rows["MSFT-entry"].state, broker_status("MSFT-entry")) == (
        OrderState.SUBMITTED,
        "filled",
    )
    assert broker_status("NVDA-stop") == "canceled"
    assert broker.positions["TSLA"].qty == -50
    assert rows["AMD-stop"].qty_requested == 120 and broker.positions["AMD"].qty == 200
    assert by_client_id["web-meta-stop-by-hand"].side == "sell"
    assert by_client_id["mobile-googl-dip-buy"].type == "limit"
    replaced = broker.orders[rows["AMZN-stop"].broker_id or ""]
    assert replaced.status == "replaced"
    assert broker.orders[replaced.replaced_by or ""].replaces == replaced.id
    assert rows["NFLX-entry"].client_order_id not in by_client_id
    assert by_client_id[rows["ORCL-entry"].client_order_id or ""].status == "filled"
    assert broker.prices["SNDL"] < 1
    assert broker.positions["SPY"].qty == D("10.5")
    assert broker.positions["INTC"].avg_entry_price * D("0.98") > broker.prices["INTC"]
    assert not any(row.symbol == "COIN" for row in local.orders) and "COIN" in broker.positions
    old = broker.orders[rows["BA-entry"].broker_id or ""]
    assert (old.status, old.time_in_force) == ("expired", "gtc")
    assert CRASH_TIME - old.submitted_at > timedelta(hours=24)
    assert broker_status("XOM-entry") == "pending_new"
    assert [t.pnl < 0 for t in local.trades] == [False, True, True]
    assert all(t.exit_at.date() == CRASH_TIME.date() for t in local.trades)
    assert {row.order_role for row in local.orders} == set(OrderRole) - {OrderRole.EXIT_MARKET}


def test_crossing_a_short_positions_buy_stop_closes_it() -> None:
    broker = broker_with("TSLA", "-50", "251.10", "249.87")
    broker.submit(stop("TSLA", "buy", 50, "256.13"))
    broker.set_price("TSLA", D("257.00"))
    assert "TSLA" not in broker.positions
    assert broker.account.cash == D("100000") - 50 * D("257.00")


def test_stop_waits_while_the_market_is_closed() -> None:
    broker = broker_with("AAPL", "100", "187.20", "189.50")
    order = broker.submit(stop("AAPL", "sell", 100, "185"))
    broker.set_market_open(False)
    broker.set_price("AAPL", D("180"))
    assert broker.orders[order["id"]].status == "new"


def test_buying_more_averages_the_entry_and_selling_through_zero_starts_a_short() -> None:
    broker = broker_with("AAPL", "100", "180.00", "190.00")
    market = {"symbol": "AAPL", "type": "market", "time_in_force": "day"}
    broker.submit({**market, "side": "buy", "qty": 100})
    assert broker.positions["AAPL"].avg_entry_price == D("185.00")
    with pytest.raises(SimulatorRejection) as caught:
        broker.submit({**market, "side": "sell", "qty": 250})
    assert (caught.value.http_status, caught.value.code) == (403, 40310000)


def test_cancel_all_reports_each_canceled_order_like_alpaca() -> None:
    broker = broker_with("AAPL", "100", "187.20", "189.50")
    broker.submit(stop("AAPL", "sell", 50, "185"))
    broker.submit(stop("AAPL", "sell", 50, "184"))
    results = broker.cancel_all()
    assert [(r["status"], r["body"]["status"]) for r in results] == [(200, "canceled")] * 2
    assert broker.cancel_all() == []


def test_concurrent_sells_never_oversell_the_position() -> None:
    broker = broker_with("AAPL", "100", "187.20", "189.50")

    def attempt(n: int) -> bool:
        try:
            broker.submit(stop("AAPL", "sell", 20, "185", client_order_id=f"c{n}"))
        except SimulatorRejection:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        accepted = sum(pool.map(attempt, range(16)))
    assert accepted == 5


def test_seeded_order_keeps_what_it_was_given() -> None:
    broker = SimulatedBroker(now=lambda: CRASH_TIME)
    order = broker.seed_order(
        symbol="AAPL", side="buy", type="market", qty=D(5), status="filled",
        filled_qty=D(5), filled_avg_price=None, submitted_at=CRASH_TIME - timedelta(days=3),
    )  # fmt: skip
    wire = broker.get_order(order.id)
    assert (wire["status"], wire["filled_avg_price"], wire["submitted_at"]) == (
        "filled",
        None,
        "2026-11-21T15:31:00.000000Z",
    )


def test_clock_reports_the_new_york_session_around_a_weekend() -> None:
    friday_evening = CRASH_TIME.replace(day=27, hour=22)
    broker = SimulatedBroker(now=lambda: CRASH_TIME)
    assert broker.clock_wire()["next_close"] == "2026-11-24T21:00:00.000000Z"
    closed = SimulatedBroker(now=lambda: friday_evening, market_open=False)
    assert (closed.clock_wire()["is_open"], closed.clock_wire()["next_open"]) == (
        False,
        "2026-11-30T14:30:00.000000Z",
    )
