"""The simulated paper broker's state and rules, without HTTP: account, market, positions and
orders, enforcing what Alpaca enforces when reconciliation meets it — unique client order ids,
shares held by open orders, price increments, DAY-only fractions, stops on the right side."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

PENNY = Decimal("0.01")
SUB_PENNY = Decimal("0.0001")
MAX_CLIENT_ORDER_ID_LENGTH = 128
CLOSED_STATUSES = frozenset({"filled", "canceled", "expired", "replaced", "rejected"})
ORDER_TYPES = frozenset({"market", "limit", "stop", "stop_limit"})
TIMES_IN_FORCE = frozenset({"day", "gtc", "opg", "cls", "ioc", "fok"})
STOP_TYPES = frozenset({"stop", "stop_limit", "trailing_stop"})
ID_NAMESPACE = uuid.UUID("5f1d8c3e-2b7a-4c55-9d0e-7a1b2c3d4e5f")
NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = time(9, 30)
SESSION_CLOSE = time(16, 0)
SATURDAY = 5
# Far beyond any real order; keeps Decimal arithmetic (and quantize) inside its precision.
MAX_WIRE_NUMBER = Decimal("1e12")

# Alpaca's error codes, as its API returns them.
CODE_INVALID_REQUEST = 40010001
CODE_UNAUTHORIZED = 40110000
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_UNPROCESSABLE = 42210000
CODE_RATE_LIMITED = 42910000
CODE_INTERNAL = 50010000


class SimulatorRejection(Exception):
    """What Alpaca would answer instead of doing it: an HTTP status, a code and a message."""

    def __init__(self, http_status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message


@dataclass
class SimOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal
    status: str
    submitted_at: datetime
    updated_at: datetime
    stop_price: Decimal | None = None
    limit_price: Decimal | None = None
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    replaced_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    asset_id: str = ""

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    def to_wire(self) -> dict[str, Any]:
        """The order as Alpaca's JSON: numbers as strings, UTC timestamps ending in Z."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": _ts(self.submitted_at),
            "updated_at": _ts(self.updated_at),
            "submitted_at": _ts(self.submitted_at),
            "filled_at": _ts(self.filled_at),
            "expired_at": _ts(self.expired_at),
            "expires_at": None,
            "canceled_at": _ts(self.canceled_at),
            "failed_at": None,
            "replaced_at": _ts(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": str(self.qty),
            "filled_qty": str(self.filled_qty),
            "filled_avg_price": _num(self.filled_avg_price),
            "order_class": "simple",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": None,
            "time_in_force": self.time_in_force,
            "limit_price": _num(self.limit_price),
            "stop_price": _num(self.stop_price),
            "status": self.status,
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
        }


@dataclass
class SimPosition:
    symbol: str
    qty: Decimal  # signed: negative is short
    avg_entry_price: Decimal
    asset_id: str = ""


@dataclass
class SimAccount:
    account_number: str = "PA3SIMRECON1"
    cash: Decimal = Decimal("100000")
    last_equity: Decimal = Decimal("100000")


