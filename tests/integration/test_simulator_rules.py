"""Each broker rule the simulator enforces, met through the real alpaca-py client."""

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Clock, Order, Position, TradeAccount
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopOrderRequest,
)

from engine.domain import BrokerOrderStatus
from engine.simulator.runner import Simulator, SimulatorThread
from engine.simulator.scenarios import CRASH_TIME

D = Decimal


@pytest.fixture(scope="module")
def crashed_day() -> Iterator[Simulator]:
    with SimulatorThread("crashed_day", now=lambda: CRASH_TIME) as simulator:
        yield simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with SimulatorThread("empty", now=lambda: CRASH_TIME) as simulator:
        simulator.broker.prices.update({"AAPL": D("190.00"), "SNDL": D("0.8810")})
        simulator.broker.seed_position("AAPL", D("100"), D("187.20"))
        yield simulator


def client(simulator: Simulator, *, raw_data: bool = False) -> TradingClient:
    trading = TradingClient(
        simulator.key_id, simulator.secret_key, raw_data=raw_data, url_override=simulator.url
    )
    trading._retry = 0
    return trading


def raw_post(simulator: Simulator, body: bytes) -> requests.Response:
    """A request alpaca-py would never send, with the right keys."""
    headers = {
        "APCA-API-KEY-ID": simulator.key_id,
        "APCA-API-SECRET-KEY": simulator.secret_key,
        "Content-Type": "application/json",
    }
    return requests.post(f"{simulator.url}/v2/orders", data=body, headers=headers, timeout=5)


def sell_stop(qty: float, stop: float, **extra: object) -> StopOrderRequest:
    return StopOrderRequest(
        symbol=extra.pop("symbol", "AAPL"),
        qty=qty,
        side=OrderSide.SELL,
        time_in_force=extra.pop("time_in_force", TimeInForce.GTC),
        stop_price=stop,
        **extra,
    )


def rejection(call: object) -> tuple[int | None, int, str]:
    with pytest.raises(APIError) as caught:
        call()  # type: ignore[operator]
    return caught.value.status_code, caught.value.code, caught.value.message


def test_crashed_day_scenario_validates_in_alpaca_py_models(crashed_day: Simulator) -> None:
    trading = client(crashed_day)
    assert trading.get_account().account_number == "PA3SIMRECON1"
    assert trading.get_clock().is_open
    positions = {p.symbol: p for p in trading.get_all_positions()}
    assert positions["TSLA"].side == "short" and positions["SPY"].qty == "10.5"
    orders = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500))
    assert {o.status.value for o in orders} >= {"filled", "canceled", "replaced", "pending_new"}
    for order in orders:
        assert trading.get_order_by_id(order.id) == order


def test_crashed_day_raw_answers_are_alpaca_json(crashed_day: Simulator) -> None:
    trading = client(crashed_day, raw_data=True)
    account: Any = trading.get_account()
    clock: Any = trading.get_clock()
    positions: Any = trading.get_all_positions()
    orders: Any = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500))
    TradeAccount(**account)
    Clock(**clock)
    for position in positions:
        Position(**position)
        assert all(isinstance(position[k], str) for k in ("qty", "avg_entry_price"))
    for order in orders:
        Order(**order)
        assert order.keys() >= {"replaced_by", "replaces", "filled_avg_price", "legs", "hwm"}
        assert order["submitted_at"].endswith("Z") and isinstance(order["qty"], str)
    assert account["last_equity"] == "100000.00"
    assert clock["timestamp"] == "2026-11-24T15:31:00.000000Z"


def test_get_order_by_client_order_id(sim: Simulator) -> None:
    trading = client(sim)
    placed = trading.submit_order(sell_stop(100, 185.50, client_order_id="recon-stop-1"))
    found = trading.get_order_by_client_id("recon-stop-1")
    assert found.id == placed.id
    assert found.stop_price == "185.5"
    status, code, _ = rejection(lambda: trading.get_order_by_client_id("never-sent"))
    assert (status, code) == (404, 40410000)


