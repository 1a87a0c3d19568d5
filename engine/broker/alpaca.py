"""The `Broker` protocol over alpaca-py's REST client: blocking calls bridged to asyncio, every
HTTP call bounded by a timeout and a client-side rate limit, reads retried, submissions never
repeated blindly.

alpaca-py's `RESTClient` carries the key pair, the session and Alpaca's error bodies; the few
trading endpoints recon calls are spelled here, as its `TradingClient` spells them. Importing
anything under `alpaca.trading` imports the whole package — pandas with it, for one date
helper — which costs a start-up more than half a second before its first request; and the
JSON bodies written here carry prices and quantities as the exact decimals Alpaca's API takes,
where alpaca-py's request models would turn them into floats."""

from __future__ import annotations

import asyncio
import http.client
import importlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache, partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote
from uuid import UUID

import requests
import urllib3.exceptions
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from pydantic import SecretStr
from requests.adapters import HTTPAdapter

from engine.broker.errors import (
    AmbiguousSubmit,
    BrokerRejected,
    MalformedBrokerResponse,
    OrderNotFound,
    RequestNotSendable,
)
from engine.broker.rate_limit import RateLimit, RateQueueListener
from engine.broker.retry import RetryPolicy, TransientFailure, with_retries
from engine.broker.status_map import meaning_of
from engine.broker.wire import (
    account_from_wire,
    clock_from_wire,
    crypto_asset_from_wire,
    group_members,
    list_from_wire,
    option_contract_from_wire,
    order_from_wire,
    orders_from_wire,
    position_from_wire,
)
from engine.clock import SYSTEM_CLOCK, Clock
from engine.domain import (
    Account,
    AssetClass,
    AssetTerms,
    BrokerOrder,
    BrokerPosition,
    MarketClock,
    NewOrder,
    OrderClass,
    OrderType,
    compact_symbol,
)

if TYPE_CHECKING:
    from engine.broker.trade_updates import TradeUpdates

T = TypeVar("T")

ORDERS_PAGE_LIMIT = 500  # the most Alpaca returns per call
# How many of one account's requests may wait on the broker at once: each wave of stops costs
# a round trip, so 100 stops go in two waves, not four. Alpaca bounds requests per minute, not
# at once; the rate limiter, not this, keeps recon within that budget.
MAX_CONCURRENT_REQUESTS = 64
# The threads every account of the process sends its requests from: a fleet's twenty accounts
# share them rather than start twenty pools' worth, each thread started on the loop's time.
SHARED_REQUEST_THREADS = 2 * MAX_CONCURRENT_REQUESTS
# Alpaca counts requests per account per minute.
RATE_LIMIT_PERIOD_SECONDS = 60.0
# Alpaca answers these when it may succeed on another try; everything else 4xx is final.
TRANSIENT_STATUS_CODES = frozenset({408, 429})
# The stream's client, loaded by the first stream opened.
TRADE_UPDATES_MODULE = "engine.broker.trade_updates"
# How much of an error body a message quotes.
ERROR_BODY_CHARACTERS = 200

# requests refuses these before anything is sent, and the text of a refused header quotes its
# value: for the key pair, the secret. They become one fixed line instead.
UNSENDABLE_HEADER = (requests.exceptions.InvalidHeader, UnicodeEncodeError)
UNSENDABLE_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.URLRequired,
)
# Everything else that can go wrong between recon and the broker's answer: a timeout, a dropped
# connection, a body cut short or undecodable, a redirect loop. Another try may cure it, and a
# submission it interrupts may have reached the broker. urllib3's and http.client's own errors
# are meant to come wrapped in requests', but some escape.
TRANSPORT_FAILURES = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
)

# The order types recon places, each with the prices Alpaca requires of it.
_PRICES_REQUIRED: dict[OrderType, tuple[str, ...]] = {
    OrderType.MARKET: (),
    OrderType.LIMIT: ("limit_price",),
    OrderType.STOP: ("stop_price",),
    OrderType.STOP_LIMIT: ("stop_price", "limit_price"),
}


