"""The broker's `trade_updates` websocket: orders as the broker reports them, the moment it
does. Used to confirm stops without waiting on a poll, and by the guard to hear at once that
something changed; when the stream cannot be had, callers fall back to asking. A frame that
cannot be read is logged and skipped: it never ends the listening. Spoken through websockets,
the client alpaca-py's own streams use, which a run loads in half the time aiohttp's takes; its
pings find a connection the broker stopped answering within 40 s."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from engine.broker.errors import MalformedBrokerResponse, StreamUnavailable
from engine.broker.wire import TRADE_UPDATES, trade_update_from_wire
from engine.domain import BrokerOrder

log = structlog.get_logger("recon.trade_updates")

CONNECT_TIMEOUT_SECONDS = 5.0
# How long closing waits for the broker to answer the closing handshake before cutting the
# connection: a run's end waits on it.
CLOSE_TIMEOUT_SECONDS = 1.0
# How much of the broker's refusal a message quotes.
REFUSAL_CHARACTERS = 200


def stream_url(base_url: str) -> str:
    """Alpaca serves the trade stream beside the REST API: https://host → wss://host/stream."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, f"{parts.path.rstrip('/')}/stream", "", ""))


class TradeUpdates:
    """One listening connection; `wait_until(order_id, …)` reads what it heard, `changed` is set
    on every update heard, and `ended` completes when the broker closes the connection."""

    def __init__(self, *, url: str, key_id: str, secret_key: SecretStr | str) -> None:
        self._url = url
        self._key_id = key_id
        self._secret_key = SecretStr(secret_key) if isinstance(secret_key, str) else secret_key
        self._orders: dict[str, BrokerOrder] = {}
        self._heard = asyncio.Condition()
        self._connection: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"TradeUpdates(url={self._url!r})"  # never the key pair

    async def start(self) -> None:
        """Connect, authenticate and listen; `StreamUnavailable`, saying why, if the broker
        will not."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                ws = self._connection = await connect(
                    self._url,
                    open_timeout=None,  # the timeout above bounds the whole opening
                    close_timeout=CLOSE_TIMEOUT_SECONDS,
                    compression=None,  # Alpaca's updates are a few hundred bytes each
                    # Straight to the broker, as the stream has always connected: a SOCKS proxy
                    # in the environment would need a package recon does not install.
                    proxy=None,
                )
                authenticate = {
                    "action": "authenticate",
                    "data": {
                        "key_id": self._key_id,
                        "secret_key": self._secret_key.get_secret_value(),
                    },
                }
                await ws.send(json.dumps(authenticate))
                frame = await _receive(ws)
                answer = None if frame is None else message_from_frame(frame)
                if _status(answer) != "authorized":
                    raise ConnectionRefusedError(_refusal(answer))
                listen = {"action": "listen", "data": {"streams": [TRADE_UPDATES]}}
                await ws.send(json.dumps(listen))
        except (
            OSError,
            TimeoutError,
            WebSocketException,
            ValueError,
            MalformedBrokerResponse,
        ) as exc:
            reason = str(exc) or type(exc).__name__
            log.warning("trade_updates_unavailable", url=self._url, error=reason)
            await self.close()
            raise StreamUnavailable(f"trade_updates stream unavailable: {reason}") from exc
        except asyncio.CancelledError:
            # A run given up before its stream was open leaves no connection behind.
            await self.close()
            raise
        self._task = asyncio.create_task(self._listen(ws))

    async def ended(self) -> None:
        """Returns once the broker has closed the connection (or it was closed here)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._connection is not None:
            await self._connection.close()

    async def wait_until(
        self, order_id: str, done: Callable[[BrokerOrder], bool], within_seconds: float
    ) -> BrokerOrder | None:
        """The order as the stream last reported it once `done` holds for it, or None if the
        stream says nothing of the kind within `within_seconds`."""

        def reached() -> bool:
            order = self._orders.get(order_id)
            return order is not None and done(order)

        async with self._heard:
            try:
                await asyncio.wait_for(self._heard.wait_for(reached), within_seconds)
            except TimeoutError:
                return None
            return self._orders[order_id]

    async def _listen(self, ws: ClientConnection) -> None:
        try:
            await self._hear_all(ws)
        except Exception:
            # A fault of recon's own in reading the stream ends this connection as a drop would,
            # and the caller reconnects; it never leaves the listening dead for good.
            log.exception("trade_updates_failed", url=self._url)

    async def _hear_all(self, ws: ClientConnection) -> None:
        while True:
            frame = await _receive(ws)
            if frame is None:
                log.warning("trade_updates_closed", url=self._url)
                return
            try:
                order = order_from_frame(frame)
            except MalformedBrokerResponse as exc:
                # The sweep reads the book over REST anyway; one bad frame costs nothing more.
                log.warning("trade_update_unreadable", error=str(exc))
                continue
            if order is None:
                continue
            async with self._heard:
                self._orders[order.id] = order
                self._heard.notify_all()
            self.changed.set()


def order_from_frame(frame: str | bytes) -> BrokerOrder | None:
    """The order a frame of the stream reports, None for a frame about something else;
    `MalformedBrokerResponse` for anything that cannot be read."""
    return trade_update_from_wire(message_from_frame(frame))


def message_from_frame(frame: str | bytes) -> Mapping[str, Any]:
    """A frame's JSON object, or `MalformedBrokerResponse`: not UTF-8, not JSON, nested past
    parsing, a number past converting, or not an object."""
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedBrokerResponse(
            f"trade_updates: a frame that is not JSON ({type(exc).__name__})"
        ) from None
    if not isinstance(message, dict):
        raise MalformedBrokerResponse(
            f"trade_updates: a frame that is not an object ({type(message).__name__})"
        )
    return message


async def _receive(ws: ClientConnection) -> str | bytes | None:
    """The next frame's data, None once the connection has closed — or been cut for a frame
    larger than any update. Alpaca sends JSON in binary frames, the simulator in text ones;
    both are read."""
    try:
        return await ws.recv()
    except ConnectionClosed:
        return None


def _refusal(message: Mapping[str, Any] | None) -> str:
    """What the broker said instead of authorizing: its error text where it gave one."""
    data = message.get("data") if message else None
    if isinstance(data, dict):
        for key in ("error_message", "msg", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])[:REFUSAL_CHARACTERS]
        if data.get("status") == "unauthorized":
            return "the broker refused the stream's credentials"
    return "the broker did not authorize the stream"


def _status(message: Mapping[str, Any] | None) -> str | None:
    data = message.get("data") if message else None
    status = data.get("status") if isinstance(data, dict) else None
    return status if isinstance(status, str) else None
