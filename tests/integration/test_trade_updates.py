"""Stops confirmed from the broker's trade_updates stream, and the fallback when it is absent."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from engine.broker.alpaca import AlpacaBroker
from engine.broker.errors import StreamUnavailable
from engine.broker.status_map import meaning_of
from engine.broker.trade_updates import TradeUpdates, stream_url
from engine.domain import BrokerOrder, NewOrder, OrderType, Side, TimeInForce
from engine.simulator.runner import Simulator
from tests.unit.test_wire import wire_order

D = Decimal
PATIENCE_SECONDS = 10.0


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


async def test_a_stream_given_up_before_it_is_authorized_leaves_no_connection_behind() -> None:
    """A run that ends before its stream is open (its read failed) cancels the opening; here
    the broker has taken the connection and the key pair and not yet answered."""
    authenticating = asyncio.Event()
    gone = asyncio.Event()

    async def never_authorize(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # authenticate
        authenticating.set()
        await ws.receive()  # whatever comes next: the client's close, or the connection's end
        gone.set()
        return ws

    async with serving(never_authorize) as url:
        updates = TradeUpdates(url=url, key_id="PKTEST", secret_key="test-secret")
        opening = asyncio.create_task(updates.start())
        await asyncio.wait_for(authenticating.wait(), PATIENCE_SECONDS)
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        await asyncio.wait_for(gone.wait(), PATIENCE_SECONDS)


def test_the_stream_lives_beside_the_rest_api() -> None:
    assert stream_url("https://paper-api.alpaca.markets") == "wss://paper-api.alpaca.markets/stream"
    assert stream_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/stream"


# Frames that cannot be read: each logged and skipped, never the end of the listening ------


AUTHORIZED = json.dumps({"stream": "authorization", "data": {"status": "authorized"}})


@asynccontextmanager
async def broker_stream(
    frames: list[str | bytes], *, authorization: str = AUTHORIZED
) -> AsyncIterator[str]:
    """A stream that answers anyone's authentication with `authorization`, then sends `frames`
    once it is asked to listen; its URL."""

    async def serve(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # authenticate
        await ws.send_str(authorization)
        await ws.receive()  # listen
        for frame in frames:
            await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
        await ws.receive()  # until the client goes
        return ws

    async with serving(serve) as url:
        yield url


@asynccontextmanager
async def serving(
    stream: Callable[[web.Request], Awaitable[web.WebSocketResponse]],
) -> AsyncIterator[str]:
    """`stream` served at a stream path of its own on 127.0.0.1; its URL."""
    app = web.Application()
    app.router.add_get("/stream", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    listener = socket.create_server(("127.0.0.1", 0))
    await web.SockSite(runner, listener).start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}/stream"
    finally:
        await runner.cleanup()


def update(event: str, order: Any) -> str:
    return json.dumps({"stream": "trade_updates", "data": {"event": event, "order": order}})


GOOD = wire_order(id="0b9e7a2c-1111-4c1e-9a55-00000000900d")
HOSTILE_FRAMES: list[str | bytes] = [
    b"\x80\xff not utf-8",
    "not json at all",
    "[1, 2, 3]",
    "[" * 100_000,
    '{"stream": "trade_updates", "data": {"equity": ' + "9" * 10_000 + "}}",
    json.dumps({"stream": "trade_updates", "data": "an update"}),
    update("teleported", wire_order()),
    update("new", {**wire_order(), "qty": "lots"}),
    update("new", {**wire_order(), "created_at": "0001-01-01T00:00:00+01:00"}),
    update("new", wire_order(legs=[wire_order(legs=[wire_order()])])),
    json.dumps({"stream": "listening", "data": {"streams": ["trade_updates"]}}),
    update("new", GOOD),
]


async def test_frames_that_cannot_be_read_are_skipped_and_the_stream_keeps_listening() -> None:
    async with broker_stream(HOSTILE_FRAMES) as url:
        updates = TradeUpdates(url=url, key_id="PKTEST", secret_key="test-secret")
        with capture_logs() as logs:
            await updates.start()
            try:
                heard = await updates.wait_until(GOOD["id"], lambda order: True, 5.0)
                still_listening = updates._task is not None and not updates._task.done()
            finally:
                await updates.close()
    assert heard is not None and heard.id == GOOD["id"]
    assert still_listening
    skipped = [entry for entry in logs if entry["event"] == "trade_update_unreadable"]
    assert len(skipped) == len(HOSTILE_FRAMES) - 2  # all but the acknowledgement and GOOD
    assert all(len(entry["error"]) < 200 for entry in skipped)


async def test_an_authorization_that_cannot_be_read_is_an_unavailable_stream() -> None:
    async with broker_stream([], authorization="[" * 100_000) as url:
        updates = TradeUpdates(url=url, key_id="PKTEST", secret_key="test-secret")
        with pytest.raises(StreamUnavailable, match="a frame that is not JSON"):
            await updates.start()


async def test_the_stream_connects_straight_to_the_broker_whatever_proxy_the_environment_names(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "socks5://127.0.0.1:9")  # nothing listens there
    updates = TradeUpdates(
        url=stream_url(simulator.url), key_id=simulator.key_id, secret_key=simulator.secret_key
    )
    await updates.start()
    await updates.close()
    assert simulator.streams.connections_served == 1