class _TimeoutAdapter(HTTPAdapter):
    """requests has no session-wide timeout and alpaca-py passes none, so without this a
    silent broker would hang recon forever."""

    def __init__(self, timeout_seconds: float, pool_size: int) -> None:
        super().__init__(pool_connections=pool_size, pool_maxsize=pool_size)
        self._timeout_seconds = timeout_seconds

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout_seconds
        return super().send(request, **kwargs)


class AlpacaBroker:
    """Alpaca through alpaca-py, pointed at any Alpaca-compatible base URL."""

    def __init__(
        self,
        *,
        key_id: str,
        secret_key: SecretStr | str,
        base_url: str,
        timeout_seconds: float,
        rate_limit_per_minute: int,
        retry_policy: RetryPolicy | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rate_limit_period_seconds: float = RATE_LIMIT_PERIOD_SECONDS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`rate_limit_period_seconds` is Alpaca's minute; a test shrinks it to see the queue
        form and drain in a second or two. `clock` is the one the rate limit keeps time by: a
        test's holds the queue still until the test moves it."""
        if isinstance(secret_key, str):
            secret_key = SecretStr(secret_key)
        self._base_url, self._key_id, self._secret_key = base_url, key_id, secret_key
        self._client = RESTClient(
            base_url=base_url,
            api_key=key_id,
            secret_key=secret_key.get_secret_value(),
            api_version="v2",
            raw_data=True,
        )
        # alpaca-py sleeps 3 s and retries 429/504 on its own, and its constructor treats 0 as
        # "use the default", so the attribute is the only way to hand retries to our policy.
        self._client._retry = 0
        adapter = _TimeoutAdapter(timeout_seconds, MAX_CONCURRENT_REQUESTS)
        self._client._session.mount("http://", adapter)
        self._client._session.mount("https://", adapter)
        _read_environment_once(self._client._session, base_url)
        self._in_flight = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)
        self._limiter = RateLimit(
            rate_limit_per_minute, rate_limit_period_seconds, now=now, clock=clock
        )
        self._retry_policy = retry_policy or RetryPolicy()
        self._now = now
        # What an asset is does not change while recon runs: each is asked for once.
        self._assets: dict[tuple[AssetClass, str], AssetTerms] = {}

    def __repr__(self) -> str:
        return f"AlpacaBroker(base_url={self._base_url!r})"  # never the key pair

    async def get_account(self) -> Account:
        return account_from_wire(await self._read("get account", self._get("/account")))

    async def get_clock(self) -> MarketClock:
        return clock_from_wire(await self._read("get clock", self._get("/clock")))

    async def get_positions(self) -> list[BrokerPosition]:
        raw = await self._read("list positions", self._get("/positions"))
        positions = [position_from_wire(item) for item in list_from_wire(raw, "positions")]
        return list(await asyncio.gather(*map(self._named_as_ordered, positions)))

    async def get_position(self, symbol: str) -> BrokerPosition | None:
        # Alpaca finds a crypto position only by its compact symbol: `BTC/USD` is a 404.
        listed_as = compact_symbol(symbol)
        try:
            raw = await self._read(f"get position {symbol}", self._get("/positions", listed_as))
        except OrderNotFound:  # Alpaca answers a flat symbol with 404
            return None
        return await self._named_as_ordered(position_from_wire(raw))

    async def get_asset(self, symbol: str, asset_class: AssetClass) -> AssetTerms:
        key = (asset_class, compact_symbol(symbol))
        known = self._assets.get(key)
        if known is not None:
            return known
        try:
            if asset_class is AssetClass.CRYPTO:
                raw = await self._read(
                    f"get asset {symbol}", self._get("/assets", compact_symbol(symbol))
                )
                terms = crypto_asset_from_wire(raw)
            elif asset_class is AssetClass.US_OPTION:
                contract = await self._read(
                    f"get option contract {symbol}", self._get("/options/contracts", symbol)
                )
                terms = option_contract_from_wire(contract)
            else:
                raise ValueError(f"recon asks no asset terms of {asset_class}")
        except OrderNotFound:
            raise MalformedBrokerResponse(
                f"{symbol}: the broker knows no {asset_class} asset of that symbol"
            ) from None
        self._assets[key] = terms
        return terms

    async def _named_as_ordered(self, position: BrokerPosition) -> BrokerPosition:
        """A crypto position under the pair symbol its orders carry, as its asset names it:
        Alpaca lists the one as `BTCUSD` and the other as `BTC/USD`."""
        if position.asset_class != AssetClass.CRYPTO:
            return position
        asset = await self.get_asset(position.symbol, AssetClass.CRYPTO)
        if compact_symbol(asset.symbol) != compact_symbol(position.symbol):
            raise MalformedBrokerResponse(
                f"position {position.symbol}: its asset is {asset.symbol}, another symbol"
            )
        return replace(position, symbol=asset.symbol)

    async def get_open_orders(self) -> list[BrokerOrder]:
        listed = await self._all_pages("list open orders", "open", since=None)
        # A group is listed while any member is open; its filled entry is not an open order.
        return [order for order in listed if meaning_of(order.status).is_open]

    async def get_recent_orders(self, hours: int) -> list[BrokerOrder]:
        since = self._now() - timedelta(hours=hours)
        return await self._all_pages("list recent orders", "all", since=since)

    async def get_group_orders(self, symbol: str, until: datetime) -> list[BrokerOrder]:
        query = {
            "status": "all",
            "limit": ORDERS_PAGE_LIMIT,
            "direction": "desc",
            "until": until.isoformat(),
            "symbols": symbol,
            "nested": "true",
        }
        raw = await self._read(f"list {symbol} orders by group", self._get("/orders", query=query))
        return orders_from_wire(raw, "orders")

    async def get_order(self, broker_id: str) -> BrokerOrder:
        _require_order_id(broker_id)
        raw = await self._read(
            f"get order {broker_id}", self._get("/orders", broker_id, query={"nested": "true"})
        )
        return order_from_wire(raw)

    async def find_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        try:
            raw = await self._read(
                f"find order {client_order_id}",
                self._get("/orders:by_client_order_id", query={"client_order_id": client_order_id}),
            )
        except OrderNotFound:
            return None
        return order_from_wire(raw)

    async def submit_order(self, order: NewOrder) -> BrokerOrder:
        body = _order_body(order)
        operation = f"submit {order.client_order_id}"
        try:
            raw = await self._call(
                operation, _parsed(operation, lambda: self._client.post("/orders", body))
            )
        except TransientFailure as exc:
            # The request may have reached the broker; only a lookup can tell.
            raise AmbiguousSubmit(order.client_order_id, str(exc)) from exc
        return order_from_wire(raw)

    async def replace_order(self, broker_id: str, order: NewOrder) -> BrokerOrder:
        _require_order_id(broker_id)
        body = {"qty": str(_whole_shares(order.qty)), "client_order_id": order.client_order_id}
        operation = f"replace {broker_id} by {order.client_order_id}"
        try:
            raw = await self._call(
                operation,
                _parsed(operation, lambda: self._client.patch(f"/orders/{broker_id}", body)),
            )
        except TransientFailure as exc:
            raise AmbiguousSubmit(order.client_order_id, str(exc)) from exc
        return order_from_wire(raw)

    async def cancel_order(self, broker_id: str) -> None:
        _require_order_id(broker_id)
        await self._read(
            f"cancel order {broker_id}", lambda: self._client.delete(f"/orders/{broker_id}")
        )

    async def open_trade_updates(self) -> TradeUpdates:
        # The stream's client (websockets, a twentieth of a second to import) is loaded only by
        # what watches the stream, and on a thread: a run opens the stream while it reads the
        # book, and the reads go on meanwhile.
        await asyncio.to_thread(importlib.import_module, TRADE_UPDATES_MODULE)
        from engine.broker.trade_updates import TradeUpdates, stream_url

        updates = TradeUpdates(
            url=stream_url(self._base_url), key_id=self._key_id, secret_key=self._secret_key
        )
        await updates.start()
        return updates

    def reporting_rate_queue(self, listener: RateQueueListener) -> AbstractContextManager[None]:
        return self._limiter.reporting_to(listener)

    async def close(self) -> None:
        self._client._session.close()

    def _get(
        self, path: str, name: str | None = None, *, query: dict[str, Any] | None = None
    ) -> Callable[[], Any]:
        """A GET of `path` — of `name` under it, which never leaves its place in the URL —
        ready to be called from the request thread."""
        if name is not None:
            path = f"{path}/{quote(name, safe='')}"
        return partial(self._client.get, path, query)

    async def _all_pages(
        self, operation: str, status: str, since: datetime | None
    ) -> list[BrokerOrder]:
        """Walk the list oldest first, nested so that each leg knows its group. `after` is
        exclusive and the broker's clock is finer than ours, so each page starts a microsecond
        before the last order seen and the overlap is dropped by id."""
        orders: dict[str, BrokerOrder] = {}
        cursor = since
        while True:
            query = {
                "status": status,
                "limit": ORDERS_PAGE_LIMIT,
                "direction": "asc",
                "nested": "true",
            }
            if cursor is not None:
                query["after"] = cursor.isoformat()
            raw = await self._read(operation, self._get("/orders", query=query))
            page = [group_members(item) for item in list_from_wire(raw, "orders")]
            new = [member for group in page for member in group if member.id not in orders]
            orders.update((order.id, order) for order in new)
            if len(page) < ORDERS_PAGE_LIMIT:
                return list(orders.values())
            if not new:
                raise MalformedBrokerResponse(
                    f"{operation}: more than {ORDERS_PAGE_LIMIT} orders share one submission "
                    "time; the order list cannot be paged"
                )
            cursor = max(group[0].submitted_at for group in page) - timedelta(microseconds=1)

    async def _read(self, operation: str, call: Callable[[], T]) -> T:
        """A call that changes nothing, or changes nothing twice: safe to retry."""
        parsed = _parsed(operation, call)
        return await with_retries(
            operation, self._retry_policy, lambda: self._call(operation, parsed)
        )

    async def _call(self, operation: str, call: Callable[[], T]) -> T:
        async with self._limiter, self._in_flight:
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(_request_threads(), call)
            except APIError as exc:
                raise _classified(operation, exc) from exc
            except UNSENDABLE_HEADER as exc:
                raise RequestNotSendable(
                    f"{operation}: the key pair cannot be sent as an HTTP header "
                    "(APCA_API_KEY_ID or APCA_API_SECRET_KEY holds a character HTTP cannot carry)"
                ) from exc
            except UNSENDABLE_URL as exc:
                raise RequestNotSendable(
                    f"{operation}: the broker URL cannot be requested ({type(exc).__name__})"
                ) from exc
            except requests.JSONDecodeError as exc:
                raise MalformedBrokerResponse(f"{operation}: unreadable answer ({exc})") from exc
            except TRANSPORT_FAILURES as exc:
                # The type alone: the text of these may quote the request, headers and all.
                raise TransientFailure(f"{operation}: {type(exc).__name__}") from exc
            except ValueError as exc:  # the body is not what alpaca-py can read
                raise MalformedBrokerResponse(
                    f"{operation}: unreadable answer ({type(exc).__name__})"
                ) from exc


