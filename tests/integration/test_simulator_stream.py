"""The simulator's `trade_updates` websocket, read by alpaca-py's own `TradingStream`: every
order change in the book arrives as `new`, `fill` or `canceled`."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import MarketOrderRequest, StopOrderRequest
from alpaca.trading.stream import TradingStream

from engine.simulator.runner import Simulator, running_simulator
from engine.simulator.scenarios import CRASH_TIME

D = Decimal


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running_simulator("empty", now=lambda: CRASH_TIME) as simulator:
        simulator.broker.prices["AAPL"] = D("189.50")
        simulator.broker.seed_position("AAPL", D(100), D("187.20"))
        yield simulator


class Listening:
    """alpaca-py's stream running in this loop, collecting what it hears."""

    def __init__(self, simulator: Simulator, secret_key: str | None = None) -> None:
        self.updates: list[TradeUpdate] = []
        self.stream = TradingStream(
            simulator.key_id,
            secret_key or simulator.secret_key,
            paper=True,
            url_override=simulator.stream_url,
        )
        self.stream.subscribe_trade_updates(self._hear)
        self._task: asyncio.Task[None] | None = None

    async def _hear(self, update: TradeUpdate) -> None:
        self.updates.append(update)

    async def __aenter__(self) -> "Listening":
        self._task = asyncio.create_task(self.stream._run_forever())
        for _ in range(200):
            if self.stream._running:
                return self
            await asyncio.sleep(0.01)
        raise AssertionError("the stream never connected")

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.stream.close()

    async def events(self, count: int) -> list[str]:
        for _ in range(200):
            if len(self.updates) >= count:
                break
            await asyncio.sleep(0.01)
        return [str(u.event) for u in self.updates]


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
