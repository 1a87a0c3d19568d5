"""Each broker rule the simulator enforces, met through the real alpaca-py client."""

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest, StopOrderRequest

from engine.simulator.runner import Simulator, SimulatorThread

D = Decimal


@pytest.fixture(scope="module")
def crashed_day() -> Iterator[Simulator]:
    with SimulatorThread("crashed_day") as simulator:
        yield simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with SimulatorThread("empty") as simulator:
        simulator.broker.prices.update({"AAPL": D("190.00"), "SNDL": D("0.8810")})
        simulator.broker.seed_position("AAPL", D("100"), D("187.20"))
        yield simulator


def client(simulator: Simulator) -> TradingClient:
    trading = TradingClient(simulator.key_id, simulator.secret_key, url_override=simulator.url)
    trading._retry = 0
    return trading


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


def test_crashed_day_reads_through_alpaca_py_models(crashed_day: Simulator) -> None:
    trading = client(crashed_day)
    assert trading.get_account().account_number == "PA3SIMRECON1"
    assert trading.get_clock().is_open
    positions = {p.symbol: p for p in trading.get_all_positions()}
    assert positions["TSLA"].side == "short" and positions["SPY"].qty == "10.5"
    orders = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500))
    assert {o.status.value for o in orders} >= {"filled", "canceled", "replaced", "pending_new"}


def test_placed_stop_is_found_again_by_client_order_id(sim: Simulator) -> None:
    trading = client(sim)
    placed = trading.submit_order(sell_stop(100, 185.50, client_order_id="recon-stop-1"))
    found = trading.get_order_by_client_id("recon-stop-1")
    assert found.id == placed.id
    assert found.stop_price == "185.5"


def test_duplicate_client_order_id_is_rejected_422(sim: Simulator) -> None:
    trading = client(sim)
    trading.submit_order(sell_stop(10, 185, client_order_id="same"))
    assert rejection(lambda: trading.submit_order(sell_stop(10, 185, client_order_id="same"))) == (
        422,
        40010001,
        "client_order_id must be unique",
    )


def test_sell_beyond_shares_held_by_open_orders_is_rejected_403(sim: Simulator) -> None:
    trading = client(sim)
    trading.submit_order(sell_stop(60, 185))
    status, code, message = rejection(lambda: trading.submit_order(sell_stop(50, 184)))
    assert (status, code) == (403, 40310000)
    assert message == "insufficient qty available for order (requested: 50, available: 40)"


@pytest.mark.parametrize(("symbol", "stop"), [("AAPL", 185.555), ("SNDL", 0.85555)])
def test_sub_penny_stop_is_rejected_422(sim: Simulator, symbol: str, stop: float) -> None:
    sim.broker.seed_position("SNDL", D("1000"), D("0.8765"))
    status, code, message = rejection(
        lambda: client(sim).submit_order(sell_stop(10, stop, symbol=symbol))
    )
    assert (status, code) == (422, 42210000)
    assert "sub-penny increment" in message


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


def test_sell_stop_at_or_above_the_market_is_rejected(sim: Simulator) -> None:
    status, code, message = rejection(lambda: client(sim).submit_order(sell_stop(10, 190.00)))
    assert (status, code) == (422, 42210000)
    assert "must be below the current price" in message


def test_market_order_fills_at_the_current_price_and_moves_the_position(sim: Simulator) -> None:
    trading = client(sim)
    order = trading.submit_order(
        MarketOrderRequest(
            symbol="AAPL", qty=40, side=OrderSide.SELL, time_in_force=TimeInForce.DAY
        )
    )
    assert (order.status.value, order.filled_avg_price) == ("filled", "190.00")
    assert trading.get_open_position("AAPL").qty == "60"


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
    status, _, message = rejection(lambda: trading.cancel_order_by_id(order.id))
    assert (status, message) == (422, 'order is already in "canceled" state')


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


def test_limit_above_500_is_rejected(sim: Simulator) -> None:
    status, _, message = rejection(
        lambda: client(sim).get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=501))
    )
    assert (status, message) == (422, "limit must be between 1 and 500")


def test_wrong_keys_are_unauthorized(sim: Simulator) -> None:
    intruder = TradingClient("PKWRONG", "nope", url_override=sim.url)
    status, code, _ = rejection(intruder.get_account)
    assert (status, code) == (401, 40110000)


def test_unknown_order_is_404(sim: Simulator) -> None:
    status, code, _ = rejection(
        lambda: client(sim).get_order_by_id("00000000-0000-4000-8000-000000000000")
    )
    assert (status, code) == (404, 40410000)