@dataclass
class SimulatedBroker:
    """Thread-safe: the HTTP server and the test that drives it may touch it at once."""

    now: Callable[[], datetime]
    id_seed: str = "recon-sim"
    account: SimAccount = field(default_factory=SimAccount)
    market_open: bool = True
    # A new order starts `pending_new` and reads `new` once this much time has passed; zero
    # accepts at once. Lets a console show STOP PENDING before the broker confirms.
    accept_delay: timedelta = timedelta(0)
    prices: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, SimPosition] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    _by_client_id: dict[str, str] = field(default_factory=dict)
    _ids_issued: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _listeners: list[Callable[[str, dict[str, Any]], None]] = field(default_factory=list)

    # Reading -------------------------------------------------------------------------------

    def account_wire(self) -> dict[str, Any]:
        with self._lock:
            long_value = sum(
                (p.qty * self._price(p.symbol) for p in self.positions.values() if p.qty > 0),
                Decimal(0),
            )
            short_value = sum(
                (p.qty * self._price(p.symbol) for p in self.positions.values() if p.qty < 0),
                Decimal(0),
            )
            equity = self.account.cash + long_value + short_value
            return {
                "id": self._uuid("account"),
                "account_number": self.account.account_number,
                "status": "ACTIVE",
                "crypto_status": "ACTIVE",
                "currency": "USD",
                "buying_power": str(equity * 2),
                "regt_buying_power": str(equity * 2),
                "daytrading_buying_power": str(equity * 4),
                "non_marginable_buying_power": str(self.account.cash),
                "cash": str(self.account.cash),
                "accrued_fees": "0",
                "portfolio_value": str(equity),
                "pattern_day_trader": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "created_at": "2024-01-02T14:30:00Z",
                "trade_suspended_by_user": False,
                "multiplier": "2",
                "shorting_enabled": True,
                "equity": str(equity),
                "last_equity": str(self.account.last_equity),
                "long_market_value": str(long_value),
                "short_market_value": str(short_value),
                "initial_margin": "0",
                "maintenance_margin": "0",
                "last_maintenance_margin": "0",
                "sma": "0",
                "daytrade_count": 0,
                "position_market_value": str(long_value - short_value),
                "effective_buying_power": str(equity * 2),
                "options_buying_power": str(self.account.cash),
                "options_approved_level": 0,
                "options_trading_level": 0,
                "pending_transfer_in": "0",
                "pending_transfer_out": "0",
                "balance_asof": self.now().astimezone(NEW_YORK).date().isoformat(),
            }

    def clock_wire(self) -> dict[str, Any]:
        now = self.now()
        with self._lock:
            is_open = self.market_open
        next_open, next_close = _session_edges(now, is_open)
        return {
            "timestamp": _ts(now),
            "is_open": is_open,
            "next_open": _ts(next_open),
            "next_close": _ts(next_close),
        }

    def positions_wire(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._position_wire(p) for p in sorted(self.positions.values(), key=_symbol)]

    def position_wire(self, symbol: str) -> dict[str, Any]:
        with self._lock:
            position = self.positions.get(symbol)
            if position is None:
                raise SimulatorRejection(404, CODE_NOT_FOUND, "position does not exist")
            return self._position_wire(position)

    def position_qty(self, symbol: str) -> Decimal:
        """Signed shares held: negative for a short, zero when flat."""
        with self._lock:
            position = self.positions.get(symbol)
            return Decimal(0) if position is None else position.qty

    def list_orders(
        self,
        *,
        status: str = "open",
        limit: int = 50,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: str = "desc",
        symbols: Iterable[str] = (),
        side: str | None = None,
    ) -> list[dict[str, Any]]:
        wanted = set(symbols)
        with self._lock:
            self._accept_pending()
            chosen = [
                order
                for order in self.orders.values()
                if (status == "all" or (status == "open") == order.is_open)
                and (after is None or order.submitted_at > after)
                and (until is None or order.submitted_at < until)
                and (not wanted or order.symbol in wanted)
                and (side is None or order.side == side)
            ]
            chosen.sort(key=lambda order: order.submitted_at, reverse=direction == "desc")
            return [order.to_wire() for order in chosen[:limit]]

    def get_order(self, order_id: str) -> dict[str, Any]:
        with self._lock:
            self._accept_pending()
            return self._order(order_id).to_wire()

    def get_order_by_client_id(self, client_order_id: str) -> dict[str, Any]:
        with self._lock:
            self._accept_pending()
            order_id = self._by_client_id.get(client_order_id)
            if order_id is None:
                raise SimulatorRejection(404, CODE_NOT_FOUND, "order not found")
            return self.orders[order_id].to_wire()

    # Trading -------------------------------------------------------------------------------

    def submit(self, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            request = _OrderRequest.parse(body)
            client_order_id = request.client_order_id or self._uuid("client")
            if client_order_id in self._by_client_id:
                raise SimulatorRejection(
                    422, CODE_INVALID_REQUEST, "client_order_id must be unique"
                )
            price = self.prices.get(request.symbol)
            if price is None:
                raise SimulatorRejection(
                    422, CODE_UNPROCESSABLE, f"asset {request.symbol} is not tradable here"
                )
            self._check_rules(request, price)
            now = self.now()
            order = SimOrder(
                id=self._uuid("order"),
                client_order_id=client_order_id,
                symbol=request.symbol,
                side=request.side,
                type=request.type,
                time_in_force=request.time_in_force,
                qty=request.qty,
                status="pending_new" if self.accept_delay else "new",
                submitted_at=now,
                updated_at=now,
                stop_price=request.stop_price,
                limit_price=request.limit_price,
                asset_id=self._asset_id(request.symbol),
            )
            self._store(order)
            if order.type == "market" and not self.market_open:
                order.status = "accepted"  # fills when the market opens
            self._notify("pending_new" if order.status == "pending_new" else "new", order)
            if order.type == "market" and self.market_open:
                self._fill(order, price)
            return order.to_wire()

    def cancel(self, order_id: str) -> None:
        with self._lock:
            order = self._order(order_id)
            if not order.is_open:
                raise SimulatorRejection(
                    422, CODE_UNPROCESSABLE, f'order is already in "{order.status}" state'
                )
            order.status = "canceled"
            order.canceled_at = order.updated_at = self.now()
            self._notify("canceled", order)

    def cancel_all(self) -> list[dict[str, Any]]:
        with self._lock:
            results = []
            for order in [o for o in self.orders.values() if o.is_open]:
                self.cancel(order.id)
                results.append({"id": order.id, "status": 200, "body": order.to_wire()})
            return results

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move the market; stops it crosses trigger and fill at the new price."""
        with self._lock:
            self.prices[symbol] = price
            if not self.market_open:
                return
            for order in list(self.orders.values()):
                if order.symbol != symbol or not order.is_open or order.type != "stop":
                    continue
                stop = order.stop_price or Decimal(0)
                if (order.side == "sell" and price <= stop) or (
                    order.side == "buy" and price >= stop
                ):
                    self._fill(order, price)

    def set_market_open(self, is_open: bool) -> None:
        """Open or close the market; on opening, market orders accepted meanwhile fill."""
        with self._lock:
            self.market_open = is_open
            if not is_open:
                return
            for order in list(self.orders.values()):
                price = self.prices.get(order.symbol)
                if order.type == "market" and order.status == "accepted" and price is not None:
                    self._fill(order, price)

    # Seeding (scenarios and tests) ---------------------------------------------------------

    def seed_position(self, symbol: str, qty: Decimal, avg_entry_price: Decimal) -> None:
        with self._lock:
            self.positions[symbol] = SimPosition(
                symbol, qty, avg_entry_price, self._asset_id(symbol)
            )

    def seed_order(self, **fields: Any) -> SimOrder:
        """Place an order in any state, however odd — unknown statuses included — as a broker
        could hold it after events recon did not see."""
        with self._lock:
            submitted_at = fields.pop("submitted_at", None) or self.now()
            fields.setdefault("updated_at", submitted_at)
            fields.setdefault("id", self._uuid("order"))
            fields.setdefault("client_order_id", self._uuid("client"))
            fields.setdefault("time_in_force", "gtc")
            fields.setdefault("status", "new")
            order = SimOrder(
                submitted_at=submitted_at,
                asset_id=self._asset_id(fields["symbol"]),
                **fields,
            )
            self._store(order)
            return order

    def subscribe(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        """Hear every order event (`new`, `fill`, `canceled`) as the trade stream reports it.
        Listeners run under the book's lock on whichever thread changed it: hand off, never
        block."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        with self._lock:
            self._listeners.remove(listener)

    # Internals -----------------------------------------------------------------------------

    def _check_rules(self, request: _OrderRequest, price: Decimal) -> None:
        for name, value in (
            ("stop_price", request.stop_price),
            ("limit_price", request.limit_price),
        ):
            if value is not None and value != value.quantize(_tick(value)):
                raise SimulatorRejection(
                    422,
                    CODE_UNPROCESSABLE,
                    f"invalid {name} {value}. sub-penny increment does not fulfill minimum "
                    "pricing criteria",
                )
        fractional = request.qty != request.qty.to_integral_value()
        if fractional and request.time_in_force != "day":
            raise SimulatorRejection(
                422, CODE_UNPROCESSABLE, "fractional orders must be DAY orders"
            )
        if request.type in STOP_TYPES and request.stop_price is not None:
            if request.side == "sell" and request.stop_price >= price:
                raise SimulatorRejection(
                    422,
                    CODE_UNPROCESSABLE,
                    f"stop price {request.stop_price} must be below the current price {price} "
                    "for a sell stop",
                )
            if request.side == "buy" and request.stop_price <= price:
                raise SimulatorRejection(
                    422,
                    CODE_UNPROCESSABLE,
                    f"stop price {request.stop_price} must be above the current price {price} "
                    "for a buy stop",
                )
        self._check_available_qty(request, fractional)

    def _check_available_qty(self, request: _OrderRequest, fractional: bool) -> None:
        """Shares a position holds for open closing-side orders are not available to another."""
        position = self.positions.get(request.symbol)
        held_qty = position.qty if position else Decimal(0)
        closing = (request.side == "sell" and held_qty > 0) or (
            request.side == "buy" and held_qty < 0
        )
        if closing:
            committed = sum(
                (
                    order.remaining_qty
                    for order in self.orders.values()
                    if order.symbol == request.symbol
                    and order.side == request.side
                    and order.is_open
                ),
                Decimal(0),
            )
            available = abs(held_qty) - committed
            if request.qty > available:
                raise SimulatorRejection(
                    403,
                    CODE_FORBIDDEN,
                    f"insufficient qty available for order (requested: {request.qty}, "
                    f"available: {max(available, Decimal(0))})",
                )
        elif request.side == "sell" and fractional:
            raise SimulatorRejection(403, CODE_FORBIDDEN, "fractional orders cannot be sold short")

    def _fill(self, order: SimOrder, price: Decimal) -> None:
        now = self.now()
        qty = order.remaining_qty
        order.filled_qty = order.qty
        order.filled_avg_price = price
        order.status = "filled"
        order.filled_at = order.updated_at = now
        signed = qty if order.side == "buy" else -qty
        self.account.cash -= signed * price
        position = self.positions.get(order.symbol)
        if position is None:
            self.positions[order.symbol] = SimPosition(
                order.symbol, signed, price, self._asset_id(order.symbol)
            )
        else:
            new_qty = position.qty + signed
            if new_qty == 0:
                del self.positions[order.symbol]
                return self._notify("fill", order)
            if (position.qty > 0) == (signed > 0):  # adding to the position
                position.avg_entry_price = (
                    position.avg_entry_price * abs(position.qty) + price * abs(signed)
                ) / abs(new_qty)
            elif (position.qty > 0) != (new_qty > 0):  # crossed through zero
                position.avg_entry_price = price
            position.qty = new_qty
        self._notify("fill", order)

    def _accept_pending(self) -> None:
        if not self.accept_delay:
            return
        due = self.now() - self.accept_delay
        for order in self.orders.values():
            if order.status == "pending_new" and order.submitted_at <= due:
                order.status = "new"
                order.updated_at = order.submitted_at + self.accept_delay
                self._notify("new", order)

    def _store(self, order: SimOrder) -> None:
        self.orders[order.id] = order
        self._by_client_id[order.client_order_id] = order.id

    def _order(self, order_id: str) -> SimOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise SimulatorRejection(404, CODE_NOT_FOUND, "order not found")
        return order

    def _price(self, symbol: str) -> Decimal:
        return self.prices.get(symbol, Decimal(0))

    def _position_wire(self, position: SimPosition) -> dict[str, Any]:
        price = self.prices.get(position.symbol, position.avg_entry_price)
        qty = position.qty
        committed = sum(
            (
                o.remaining_qty
                for o in self.orders.values()
                if o.symbol == position.symbol
                and o.is_open
                and o.side == ("sell" if qty > 0 else "buy")
            ),
            Decimal(0),
        )
        available = max(abs(qty) - committed, Decimal(0))
        cost_basis = qty * position.avg_entry_price
        market_value = qty * price
        unrealized = market_value - cost_basis
        return {
            "asset_id": position.asset_id,
            "symbol": position.symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "avg_entry_price": str(position.avg_entry_price),
            "qty": str(qty),
            "qty_available": str(available if qty > 0 else -available),
            "side": "long" if qty > 0 else "short",
            "market_value": str(market_value),
            "cost_basis": str(cost_basis),
            "unrealized_pl": str(unrealized),
            "unrealized_plpc": str((unrealized / abs(cost_basis)).quantize(SUB_PENNY))
            if cost_basis
            else "0",
            "unrealized_intraday_pl": str(unrealized),
            "unrealized_intraday_plpc": "0",
            "current_price": str(price),
            "lastday_price": str(position.avg_entry_price),
            "change_today": "0",
        }

    def _notify(self, event: str, order: SimOrder) -> None:
        for listener in list(self._listeners):
            listener(event, order.to_wire())

    def _uuid(self, kind: str) -> str:
        self._ids_issued += 1
        return str(uuid.uuid5(ID_NAMESPACE, f"{self.id_seed}:{kind}:{self._ids_issued}"))

    def _asset_id(self, symbol: str) -> str:
        return str(uuid.uuid5(ID_NAMESPACE, f"asset:{symbol}"))


@dataclass(frozen=True, slots=True)
class _OrderRequest:
    symbol: str
    qty: Decimal
    side: str
    type: str
    time_in_force: str
    stop_price: Decimal | None
    limit_price: Decimal | None
    client_order_id: str | None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> _OrderRequest:
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise _invalid("symbol is required")
        if body.get("notional") is not None:
            raise _invalid("notional orders are not supported by the simulator")
        qty = _decimal(body.get("qty"), "qty")
        if qty is None or qty <= 0:
            raise _invalid("qty must be > 0")
        if qty == qty.to_integral_value():
            qty = qty.quantize(Decimal(1))  # alpaca-py sends 50.0 for 50 shares
        side = body.get("side")
        if side not in ("buy", "sell"):
            raise _invalid(f"side must be buy or sell (got {side!r})")
        order_type = body.get("type") or body.get("order_type")
        if not isinstance(order_type, str) or order_type not in ORDER_TYPES:
            raise _invalid(f"unsupported order type {order_type!r}")
        time_in_force = body.get("time_in_force")
        if not isinstance(time_in_force, str) or time_in_force not in TIMES_IN_FORCE:
            raise _invalid(f"invalid time_in_force {time_in_force!r}")
        stop_price = _decimal(body.get("stop_price"), "stop_price")
        limit_price = _decimal(body.get("limit_price"), "limit_price")
        if order_type in ("stop", "stop_limit") and stop_price is None:
            raise _invalid("stop_price is required for stop orders")
        if order_type in ("limit", "stop_limit") and limit_price is None:
            raise _invalid("limit_price is required for limit orders")
        for name, price in (("stop_price", stop_price), ("limit_price", limit_price)):
            if price is not None and price <= 0:
                raise _invalid(f"{name} must be > 0")
        client_order_id = body.get("client_order_id")
        if client_order_id is not None and (
            not isinstance(client_order_id, str)
            or len(client_order_id) > MAX_CLIENT_ORDER_ID_LENGTH
        ):
            raise _invalid("client_order_id must be text of at most 128 characters")
        return cls(
            symbol=symbol,
            qty=qty,
            side=side,
            type=order_type,
            time_in_force=time_in_force,
            stop_price=stop_price,
            limit_price=limit_price,
            client_order_id=client_order_id,
        )


def _decimal(value: object, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise _invalid(f"{name} must be a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _invalid(f"{name} must be a number") from None
    if not number.is_finite():
        raise _invalid(f"{name} must be a finite number")
    if abs(number) >= MAX_WIRE_NUMBER:
        raise _invalid(f"{name} is out of range")
    return number


def _invalid(message: str) -> SimulatorRejection:
    return SimulatorRejection(422, CODE_INVALID_REQUEST, message)


def _session_edges(now: datetime, is_open: bool) -> tuple[datetime, datetime]:
    """The next regular-session open and close in New York, weekends skipped (holidays are
    not): while open, the close is today's."""
    local = now.astimezone(NEW_YORK)
    day = local.date()
    if is_open:
        close = datetime.combine(day, SESSION_CLOSE, NEW_YORK)
        return _next_session_open(day + timedelta(days=1)), close
    if local.time() >= SESSION_OPEN:
        day += timedelta(days=1)
    opening = _next_session_open(day)
    return opening, datetime.combine(opening.date(), SESSION_CLOSE, NEW_YORK)


def _next_session_open(day: date) -> datetime:
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return datetime.combine(day, SESSION_OPEN, NEW_YORK)


def _tick(price: Decimal) -> Decimal:
    return PENNY if price >= 1 else SUB_PENNY


def _symbol(position: SimPosition) -> str:
    return position.symbol


def _ts(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