def _read_environment_once(session: requests.Session, base_url: str) -> None:
    """The proxies and the CA bundle the environment names for the broker, settled on the
    session, which stops reading the environment: requests would otherwise read it again for
    every request, a scan of every variable and a look for a `.netrc` twice over, each look a
    wait for the GIL in a process sending a thousand stops. A `.netrc` is not read at all: the
    key pair authenticates every request, and recon sends no other credential."""
    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies, session.verify = settings["proxies"], settings["verify"]
    session.trust_env = False


@cache
def _request_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=SHARED_REQUEST_THREADS, thread_name_prefix="alpaca")


def _parsed(operation: str, call: Callable[[], T]) -> Callable[[], T]:
    """`call`, with an answer nested too deeply to parse made a malformed answer: requests
    parses JSON recursively, and its RecursionError is no answer recon can read."""

    def parse() -> T:
        try:
            return call()
        except RecursionError:
            raise MalformedBrokerResponse(
                f"{operation}: unreadable answer (JSON nested too deeply)"
            ) from None

    return parse


def _classified(operation: str, error: APIError) -> Exception:
    status = error.status_code or 0
    code, message = _alpaca_error_body(str(error))
    if status in TRANSIENT_STATUS_CODES or status >= 500:
        return TransientFailure(f"{operation}: HTTP {status} {message}".rstrip())
    if status == 404:
        return OrderNotFound(status, code, message)
    return BrokerRejected(status, code, message)


