"""The simulator's HTTP face: Alpaca's `/v2` trading routes over aiohttp, with Alpaca's auth
headers, error bodies and query parameters, and the fault injection wrapped around them. The key
id header picks the account, as at Alpaca: its book answers, its faults spoil, its log records."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from engine.simulator.accounts import SimulatedAccount
from engine.simulator.book import SimulatedBroker
from engine.simulator.faults import Fault, FaultKind, LoggedRequest
from engine.simulator.listing import OrderQuery
from engine.simulator.rejections import (
    CODE_INTERNAL,
    CODE_INVALID_REQUEST,
    CODE_RATE_LIMITED,
    CODE_UNAUTHORIZED,
    SimulatorRejection,
    invalid,
)
from engine.simulator.stream import TradeStreams, add_stream_route

MAX_ORDERS_LIMIT = 500
ORDER_SIDES = ("buy", "sell")
# How often a held request looks whether the test has let it go.
HOLD_POLL_SECONDS = 0.01
log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SimulatorContext:
    """Everything the routes share: every account by its key id, accounts added while serving
    included, the latency every request waits, and the simulator's own failures — a route
    that raised, answered 500 — each with its traceback, for the test that caused it to fail
    on (a client retries a 500 and may never tell)."""

    accounts: Mapping[str, SimulatedAccount]
    latency: Callable[[], float]
    internal_errors: list[str] = field(default_factory=list)

    def streams_for(self, key_id: str, secret_key: str) -> TradeStreams | None:
        account = self.accounts.get(key_id)
        if account is None or account.secret_key != secret_key:
            return None
        return account.streams


CONTEXT = web.AppKey("context", SimulatorContext)
ACCOUNT = web.RequestKey("account", SimulatedAccount)


def build_app(context: SimulatorContext) -> web.Application:
    app = web.Application(middlewares=[_alpaca_middleware])
    app[CONTEXT] = context
    app.router.add_get("/v2/account", _account)
    app.router.add_get("/v2/clock", _clock)
    app.router.add_get("/v2/positions", _positions)
    # A symbol may hold a slash (`BTC/USD`, or `BTC%2FUSD` decoded): the book answers it, as
    # Alpaca does, rather than the router.
    app.router.add_get("/v2/positions/{symbol:.+}", _position)
    app.router.add_get("/v2/assets/{symbol_or_id:.+}", _asset)
    app.router.add_get("/v2/options/contracts/{symbol_or_id}", _option_contract)
    app.router.add_get("/v2/orders", _list_orders)
    app.router.add_post("/v2/orders", _submit)
    app.router.add_delete("/v2/orders", _cancel_all)
    app.router.add_get("/v2/orders:by_client_order_id", _by_client_order_id)
    app.router.add_get("/v2/orders/{order_id}", _get_order)
    app.router.add_patch("/v2/orders/{order_id}", _replace)
    app.router.add_delete("/v2/orders/{order_id}", _cancel)
    add_stream_route(app, context.streams_for)
    return app


@web.middleware
async def _alpaca_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/v2/"):
        return await handler(request)
    context = request.app[CONTEXT]
    account = context.accounts.get(request.headers.get("APCA-API-KEY-ID", ""))
    if account is None:
        return _error(401, CODE_UNAUTHORIZED, "request is not authorized")
    account.requests.record(
        LoggedRequest(request.method, request.path, request.query_string, account.broker.now())
    )
    if request.headers.get("APCA-API-SECRET-KEY") != account.secret_key:
        return _error(401, CODE_UNAUTHORIZED, "request is not authorized")
    request[ACCOUNT] = account
    with account.requests.answering():
        return await _answer_after_latency(request, context, account, handler)


async def _answer_after_latency(
    request: web.Request, context: SimulatorContext, account: SimulatedAccount, handler: Handler
) -> web.StreamResponse:
    try:
        # The whole request arrives before any wait: a client that gives up during the latency
        # or a delay fault has still sent its order, as it would have to a real broker.
        await request.read()
    except ConnectionError:
        return _error(400, CODE_INVALID_REQUEST, "connection lost while reading the request")
    except web.HTTPException as exc:  # larger than aiohttp accepts
        return _error(exc.status, _code_for(exc.status), exc.reason.lower())
    latency = context.latency()
    if latency:
        await asyncio.sleep(latency)
    fault = account.faults.take(request.method, request.path)
    if fault is not None:
        early = await _before(fault, request)
        if early is not None:
            return early
    response = await _answer(request, handler)
    if fault is not None:
        try:
            return _after(fault, request, response)
        except Exception:  # a test's rewrite that cannot take the answer
            return _internal_error(request)
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The route's answer, every failure as an Alpaca error body rather than aiohttp's text."""
    try:
        return await handler(request)
    except SimulatorRejection as rejection:
        return _error(rejection.http_status, rejection.code, rejection.message, rejection.details)
    except web.HTTPException as exc:  # no such route, or not this method
        return _error(exc.status, _code_for(exc.status), exc.reason.lower())
    except Exception:
        return _internal_error(request)


def _internal_error(request: web.Request) -> web.Response:
    """The exception being handled, a fault of the simulator's own and not one a test asked
    for: logged, kept for the test to fail on, and answered as Alpaca answers its own."""
    log.exception("simulator_route_failed method=%s path=%s", request.method, request.path)
    request.app[CONTEXT].internal_errors.append(
        f"{request.method} {request.path}: {traceback.format_exc()}"
    )
    return _error(500, CODE_INTERNAL, "internal server error")


