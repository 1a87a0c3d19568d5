"""The simulator's `trade_updates` websocket, spoken as alpaca-py's `TradingStream` expects it:
authenticate, listen, then one message for every order event in the book of the account whose
key pair authenticated; and the faults a test puts on an account's stream: every connection
dropped, new ones refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from engine.simulator.book import ID_NAMESPACE, SimulatedBroker

STREAM_PATH = "/stream"
TRADE_UPDATES = "trade_updates"
# alpaca-py authenticates right after connecting; a silent client is let go.
AUTH_TIMEOUT_SECONDS = 10.0
# Going away: the simulator is shutting down.
CLOSE_GOING_AWAY = 1001
# Alpaca documents no refusal for a second trade_updates connection (users report an HTTP 429
# at the upgrade); this is its market-data stream's documented one ({"T": "error", "code": 406,
# "msg": "connection limit exceeded"}), carried in the trade stream's documented error message.
CONNECTION_LIMIT_EXCEEDED = "connection limit exceeded"
CONNECTION_LIMIT_CODE = 406
# How long a caller on another thread waits for the server's loop to cut the connections; the
# loop has nothing slow to finish first.
LOOP_CALL_TIMEOUT_SECONDS = 5.0


def add_stream_route(
    app: web.Application, streams_for: Callable[[str, str], TradeStreams | None]
) -> None:
    """The one stream path every account connects to; `streams_for` names the account's
    connections for a key pair, None for a pair no account holds."""
    route = _StreamRoute(streams_for)
    app.router.add_get(STREAM_PATH, route.handle)
    app.on_shutdown.append(route.close_all)


def trade_update(event: str, order: dict[str, Any], position_qty: Decimal) -> dict[str, Any]:
    """One `trade_updates` message; fills carry their price, quantity and the position after."""
    data: dict[str, Any] = {"event": event, "order": order, "timestamp": order["updated_at"]}
    if event in ("fill", "partial_fill"):
        execution = f"{order['id']}:{event}:{order['filled_qty']}"
        data.update(
            execution_id=str(uuid.uuid5(ID_NAMESPACE, execution)),
            price=order["filled_avg_price"],
            qty=order["filled_qty"],
            position_qty=str(position_qty),
        )
    return {"stream": TRADE_UPDATES, "data": data}


class _StreamRoute:
    """Every connection to the stream path, from its upgrade on: it joins an account's
    connections once its authenticate message carries that account's key pair."""

    def __init__(self, streams_for: Callable[[str, str], TradeStreams | None]) -> None:
        self._streams_for = streams_for
        self._open: set[web.WebSocketResponse] = set()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._open.add(ws)
        try:
            streams = await self._authenticate(ws)
            if streams is not None:
                await streams.serve(ws, request.transport)
        finally:
            self._open.discard(ws)
            await ws.close()
        return ws

    async def close_all(self, app: web.Application) -> None:
        for ws in list(self._open):
            await ws.close(code=CLOSE_GOING_AWAY, message=b"simulator stopping")

    async def _authenticate(self, ws: web.WebSocketResponse) -> TradeStreams | None:
        try:
            async with asyncio.timeout(AUTH_TIMEOUT_SECONDS):
                message = await _receive(ws)
        except TimeoutError:
            return None
        data = message.get("data") if message is not None else None
        streams = None
        if (
            message is not None
            and message.get("action") in ("authenticate", "auth")
            and isinstance(data, dict)
            and isinstance(key_id := data.get("key_id"), str)
            and isinstance(secret_key := data.get("secret_key"), str)
        ):
            streams = self._streams_for(key_id, secret_key)
        if streams is None:
            await _send_authorization(ws, "unauthorized")
        return streams