def test_seeded_orders_keep_any_status_even_unknown_ones(sim: Simulator) -> None:
    for status in [*BrokerOrderStatus, "bogus"]:
        sim.broker.seed_order(
            symbol="AAPL", side="sell", type="stop", qty=D(1), stop_price=D(180), status=status
        )
    listed: Any = client(sim, raw_data=True).get_orders(
        GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500)
    )
    assert sorted(o["status"] for o in listed) == sorted([*BrokerOrderStatus, "bogus"])


def test_duplicate_client_order_id_is_rejected_422(sim: Simulator) -> None:
    trading = client(sim)
    trading.submit_order(sell_stop(10, 185, client_order_id="same"))
    assert rejection(lambda: trading.submit_order(sell_stop(10, 185, client_order_id="same"))) == (
        422,
        40010001,
        "client_order_id must be unique",
    )


def test_sell_stop_beyond_available_qty_is_rejected_403(sim: Simulator) -> None:
    trading = client(sim)
    trading.submit_order(sell_stop(60, 185))
    status, code, message = rejection(lambda: trading.submit_order(sell_stop(50, 184)))
    assert (status, code) == (403, 40310000)
    assert message == "insufficient qty available for order (requested: 50, available: 40)"


def test_buy_stop_beyond_a_shorts_available_qty_is_rejected_403(sim: Simulator) -> None:
    sim.broker.prices["TSLA"] = D("249.87")
    sim.broker.seed_position("TSLA", D(-50), D("251.10"))
    trading = client(sim)
    buy_stop = StopOrderRequest(
        symbol="TSLA", qty=30, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, stop_price=256
    )
    trading.submit_order(buy_stop)
    status, code, message = rejection(lambda: trading.submit_order(buy_stop))
    assert (status, code) == (403, 40310000)
    assert message == "insufficient qty available for order (requested: 30, available: 20)"


def test_canceled_stop_frees_its_shares(sim: Simulator) -> None:
    trading = client(sim)
    first = trading.submit_order(sell_stop(100, 185))
    trading.cancel_order_by_id(first.id)
    assert trading.submit_order(sell_stop(100, 185)).qty == "100"


@pytest.mark.parametrize(("symbol", "stop"), [("AAPL", 185.555), ("SNDL", 0.85555)])
def test_sub_penny_stop_is_rejected_422(sim: Simulator, symbol: str, stop: float) -> None:
    sim.broker.seed_position("SNDL", D("1000"), D("0.8765"))
    status, code, message = rejection(
        lambda: client(sim).submit_order(sell_stop(10, stop, symbol=symbol))
    )
    assert (status, code) == (422, 42210000)
    assert "sub-penny increment" in message


def test_sub_penny_limit_is_rejected_422(sim: Simulator) -> None:
    dip_buy = LimitOrderRequest(
        symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=185.555
    )
    status, code, message = rejection(lambda: client(sim).submit_order(dip_buy))
    assert (status, code) == (422, 42210000)
    assert message.startswith("invalid limit_price 185.555. sub-penny increment")


def test_sub_dollar_stop_on_its_hundredth_of_a_cent_is_accepted(sim: Simulator) -> None:
    sim.broker.seed_position("SNDL", D("1000"), D("0.8765"))
    order = client(sim).submit_order(sell_stop(1000, 0.8589, symbol="SNDL"))
    assert order.stop_price == "0.8589"


def test_fractional_gtc_is_rejected_and_fractional_day_accepted(sim: Simulator) -> None:
    trading = client(sim)
    status, code, message = rejection(lambda: trading.submit_order(sell_stop(0.5, 185)))
    assert (status, code, message) == (422, 42210000, "fractional orders must be DAY orders")
    order = trading.submit_order(sell_stop(0.5, 185, time_in_force=TimeInForce.DAY))
    assert order.qty == "0.5"


def test_stop_above_market_for_sell_is_rejected(sim: Simulator) -> None:
    status, code, message = rejection(lambda: client(sim).submit_order(sell_stop(10, 190.00)))
    assert (status, code) == (422, 42210000)
    assert "must be below the current price" in message