async def _before(fault: Fault, request: web.Request) -> web.StreamResponse | None:
    match fault.kind:
        case FaultKind.STATUS:
            return _status_fault(fault.status, fault.message)
        case FaultKind.DELAY:
            await asyncio.sleep(fault.delay)
        case FaultKind.HOLD if fault.released is not None:
            # The test sets the event from its own thread, so it is polled: waiting on it on a
            # thread of the server's would outlast a test that never lets the request go. The
            # server's other requests and its streams go on meanwhile.
            while not fault.released.is_set():  # noqa: ASYNC110
                await asyncio.sleep(HOLD_POLL_SECONDS)
        case FaultKind.DROP_CONNECTION:
            return _dropped(request)
    return None


def _after(fault: Fault, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    if fault.kind is FaultKind.LOSE_ANSWER:
        return _dropped(request)
    if fault.kind is FaultKind.RAW_BODY:
        return web.Response(
            text=fault.body, status=response.status, content_type="application/json"
        )
    if (
        fault.kind is FaultKind.REWRITE
        and fault.rewrite is not None
        and isinstance(response, web.Response)
        and response.text  # a 204 has nothing to rewrite
    ):
        return web.json_response(fault.rewrite(json.loads(response.text)), status=response.status)
    return response


def _dropped(request: web.Request) -> web.StreamResponse:
    """Close the socket without a word: the client sees the connection die mid-request."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=599)


def _status_fault(status: int, message: str) -> web.Response:
    if status == 429:
        return _error(429, CODE_RATE_LIMITED, "rate limit exceeded")
    if status >= 500:
        return _error(status, CODE_INTERNAL, "internal server error")
    return _error(status, _code_for(status), message)


def _code_for(status: int) -> int:
    """Alpaca's codes are the HTTP status followed by a five-digit reason: 404 -> 40410000."""
    return status * 100_000 + 10_000


async def _account(request: web.Request) -> web.Response:
    return web.json_response(_broker(request).account_wire())


async def _clock(request: web.Request) -> web.Response:
    return web.json_response(_broker(request).clock_wire())


async def _positions(request: web.Request) -> web.Response:
    return web.json_response(_broker(request).positions_wire())


async def _position(request: web.Request) -> web.Response:
    return web.json_response(_broker(request).position_wire(request.match_info["symbol"]))


async def _asset(request: web.Request) -> web.Response:
    return web.json_response(_broker(request).asset_wire(request.match_info["symbol_or_id"]))


async def _option_contract(request: web.Request) -> web.Response:
    symbol_or_id = request.match_info["symbol_or_id"]
    return web.json_response(_broker(request).option_contract_wire(symbol_or_id))


async def _list_orders(request: web.Request) -> web.Response:
    query = request.query
    status = query.get("status", "open")
    if status not in ("open", "closed", "all"):
        raise invalid(f"invalid status {status!r}")
    direction = query.get("direction", "desc")
    if direction not in ("asc", "desc"):
        raise invalid(f"invalid direction {direction!r}")
    try:
        limit = int(query.get("limit", "50"))
    except ValueError:
        raise invalid("limit must be a whole number") from None
    if not 1 <= limit <= MAX_ORDERS_LIMIT:
        raise invalid(f"limit must be between 1 and {MAX_ORDERS_LIMIT}")
    symbols = [s.strip() for s in query.get("symbols", "").split(",") if s.strip()]
    side = query.get("side")
    if side is not None and side not in ORDER_SIDES:
        raise invalid(f"invalid side {side!r}")
    orders = _broker(request).list_orders(
        OrderQuery(
            status=status,
            limit=limit,
            after=_timestamp(query.get("after"), "after"),
            until=_timestamp(query.get("until"), "until"),
            direction=direction,
            symbols=frozenset(symbols),
            side=side,
            nested=_nested(request),
        )
    )
    return web.json_response(orders)


async def _get_order(request: web.Request) -> web.Response:
    order_id = request.match_info["order_id"]
    return web.json_response(_broker(request).get_order(order_id, nested=_nested(request)))


async def _by_client_order_id(request: web.Request) -> web.Response:
    client_order_id = request.query.get("client_order_id")
    if not client_order_id:
        raise invalid("client_order_id is required")
    order = _broker(request).get_order_by_client_id(client_order_id, nested=_nested(request))
    return web.json_response(order)


async def _submit(request: web.Request) -> web.Response:
    return web.json_response(_broker(request).submit(await _json_body(request)))


async def _replace(request: web.Request) -> web.Response:
    order_id = request.match_info["order_id"]
    return web.json_response(_broker(request).replace(order_id, await _json_body(request)))


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.text(), parse_float=Decimal)
    except ValueError:
        raise invalid("request body must be JSON") from None
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    return body


async def _cancel(request: web.Request) -> web.Response:
    _broker(request).cancel(request.match_info["order_id"])
    return web.Response(status=204)


async def _cancel_all(request: web.Request) -> web.Response:
    return web.json_response(_broker(request).cancel_all(), status=207)


def _broker(request: web.Request) -> SimulatedBroker:
    return request[ACCOUNT].broker


def _nested(request: web.Request) -> bool:
    """`nested` as Alpaca reads it; alpaca-py sends Python's `True`, hence any case."""
    raw = request.query.get("nested", "false").lower()
    if raw not in ("true", "false"):
        raise invalid(f"invalid nested {raw!r}")
    return raw == "true"


def _timestamp(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        # An unescaped `+` in a query string arrives as a space.
        parsed = datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        raise invalid(f"{name} must be an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise invalid(f"{name} must carry a time zone")
    return parsed


def _error(
    status: int, code: int, message: str, details: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message, **(details or {})}
    return web.json_response(body, status=status)
