"""The simulator's fault injection, met through the real alpaca-py client: errors that change
nothing, answers lost after the order is placed, dropped connections, late and rewritten
answers, latency on every request, and the log of what was sent."""

import asyncio
import threading
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import StopOrderRequest

from engine.simulator.faults import Fault, FaultKind
from engine.simulator.runner import (
    Simulator,
    SimulatorInternalError,
    SimulatorThread,
    running_simulator,
)
from engine.simulator.scenarios import CRASH_TIME

D = Decimal


def client(simulator: Simulator) -> TradingClient:
    trading = TradingClient(simulator.key_id, simulator.secret_key, url_override=simulator.url)
    trading._retry = 0  # alpaca-py would sleep 3 s before retrying a 429 or 504
    return trading


def sell_stop(client_order_id: str = "recon-stop-AAPL-1") -> StopOrderRequest:
    return StopOrderRequest(
        symbol="AAPL",
        qty=100,
        side=OrderSide.SELL,
        time_in_force=TimeInForce.GTC,
        stop_price=183.45,
        client_order_id=client_order_id,
    )


def placed(simulator: Simulator) -> list[str]:
    return [o.client_order_id for o in simulator.broker.orders.values()]


@pytest.mark.parametrize(("status", "code"), [(500, 50010000), (503, 50010000), (429, 42910000)])
def test_status_fault(sim: Simulator, status: int, code: int) -> None:
    sim.faults.add(Fault(FaultKind.STATUS, path="/v2/orders", method="POST", status=status))
    trading = client(sim)
    with pytest.raises(APIError) as caught:
        trading.submit_order(sell_stop())
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert placed(sim) == []
    assert trading.submit_order(sell_stop()).client_order_id == "recon-stop-AAPL-1"


def test_lose_answer_fault_places_order_but_client_sees_connection_error(sim: Simulator) -> None:
    sim.faults.add(Fault(FaultKind.LOSE_ANSWER, path="/v2/orders", method="POST"))
    trading = client(sim)
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        trading.submit_order(sell_stop())
    assert time.monotonic() - started < 1
    assert placed(sim) == ["recon-stop-AAPL-1"]
    assert trading.get_order_by_client_id("recon-stop-AAPL-1").qty == "100"


def test_lose_answer_loses_a_rejection_too(sim: Simulator) -> None:
    trading = client(sim)
    trading.submit_order(sell_stop("first"))
    sim.faults.add(Fault(FaultKind.LOSE_ANSWER, path="/v2/orders", method="POST"))
    with pytest.raises(requests.ConnectionError):
        trading.submit_order(sell_stop("second"))  # 403 on the broker: the shares are held
    assert placed(sim) == ["first"]


def test_drop_connection_fault_places_nothing(sim: Simulator) -> None:
    sim.faults.add(Fault(FaultKind.DROP_CONNECTION, path="/v2/orders", method="POST"))
    with pytest.raises(requests.ConnectionError):
        client(sim).submit_order(sell_stop())
    assert placed(sim) == []


def test_rewrite_fault_changes_the_answer_not_the_book(sim: Simulator) -> None:
    def unknown_status(order: Any) -> Any:
        return {**order, "status": "bogus", "filled_avg_price": None}

    sim.faults.add(Fault(FaultKind.REWRITE, path="/v2/orders", rewrite=unknown_status))
    answer = requests.post(
        f"{sim.url}/v2/orders",
        json={"symbol": "AAPL", "qty": 100, "side": "sell", "type": "stop",
              "time_in_force": "gtc", "stop_price": 183.45},
        headers={"APCA-API-KEY-ID": sim.key_id, "APCA-API-SECRET-KEY": sim.secret_key},
        timeout=5,
    )  # fmt: skip
    assert answer.json()["status"] == "bogus"
    [order] = sim.broker.orders.values()
    assert order.status == "new"


def test_rewrite_fault_leaves_an_empty_204_alone(sim: Simulator) -> None:
    trading = client(sim)
    order = trading.submit_order(sell_stop())
    sim.faults.add(Fault(FaultKind.REWRITE, path="/v2/orders", method="DELETE", rewrite=dict))
    trading.cancel_order_by_id(order.id)
    assert trading.get_order_by_id(order.id).status.value == "canceled"


def test_fault_path_is_a_prefix_unless_exact(sim: Simulator) -> None:
    trading = client(sim)
    order = trading.submit_order(sell_stop())
    sim.faults.add(Fault(FaultKind.STATUS, path="/v2/orders", method="GET", exact=True))
    assert trading.get_order_by_id(order.id).id == order.id  # /v2/orders/{id}: not spoiled
    with pytest.raises(APIError):
        trading.get_orders()
    sim.faults.add(Fault(FaultKind.STATUS, path="/v2/orders", method="GET"))
    with pytest.raises(APIError):
        trading.get_order_by_id(order.id)


def test_fault_spoils_the_next_n_requests_or_every_one(sim: Simulator) -> None:
    trading = client(sim)
    sim.faults.add(Fault("status", path="/v2/account", times=2))
    outcomes = []
    for _ in range(3):
        try:
            trading.get_account()
            outcomes.append("ok")
        except APIError:
            outcomes.append("failed")
    assert outcomes == ["failed", "failed", "ok"]
    sim.faults.add(Fault(FaultKind.STATUS, path="/v2/clock", times=None))
    for _ in range(3):
        with pytest.raises(APIError):
            trading.get_clock()
    sim.faults.clear()
    assert trading.get_clock().is_open