class TradeStreams:
    """One account's open stream connections, each listening to its book while it wants trade
    updates. The connections belong to the server's event loop; `drop_all` and `refuse` may be
    called from any thread."""

    def __init__(self, broker: SimulatedBroker) -> None:
        self._broker = broker
        self._open: dict[web.WebSocketResponse, asyncio.Transport | None] = {}
        self._refusing = threading.Event()
        self._served = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def open_connections(self) -> int:
        """How many connections are open now, authenticated and served."""
        return len(self._open)

    @property
    def connections_served(self) -> int:
        """How many connections have authenticated and been served, open or gone."""
        return self._served

    def drop_all(self) -> None:
        """Cut every open connection without a closing handshake, as a network blip would:
        each client sees its socket die. Returns once they are cut."""
        self._on_server_loop(self._cut_all)

    def refuse(self, refusing: bool = True) -> None:
        """While refusing, a new connection that authenticates is told the account's
        connection limit is exceeded and closed, as Alpaca answers while an earlier
        connection still holds the account's one slot. Open connections are left alone."""
        if refusing:
            self._refusing.set()
        else:
            self._refusing.clear()

    async def serve(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        """A connection that authenticated with this account's key pair, until it goes."""
        if self._refusing.is_set():
            await _send_error(ws, CONNECTION_LIMIT_EXCEEDED, code=CONNECTION_LIMIT_CODE)
            return
        self._loop = asyncio.get_running_loop()
        self._open[ws] = transport
        self._served += 1
        try:
            await _send_authorization(ws, "authorized")
            await self._converse(ws)
        finally:
            self._open.pop(ws, None)

    def _cut_all(self) -> None:
        for transport in self._open.values():
            if transport is not None:
                transport.abort()

    def _on_server_loop(self, action: Callable[[], None]) -> None:
        """Run `action` on the loop that owns the connections, from it or from another thread,
        and return once it has run."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # nothing ever connected, or nothing is left running
        if _running_loop() is loop:
            action()
            return

        async def run() -> None:
            action()

        asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=LOOP_CALL_TIMEOUT_SECONDS)

    async def _converse(self, ws: web.WebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def hear(event: str, order: dict[str, Any]) -> None:
            # Runs under the book's lock, maybe on a test's thread: compute now, send later.
            message = trade_update(event, order, self._broker.position_qty(order["symbol"]))
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
                loop.call_soon_threadsafe(updates.put_nowait, message)

        sender = asyncio.create_task(_forward(updates, ws))
        listening = False
        try:
            while not ws.closed:
                message = await _receive(ws)
                if message is None:
                    break
                if message.get("action") != "listen":
                    await _send_error(ws, "unrecognized action")
                    continue
                data = message.get("data")
                wanted = data.get("streams") if isinstance(data, dict) else None
                wants_updates = isinstance(wanted, list) and TRADE_UPDATES in wanted
                if wants_updates and not listening:
                    self._broker.subscribe(hear)
                elif listening and not wants_updates:
                    self._broker.unsubscribe(hear)
                listening = wants_updates
                streams = [TRADE_UPDATES] if listening else []
                await ws.send_json({"stream": "listening", "data": {"streams": streams}})
        finally:
            if listening:
                self._broker.unsubscribe(hear)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender


async def _forward(updates: asyncio.Queue[dict[str, Any]], ws: web.WebSocketResponse) -> None:
    while True:
        message = await updates.get()
        if ws.closed:
            return
        try:
            await ws.send_json(message)
        except ConnectionError:  # dropped under it: the client hears nothing more, as it would
            return


async def _receive(ws: web.WebSocketResponse) -> dict[str, Any] | None:
    """The next JSON object from the client (text or binary frame), or None once it has gone;
    anything that is not a JSON object reads as an empty one."""
    while True:
        frame = await ws.receive()
        if frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return None
        if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            continue
        try:
            parsed = json.loads(frame.data)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}


async def _send_authorization(ws: web.WebSocketResponse, status: str) -> None:
    await ws.send_json(
        {"stream": "authorization", "data": {"action": "authenticate", "status": status}}
    )


async def _send_error(ws: web.WebSocketResponse, message: str, *, code: int | None = None) -> None:
    """The error message Alpaca documents for the trade stream, sent before it closes or, for a
    request it cannot read, instead of an answer."""
    data: dict[str, Any] = {"error_message": message}
    if code is not None:
        data["code"] = code
    await ws.send_json({"action": "error", "data": data})


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
