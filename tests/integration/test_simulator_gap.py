"""A market that falls through each new stop, met through the real alpaca-py client and its
trade stream: the stop is answered `pending_new`, and the next read finds it filled one tick
beyond its level with the position gone."""

import asyncio
from collections.abc import Iterator

import pytest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import StopOrderRequest

from engine.simulator.runner import Simulator, SimulatorThread, running_simulator
from engine.simulator.scenarios import CRASH_TIME
from tests.integration.simulator_harness import Listening
from tests.integration.test_simulator_rules import client


@pytest.fixture
def stop_falls_through() -> Iterator[Simulator]:
    with SimulatorThread("stop_falls_through", now=lambda: CRASH_TIME) as simulator:
        yield simulator


def tsla_sell_stop(stop_price: float) -> StopOrderRequest:
    return StopOrderRequest(
        symbol="TSLA", qty=100, side=OrderSide.SELL, time_in_force=TimeInForce.GTC,
        stop_price=stop_price,
    )  # fmt: skip


def test_new_stop_answers_pending_new_and_reads_filled_one_tick_through_its_level(
    stop_falls_through: Simulator,
) -> None:
    trading = client(stop_falls_through)
    assert trading.get_open_position("TSLA").qty == "100"  # type: ignore[union-attr]
    answer = trading.submit_order(tsla_sell_stop(235))
    assert isinstance(answer, Order) and answer.status.value == "pending_new"
    filled = trading.get_order_by_id(answer.id)
    assert isinstance(filled, Order)
    assert (filled.status.value, filled.filled_qty, filled.filled_avg_price) == (
        "filled",
        "100",
        "234.99",
    )
    assert trading.get_all_positions() == []


async def test_the_stream_hears_the_stop_pending_new_and_filled() -> None:
    async with running_simulator("stop_falls_through", now=lambda: CRASH_TIME) as simulator:
        trading = client(simulator)
        async with Listening(simulator) as listening:
            answer = await asyncio.to_thread(trading.submit_order, tsla_sell_stop(235))
            await asyncio.to_thread(trading.get_all_positions)
            events = await listening.events(3)
    assert events == ["pending_new", "new", "fill"]
    fill = listening.updates[2]
    assert isinstance(answer, Order) and fill.order.id == answer.id
    assert (fill.price, fill.qty, fill.position_qty) == (234.99, 100, 0)
