"""recon's Alpaca adapter — the real alpaca-py over real HTTP — against the simulator's faults:
every page read, transient failures retried, submissions never blindly repeated."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.broker.alpaca import AlpacaBroker
from engine.broker.errors import (
    AmbiguousSubmit,
    BrokerRejected,
    BrokerUnreachable,
    MalformedBrokerResponse,
    OrderNotFound,
    UnknownOrderStatus,
)
from engine.domain import NewOrder, OrderType, PositionSide, Side, TimeInForce
from engine.simulator.faults import Fault, FaultKind
from engine.simulator.runner import Simulator
from tests.integration.conftest import TEST_TIMEOUT_SECONDS

D = Decimal


def stop_order(client_order_id: str = "recon-stop-AAPL-1", qty: str = "100") -> NewOrder:
    return NewOrder(
        client_order_id=client_order_id,
        symbol="AAPL",
        side=Side.SELL,
        qty=D(qty),
        order_type=OrderType.STOP,
        time_in_force=TimeInForce.GTC,
        stop_price=D("183.45"),
    )


@pytest.fixture(autouse=True)
def aapl_position(simulator: Simulator) -> None:
    simulator.broker.prices["AAPL"] = D("189.50")
    simulator.broker.seed_position("AAPL", D("100"), D("187.20"))


async def test_reads_come_back_as_exact_decimals(broker: AlpacaBroker) -> None:
    account = await broker.get_account()
    [position] = await broker.get_positions()
    assert account.last_equity == D("100000")
    assert (position.side, position.qty, position.current_price) == (
        PositionSide.LONG,
        D(100),
        D("189.50"),
    )
    assert (await broker.get_clock()).is_open


async def test_recent_orders_reads_every_page(simulator: Simulator, broker: AlpacaBroker) -> None:
    now = simulator.broker.now()
    for n in range(1203):
        simulator.broker.seed_order(
            symbol="AAPL", side="buy", type="market", qty=D(1), status="filled",
            submitted_at=now - timedelta(hours=20) + timedelta(seconds=n // 3),
        )  # fmt: skip
    simulator.broker.seed_order(
        symbol="AAPL", side="buy", type="market", qty=D(1), status="filled",
        submitted_at=now - timedelta(hours=30),
    )  # fmt: skip
    orders = await broker.get_recent_orders(24)
    assert len(orders) == 1203
    assert len({order.id for order in orders}) == 1203
    assert simulator.requests.count("GET", "/v2/orders") >= 3


async def test_open_orders_read_every_page_too(simulator: Simulator, broker: AlpacaBroker) -> None:
    for _ in range(501):
        simulator.broker.seed_order(symbol="AAPL", side="buy", type="limit", qty=D(1))
    assert len(await broker.get_open_orders()) == 501


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_transient_answers_are_retried(
    simulator: Simulator, broker: AlpacaBroker, status: int
) -> None:
    simulator.faults.add(Fault(FaultKind.STATUS, path="/v2/account", status=status, times=2))
    assert (await broker.get_account()).account_number == "PA3SIMRECON1"
    assert simulator.requests.count("GET", "/v2/account") == 3


async def test_a_silent_broker_times_out_and_is_retried(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    simulator.faults.add(
        Fault(FaultKind.DELAY, path="/v2/clock", delay=TEST_TIMEOUT_SECONDS * 3, times=1)
    )
    assert (await broker.get_clock()).is_open
    assert simulator.requests.count("GET", "/v2/clock") == 2


async def test_persistent_failure_is_unreachable_after_four_attempts(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    simulator.faults.add(Fault(FaultKind.STATUS, path="/v2/positions", status=503, times=None))
    with pytest.raises(BrokerUnreachable, match="list positions failed after 4 attempts"):
        await broker.get_positions()
    assert simulator.requests.count("GET", "/v2/positions") == 4


async def test_dropped_connection_on_a_read_is_retried(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    simulator.faults.add(Fault(FaultKind.DROP_CONNECTION, path="/v2/positions", times=1))
    assert len(await broker.get_positions()) == 1


async def test_submit_with_answer_lost_is_ambiguous_and_found_by_client_order_id(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    simulator.faults.add(Fault(FaultKind.LOSE_ANSWER, path="/v2/orders", method="POST"))
    with pytest.raises(AmbiguousSubmit) as caught:
        await broker.submit_order(stop_order())
    assert caught.value.client_order_id == "recon-stop-AAPL-1"
    assert simulator.requests.count("POST") == 1  # sent once, never repeated blindly
    found = await broker.find_order_by_client_id("recon-stop-AAPL-1")
    assert found is not None and found.stop_price == D("183.45")


async def test_submit_that_never_arrived_is_ambiguous_and_not_found(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    simulator.faults.add(Fault(FaultKind.DROP_CONNECTION, path="/v2/orders", method="POST"))
    with pytest.raises(AmbiguousSubmit):
        await broker.submit_order(stop_order())
    assert await broker.find_order_by_client_id("recon-stop-AAPL-1") is None


@pytest.mark.parametrize("status", [500, 504])
async def test_submit_answered_5xx_is_ambiguous_not_retried(
    simulator: Simulator, broker: AlpacaBroker, status: int
) -> None:
    simulator.faults.add(Fault(FaultKind.STATUS, path="/v2/orders", method="POST", status=status))
    with pytest.raises(AmbiguousSubmit):
        await broker.submit_order(stop_order())
    assert simulator.requests.count("POST") == 1


async def test_submit_timeout_is_ambiguous(simulator: Simulator, broker: AlpacaBroker) -> None:
    simulator.faults.add(
        Fault(FaultKind.DELAY, path="/v2/orders", method="POST", delay=TEST_TIMEOUT_SECONDS * 3)
    )
    with pytest.raises(AmbiguousSubmit):
        await broker.submit_order(stop_order())


async def test_rejection_carries_alpacas_code_and_message(broker: AlpacaBroker) -> None:
    await broker.submit_order(stop_order("first", qty="60"))
    with pytest.raises(BrokerRejected) as caught:
        await broker.submit_order(stop_order("second", qty="50"))
    assert (caught.value.status_code, caught.value.code) == (403, 40310000)
    assert caught.value.message.startswith("insufficient qty available for order")


async def test_unknown_order_is_not_found(broker: AlpacaBroker) -> None:
    with pytest.raises(OrderNotFound):
        await broker.get_order("00000000-0000-4000-8000-000000000000")
    with pytest.raises(OrderNotFound, match="not an Alpaca order id"):
        await broker.get_order("local-123")
    assert await broker.find_order_by_client_id("never-sent") is None


async def test_unknown_status_is_a_typed_error(simulator: Simulator, broker: AlpacaBroker) -> None:
    order = simulator.broker.seed_order(
        symbol="AAPL", side="sell", type="stop", qty=D(100), stop_price=D(180), status="bogus"
    )
    with pytest.raises(UnknownOrderStatus, match="'bogus'"):
        await broker.get_order(order.id)


async def test_malformed_answer_is_a_typed_error(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    def drop_qty(positions: Any) -> Any:
        return [{**p, "qty": "lots"} for p in positions]

    simulator.faults.add(Fault(FaultKind.REWRITE, path="/v2/positions", rewrite=drop_qty))
    with pytest.raises(MalformedBrokerResponse, match="position AAPL: qty is 'lots'"):
        await broker.get_positions()


async def test_submitted_stop_round_trips_exactly(broker: AlpacaBroker) -> None:
    placed = await broker.submit_order(stop_order())
    assert (placed.qty, placed.stop_price, placed.client_order_id) == (
        D(100),
        D("183.45"),
        "recon-stop-AAPL-1",
    )
    await broker.cancel_order(placed.id)
    assert (await broker.get_order(placed.id)).status == "canceled"


async def test_alpaca_py_internal_retry_is_switched_off(broker: AlpacaBroker) -> None:
    # alpaca-py would otherwise sleep 3 s per 429 before recon's own policy saw it.
    assert broker._client._retry == 0


# Hostile answers: each the typed error a run aborts on, never a traceback -----------------

DEEP = "[" * 5_000 + "]" * 5_000


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (DEEP, r"unreadable answer \(JSON nested too deeply\)"),
        ('{"equity": ' + "1" * 10_000 + "}", "unreadable answer"),
    ],
    ids=["nested-5000-deep", "int-of-10000-digits"],
)
async def test_an_answer_no_parser_reads_is_malformed(
    simulator: Simulator, broker: AlpacaBroker, body: str, complaint: str
) -> None:
    simulator.faults.add(Fault(FaultKind.RAW_BODY, path="/v2/account", body=body))
    with pytest.raises(MalformedBrokerResponse, match=f"get account: {complaint}"):
        await broker.get_account()
    assert simulator.requests.count("GET", "/v2/account") == 1  # not retried: it will not heal


async def test_a_submission_answered_too_deep_to_parse_is_malformed(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    simulator.faults.add(Fault(FaultKind.RAW_BODY, path="/v2/orders", method="POST", body=DEEP))
    with pytest.raises(MalformedBrokerResponse, match="JSON nested too deeply"):
        await broker.submit_order(stop_order())


async def test_a_refusal_whose_body_is_nested_too_deep_is_still_a_refusal(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    simulator.faults.add(Fault(FaultKind.RAW_BODY, path="/v2/orders/", method="GET", body=DEEP))
    with pytest.raises(OrderNotFound):
        await broker.get_order("00000000-0000-4000-8000-000000000000")


async def test_an_order_listed_at_the_dawn_of_time_is_malformed(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    await broker.submit_order(stop_order())

    def year_zero(orders: Any) -> Any:
        return [{**order, "created_at": "0001-01-01T00:00:00+01:00"} for order in orders]

    simulator.faults.add(Fault(FaultKind.REWRITE, path="/v2/orders", rewrite=year_zero))
    with pytest.raises(MalformedBrokerResponse, match=r"created_at .*beyond any time"):
        await broker.get_open_orders()


async def test_a_short_reported_with_a_positive_qty_is_malformed(
    simulator: Simulator, broker: AlpacaBroker
) -> None:
    def unsigned(positions: Any) -> Any:
        return [{**p, "side": "short"} for p in positions]

    simulator.faults.add(Fault(FaultKind.REWRITE, path="/v2/positions", rewrite=unsigned))
    with pytest.raises(MalformedBrokerResponse, match="position AAPL: qty is '100' on a short"):
        await broker.get_positions()


async def test_a_stop_at_zero_is_never_sent(simulator: Simulator, broker: AlpacaBroker) -> None:
    with pytest.raises(ValueError, match=r"stop_price 0\.0000 is not above zero"):
        await broker.submit_order(replace(stop_order(), stop_price=D("0.0000")))
    assert simulator.requests.count("POST") == 0