def test_stop_below_market_for_buy_is_rejected(sim: Simulator) -> None:
    buy_stop = StopOrderRequest(
        symbol="AAPL", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, stop_price=189
    )
    status, code, message = rejection(lambda: client(sim).submit_order(buy_stop))
    assert (status, code) == (422, 42210000)
    assert "must be above the current price" in message


def test_zero_qty_is_rejected_422(sim: Simulator) -> None:
    status, code, message = rejection(lambda: client(sim).submit_order(sell_stop(0, 185)))
    assert (status, code, message) == (422, 40010001, "qty must be > 0")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"symbol": "AAPL", "qty": "ten", "side": "sell", "type": "market", '
        b'"time_in_force": "day"}',
        b'{"symbol": "AAPL", "qty": 1e400, "side": "sell", "type": "stop", '
        b'"time_in_force": "gtc", "stop_price": 1}',
        b'{"symbol": "AAPL", "qty": 1, "side": "sell", "type": ["stop"], "time_in_force": {}}',
        b'{"symbol": "AAPL", "qty": 1, "side": "sell", "type": "stop", "time_in_force": "gtc", '
        b'"stop_price": NaN}',
        b'{"symbol": 7}',
        b"\xff\xfe",
    ],
)
def test_malformed_order_body_is_422_not_500(sim: Simulator, body: bytes) -> None:
    answer = raw_post(sim, body)
    assert answer.status_code == 422
    assert answer.json()["code"] == 40010001 and answer.json()["message"]
    assert sim.broker.orders == {}


def test_unknown_route_is_an_alpaca_404(sim: Simulator) -> None:
    answer = requests.get(
        f"{sim.url}/v2/watchlists",
        headers={"APCA-API-KEY-ID": sim.key_id, "APCA-API-SECRET-KEY": sim.secret_key},
        timeout=5,
    )
    assert (answer.status_code, answer.json()["code"]) == (404, 40410000)


def market(side: OrderSide, qty: float, symbol: str = "AAPL") -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY)


def test_market_order_fills_and_moves_position(sim: Simulator) -> None:
    trading = client(sim)
    cash_before = D(trading.get_account().cash or "0")
    order = trading.submit_order(market(OrderSide.SELL, 40))
    assert (order.status.value, order.filled_qty, order.filled_avg_price) == (
        "filled",
        "40",
        "190.00",
    )
    assert trading.get_open_position("AAPL").qty == "60"
    assert D(trading.get_account().cash or "0") - cash_before == D("7600.00")


def test_position_sold_to_zero_disappears(sim: Simulator) -> None:
    trading = client(sim)
    trading.submit_order(market(OrderSide.SELL, 100))
    assert trading.get_all_positions() == []
    status, code, _ = rejection(lambda: trading.get_open_position("AAPL"))
    assert (status, code) == (404, 40410000)


def test_market_order_waits_accepted_while_closed_and_fills_at_the_open(sim: Simulator) -> None:
    sim.broker.set_market_open(False)
    trading = client(sim)
    assert not trading.get_clock().is_open
    order = trading.submit_order(market(OrderSide.BUY, 5))
    assert (order.status.value, order.filled_qty) == ("accepted", "0")
    sim.broker.set_market_open(True)
    assert trading.get_order_by_id(order.id).status.value == "filled"
    assert trading.get_open_position("AAPL").qty == "105"


def test_crossing_a_stop_fills_it(sim: Simulator) -> None:
    trading = client(sim)
    stop = trading.submit_order(sell_stop(100, 185))
    sim.broker.set_price("AAPL", D("184.10"))
    assert trading.get_order_by_id(stop.id).filled_avg_price == "184.10"
    assert trading.get_all_positions() == []


def test_cancel_open_then_cancel_again_is_rejected_as_already_canceled(sim: Simulator) -> None:
    trading = client(sim)
    order = trading.submit_order(sell_stop(10, 185))
    trading.cancel_order_by_id(order.id)
    assert trading.get_order_by_id(order.id).status.value == "canceled"
    status, _, message = rejection(lambda: trading.cancel_order_by_id(order.id))
    assert (status, message) == (422, 'order is already in "canceled" state')