def _alpaca_error_body(text: str) -> tuple[int | None, str]:
    """Alpaca's error bodies are `{"code": ..., "message": ...}`; a proxy's may be anything."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past parsing
        return None, text.strip()[:ERROR_BODY_CHARACTERS]
    if not isinstance(body, dict):
        return None, text.strip()[:ERROR_BODY_CHARACTERS]
    code, message = body.get("code"), body.get("message")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        (message if isinstance(message, str) else text.strip())[:ERROR_BODY_CHARACTERS],
    )


def _require_order_id(broker_id: str) -> None:
    try:
        UUID(broker_id)
    except ValueError:
        raise OrderNotFound(404, None, f"{broker_id!r} is not an Alpaca order id") from None


def _order_body(order: NewOrder) -> dict[str, Any]:
    """The JSON of `POST /v2/orders` for `order`: the prices its type requires and no other."""
    required = _PRICES_REQUIRED.get(order.order_type)
    if required is None:
        raise ValueError(f"recon does not place {order.order_type} orders")
    body: dict[str, Any] = {
        "symbol": order.symbol,
        "qty": _wire_number(order.qty, "qty"),
        "side": order.side.value,
        "type": order.order_type.value,
        "time_in_force": order.time_in_force.value,
        "client_order_id": order.client_order_id,
    }
    if order.order_class is OrderClass.OCO:
        return _oco_body(order, body)
    prices = {"stop_price": order.stop_price, "limit_price": order.limit_price}
    for field in required:
        price = prices[field]
        if price is None:
            raise ValueError(f"{order.order_type} {order.client_order_id} needs a {field}")
        body[field] = _wire_number(price, field)
    return body


def _oco_body(order: NewOrder, body: dict[str, Any]) -> dict[str, Any]:
    """An OCO exit is a limit order whose take-profit and stop-loss Alpaca places as one group."""
    if order.limit_price is None or order.stop_price is None:
        raise ValueError(f"OCO {order.client_order_id} needs a limit price and a stop price")
    return {
        **body,
        "type": OrderType.LIMIT.value,
        "order_class": OrderClass.OCO.value,
        "take_profit": {"limit_price": _wire_number(order.limit_price, "limit_price")},
        "stop_loss": {"stop_price": _wire_number(order.stop_price, "stop_price")},
    }


def _whole_shares(qty: Decimal) -> int:
    """Alpaca replaces an order's quantity in whole shares only."""
    if qty != qty.to_integral_value():
        raise ValueError(f"qty {qty} cannot replace an order's quantity: whole shares only")
    return int(qty)


def _wire_number(value: Decimal, field: str) -> str:
    """A price or quantity as Alpaca's API takes it — the exact decimal, as a string, so the
    broker is sent the very number decided — and never one that is not above zero (a stop at
    0.0000 protects nothing; planning never sends one)."""
    if not value > 0:
        raise ValueError(f"{field} {value} is not above zero; not sent")
    return format(value, "f")
