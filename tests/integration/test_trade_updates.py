"""Stops confirmed from the broker's trade_updates stream, and the fallback when it is absent."""

from decimal import Decimal

import pytest

from engine.broker.alpaca import AlpacaBroker
from engine.broker.errors import StreamUnavailable
from engine.broker.status_map import meaning_of
from engine.broker.trade_updates import TradeUpdates, stream_url
from engine.domain import BrokerOrder, NewOrder, OrderType, Side, TimeInForce
from engine.simulator.runner import Simulator

D = Decimal


def working(order: BrokerOrder) -> bool:
    return meaning_of(order.status).protects


async def test_a_placed_stop_is_heard_working_on_the_stream(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    simulator.broker.prices["AAPL"] = D("189.50")
    simulator.broker.seed_position("AAPL", D(100), D("187.20"))
    updates = await broker.open_trade_updates()
    try:
        placed = await broker.submit_order(
            NewOrder("recon-stop-AAPL-1", "AAPL", Side.SELL, D(100), OrderType.STOP,
                     TimeInForce.GTC, stop_price=D("183.45"))
        )  # fmt: skip
        heard = await updates.wait_until(placed.id, working, within_seconds=2.0)
    finally:
        await updates.close()
    assert heard is not None
    assert (heard.id, heard.status, heard.stop_price) == (placed.id, "new", D("183.45"))


async def test_a_stream_that_refuses_the_keys_is_reported_unavailable(
    simulator: Simulator,
) -> None:
    updates = TradeUpdates(
        url=stream_url(simulator.url), key_id=simulator.key_id, secret_key="wrong"
    )
    with pytest.raises(StreamUnavailable, match="refused the stream's credentials"):
        await updates.start()


async def test_no_stream_at_all_is_reported_unavailable() -> None:
    updates = TradeUpdates(url="ws://127.0.0.1:9/stream", key_id="k", secret_key="s")
    with pytest.raises(StreamUnavailable, match="trade_updates stream unavailable"):
        await updates.start()


def test_the_stream_lives_beside_the_rest_api() -> None:
    assert stream_url("https://paper-api.alpaca.markets") == "wss://paper-api.alpaca.markets/stream"
    assert stream_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/stream"