def test_cancel_filled_order_is_rejected_422(sim: Simulator) -> None:
    trading = client(sim)
    order = trading.submit_order(market(OrderSide.SELL, 1))
    status, code, message = rejection(lambda: trading.cancel_order_by_id(order.id))
    assert (status, code, message) == (422, 42210000, 'order is already in "filled" state')


def test_cancel_unknown_order_is_404(sim: Simulator) -> None:
    status, code, message = rejection(
        lambda: client(sim).cancel_order_by_id("00000000-0000-4000-8000-000000000000")
    )
    assert (status, code, message) == (404, 40410000, "order not found")


def test_cancel_all_reports_each_order(sim: Simulator) -> None:
    trading = client(sim)
    trading.submit_order(sell_stop(10, 185))
    trading.submit_order(sell_stop(10, 184))
    assert [r.status for r in trading.cancel_orders()] == [200, 200]
    assert trading.get_orders() == []


def test_orders_list_filters_by_time_symbol_and_direction(sim: Simulator) -> None:
    now = sim.broker.now()
    for minutes in (30, 20, 10):
        sim.broker.seed_order(
            symbol="AAPL", side="sell", type="stop", qty=D(1), stop_price=D(180),
            submitted_at=now - timedelta(minutes=minutes),
        )  # fmt: skip
    sim.broker.seed_order(symbol="MSFT", side="buy", type="market", qty=D(1), status="filled")
    trading = client(sim)
    request = GetOrdersRequest(
        status=QueryOrderStatus.ALL,
        after=now - timedelta(minutes=25),
        symbols=["AAPL"],
        direction="asc",
    )
    listed = trading.get_orders(request)
    assert [o.submitted_at for o in listed] == sorted(o.submitted_at for o in listed)
    assert len(listed) == 2


def test_orders_list_pages_with_after_and_limit_500(sim: Simulator) -> None:
    start = CRASH_TIME - timedelta(hours=20)
    for n in range(1203):
        sim.broker.seed_order(
            symbol="AAPL", side="buy", type="market", qty=D(1), status="filled",
            submitted_at=start + timedelta(seconds=n),
        )  # fmt: skip
    trading = client(sim)
    seen: list[Order] = []
    after = start - timedelta(seconds=1)
    while True:
        page: Any = trading.get_orders(
            GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500, after=after, direction="asc")
        )
        seen += page
        if len(page) < 500:
            break
        after = page[-1].submitted_at
    assert [len(seen), len({o.id for o in seen})] == [1203, 1203]
    assert sim.requests.count("GET", "/v2/orders") == 3


def test_until_is_exclusive_and_newest_come_first(sim: Simulator) -> None:
    for minutes in (3, 2, 1):
        sim.broker.seed_order(
            symbol="AAPL", side="sell", type="stop", qty=D(1), stop_price=D(180),
            submitted_at=CRASH_TIME - timedelta(minutes=minutes),
        )  # fmt: skip
    listed = client(sim).get_orders(GetOrdersRequest(until=CRASH_TIME - timedelta(minutes=1)))
    assert [o.submitted_at for o in listed] == [
        CRASH_TIME - timedelta(minutes=2),
        CRASH_TIME - timedelta(minutes=3),
    ]


def test_limit_above_500_is_rejected(sim: Simulator) -> None:
    status, _, message = rejection(
        lambda: client(sim).get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=501))
    )
    assert (status, message) == (422, "limit must be between 1 and 500")


def test_wrong_keys_are_unauthorized(sim: Simulator) -> None:
    intruder = TradingClient("PKWRONG", "nope", url_override=sim.url)
    status, code, _ = rejection(intruder.get_account)
    assert (status, code) == (401, 40110000)


def test_unauthorized_without_keys(sim: Simulator) -> None:
    answer = requests.get(f"{sim.url}/v2/account", timeout=5)
    assert answer.status_code == 401
    assert answer.json() == {"code": 40110000, "message": "request is not authorized"}


def test_unknown_order_is_404(sim: Simulator) -> None:
    status, code, _ = rejection(
        lambda: client(sim).get_order_by_id("00000000-0000-4000-8000-000000000000")
    )
    assert (status, code) == (404, 40410000)