def test_request_log_counts_what_was_sent(sim: Simulator) -> None:
    trading = client(sim)
    trading.get_account()
    trading.submit_order(sell_stop())
    trading.get_order_by_client_id("recon-stop-AAPL-1")
    trading.cancel_orders()
    logged = sim.requests.entries()
    assert [(r.method, r.path) for r in logged] == [
        ("GET", "/v2/account"),
        ("POST", "/v2/orders"),
        ("GET", "/v2/orders:by_client_order_id"),
        ("DELETE", "/v2/orders"),
    ]
    assert logged[2].query == "client_order_id=recon-stop-AAPL-1"
    assert logged[0].at == CRASH_TIME
    assert (sim.requests.count("POST"), sim.requests.count("GET", "/v2/orders"), len(logged)) == (
        1,
        1,
        4,
    )


async def test_delay_fault_lets_the_client_time_out_and_still_places_the_order() -> None:
    async with running_simulator("empty", now=lambda: CRASH_TIME) as sim:
        sim.broker.prices["AAPL"] = D("189.50")
        sim.broker.seed_position("AAPL", D(100), D("187.20"))
        sim.faults.add(Fault(FaultKind.DELAY, path="/v2/orders", method="POST", delay=0.3))
        headers = {"APCA-API-KEY-ID": sim.key_id, "APCA-API-SECRET-KEY": sim.secret_key}
        body = {
            **sell_stop("late").model_dump(mode="json", exclude_none=True),
            "type": "stop",
        }
        async with aiohttp.ClientSession(headers=headers) as session:
            with pytest.raises(TimeoutError):
                async with session.post(
                    f"{sim.url}/v2/orders", json=body, timeout=aiohttp.ClientTimeout(total=0.05)
                ):
                    pass
            for _ in range(50):
                if placed(sim):
                    break
                await asyncio.sleep(0.02)
        assert placed(sim) == ["late"]


async def test_latency_is_added_to_every_request() -> None:
    async with running_simulator("empty", now=lambda: CRASH_TIME) as sim:
        sim.latency = 0.05
        trading = client(sim)
        started = time.monotonic()
        for _ in range(3):
            await asyncio.to_thread(trading.get_clock)
        assert time.monotonic() - started >= 0.15


async def test_a_held_request_is_answered_once_released_and_others_go_on_meanwhile() -> None:
    async with running_simulator("empty", now=lambda: CRASH_TIME) as sim:
        released = threading.Event()
        sim.faults.add(Fault(FaultKind.HOLD, path="/v2/account", released=released))
        trading = client(sim)
        held = asyncio.create_task(asyncio.to_thread(trading.get_account))
        assert (await asyncio.to_thread(trading.get_clock)) is not None
        assert not held.done()
        released.set()
        assert (await held).account_number == "PA3SIMRECON1"


def test_a_held_request_needs_the_event_that_releases_it() -> None:
    with pytest.raises(ValueError, match="releases it"):
        Fault(FaultKind.HOLD)


# The simulator's own errors: the test that caused them fails ------------------------------


def a_route_with_a_bug(simulator: Simulator) -> None:
    def account_wire() -> dict[str, Any]:
        raise KeyError("a bug in the simulator")

    simulator.broker.account_wire = account_wire  # type: ignore[method-assign]


async def test_a_route_that_raises_is_kept_and_fails_the_test_on_leaving() -> None:
    with pytest.raises(SimulatorInternalError, match="GET /v2/account: Traceback") as failed:
        async with running_simulator("empty") as sim:
            a_route_with_a_bug(sim)
            with pytest.raises(APIError) as answered:
                await asyncio.to_thread(client(sim).get_account)
            assert answered.value.status_code == 500
            assert len(sim.internal_errors) == 1
    assert "KeyError: 'a bug in the simulator'" in str(failed.value)


def test_a_route_that_raises_fails_the_test_leaving_the_simulator_thread() -> None:
    with (
        pytest.raises(SimulatorInternalError, match="failed 1 request"),
        SimulatorThread("empty") as sim,
    ):
        a_route_with_a_bug(sim)
        with pytest.raises(APIError):
            client(sim).get_account()


async def test_an_injected_500_is_a_fault_not_an_error_of_the_simulators_own() -> None:
    async with running_simulator("empty") as sim:
        sim.faults.add(Fault(FaultKind.STATUS, path="/v2/account", status=500, times=2))
        for _ in range(2):
            with pytest.raises(APIError):
                await asyncio.to_thread(client(sim).get_account)
        assert sim.internal_errors == []


async def test_a_raw_body_fault_answers_text_no_encoder_would_write() -> None:
    async with running_simulator("empty") as sim:
        sim.faults.add(Fault(FaultKind.RAW_BODY, path="/v2/clock", body="[" * 100_000))
        headers = {"APCA-API-KEY-ID": sim.key_id, "APCA-API-SECRET-KEY": sim.secret_key}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(f"{sim.url}/v2/clock") as answer,
        ):
            assert (answer.status, await answer.text()) == (200, "[" * 100_000)
        assert sim.internal_errors == []
