"""The simulator's `trade_updates` websocket, read by alpaca-py's own `TradingStream`: every
order change in the book arrives as `new`, `fill`, `canceled` or `expired`; a dropped connection
dies under its client, and a refused one is told why once it has authenticated."""

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest, StopOrderRequest
from alpaca.trading.stream import TradingStream
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK

from engine.simulator.runner import Simulator, running_simulator
from engine.simulator.scenarios import CRASH_TIME
from tests.integration.simulator_harness import Listening, trading_stream

D = Decimal


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running_simulator("empty", now=lambda: CRASH_TIME) as simulator:
        simulator.broker.prices["AAPL"] = D("189.50")
        simulator.broker.seed_position("AAPL", D(100), D("187.20"))
        yield simulator


def client(simulator: Simulator) -> TradingClient:
    return TradingClient(simulator.key_id, simulator.secret_key, url_override=simulator.url)


async def test_trade_stream_reports_new_fill_and_canceled(sim: Simulator) -> None:
    trading = client(sim)
    async with Listening(sim) as listening:
        stop = await asyncio.to_thread(
            trading.submit_order,
            StopOrderRequest(
                symbol="AAPL", qty=60, side=OrderSide.SELL, time_in_force=TimeInForce.GTC,
                stop_price=183.45,
            ),
        )  # fmt: skip
        await asyncio.to_thread(
            trading.submit_order,
            MarketOrderRequest(
                symbol="AAPL", qty=40, side=OrderSide.SELL, time_in_force=TimeInForce.DAY
            ),
        )
        await asyncio.to_thread(trading.cancel_order_by_id, stop.id)
        events = await listening.events(4)
    assert events == ["new", "new", "fill", "canceled"]
    fill = listening.updates[2]
    assert (fill.price, fill.qty, fill.position_qty) == (189.5, 40, 60)
    assert fill.order.status.value == "filled" and fill.execution_id is not None
    assert listening.updates[3].order.id == stop.id


async def test_trade_stream_reports_a_stop_the_market_crosses(sim: Simulator) -> None:
    sim.broker.submit(
        {"symbol": "AAPL", "qty": 100, "side": "sell", "type": "stop", "time_in_force": "gtc",
         "stop_price": D("185")}
    )  # fmt: skip
    async with Listening(sim) as listening:
        # The market moves on another thread, as a test driving the book would move it.
        await asyncio.to_thread(sim.broker.set_price, "AAPL", D("184.10"))
        assert await listening.events(1) == ["fill"]
    assert listening.updates[0].position_qty == 0


async def test_trade_stream_refuses_wrong_keys(sim: Simulator) -> None:
    stream = TradingStream(sim.key_id, "wrong", url_override=sim.stream_url)
    await stream._connect()
    with pytest.raises(ValueError, match="failed to authenticate"):
        await stream._auth()
    await stream.close()


async def test_trade_stream_reports_a_fill_by_hand_and_a_day_stop_expired_at_the_close(
    sim: Simulator,
) -> None:
    stop = sim.broker.submit(
        {"symbol": "AAPL", "qty": 40, "side": "sell", "type": "stop", "time_in_force": "day",
         "stop_price": D("185")}
    )  # fmt: skip
    async with Listening(sim) as listening:
        by_hand = await asyncio.to_thread(sim.broker.fill_by_hand, "AAPL", "buy", D(10))
        await asyncio.to_thread(sim.broker.set_market_open, False)
        events = await listening.events(3)
    assert events == ["new", "fill", "expired"]
    fill, expired = listening.updates[1], listening.updates[2]
    assert (str(fill.order.id), fill.order.client_order_id) == (
        by_hand["id"],
        by_hand["client_order_id"],
    )
    assert (fill.price, fill.qty, fill.position_qty) == (189.5, 10, 110)
    assert str(expired.order.id) == stop["id"]
    assert expired.order.status.value == "expired" and expired.order.expired_at is not None


@pytest.mark.parametrize("from_another_thread", [True, False], ids=["thread", "server-loop"])
async def test_dropped_stream_dies_under_its_client_without_a_closing_handshake(
    sim: Simulator, from_another_thread: bool
) -> None:
    stream = trading_stream(sim)
    await stream._start_ws()
    assert json.loads(await stream._ws.recv())["stream"] == "listening"
    if from_another_thread:
        await asyncio.to_thread(sim.streams.drop_all)
    else:
        sim.streams.drop_all()
    with pytest.raises(ConnectionClosedError) as closed:
        await stream._ws.recv()
    assert closed.value.rcvd is None  # no close frame: the socket just went
    await stream.close()


async def test_second_connection_is_told_the_limit_is_exceeded_while_the_first_keeps_hearing(
    sim: Simulator,
) -> None:
    async with Listening(sim) as listening:
        sim.streams.refuse(True)
        second = trading_stream(sim)
        await second._connect()
        await second._ws.send(
            json.dumps(
                {
                    "action": "authenticate",
                    "data": {"key_id": sim.key_id, "secret_key": sim.secret_key},
                }
            )
        )
        refusal = json.loads(await second._ws.recv())
        with pytest.raises(ConnectionClosedOK):
            await second._ws.recv()
        await second.close()
        await asyncio.to_thread(sim.broker.fill_by_hand, "AAPL", "sell", D(10))
        assert await listening.events(2) == ["new", "fill"]
    assert refusal == {
        "action": "error",
        "data": {"error_message": "connection limit exceeded", "code": 406},
    }


async def test_alpaca_py_fails_to_authenticate_while_refused_and_connects_once_let_in(
    sim: Simulator,
) -> None:
    stream = trading_stream(sim)
    await asyncio.to_thread(sim.streams.refuse, True)
    with pytest.raises(ValueError, match="failed to authenticate"):
        await stream._start_ws()
    await stream.close()
    sim.streams.refuse(False)
    await stream._start_ws()
    assert json.loads(await stream._ws.recv())["stream"] == "listening"
    await stream.close()
