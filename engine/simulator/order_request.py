"""Reading an order request as alpaca-py sends it (a submission, simple, bracket or OCO, or a
replace) into typed terms, or into the 422 Alpaca gives a request it cannot read; a crypto pair's
legacy compact symbol read as the pair, and the types and groups the asset cannot take refused
first, as Alpaca refuses them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from engine.simulator.asset_rules import check_order_shape
from engine.simulator.assets import asset_class_of, trading_symbol
from engine.simulator.orders import BRACKET, MLEG, OCO, OTO, SIMPLE, SimOrder
from engine.simulator.rejections import invalid

ORDER_TYPES = frozenset({"market", "limit", "stop", "stop_limit"})
TIMES_IN_FORCE = frozenset({"day", "gtc", "opg", "cls", "ioc", "fok"})
ENTRY_TYPES = {BRACKET: frozenset({"market", "limit"}), OCO: frozenset({"limit"})}
MAX_CLIENT_ORDER_ID_LENGTH = 128
# Far beyond any real order; keeps Decimal arithmetic (and quantize) inside its precision.
MAX_WIRE_NUMBER = Decimal("1e12")
REPLACEABLE_FIELDS = ("qty", "time_in_force", "limit_price", "stop_price", "trail")


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """What an order asks of the market; the broker's rules judge these, whether they come from
    a submission or from a replace."""

    symbol: str
    side: str
    type: str
    qty: Decimal
    time_in_force: str
    stop_price: Decimal | None = None
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class StopLoss:
    """A bracket's or OCO's stop leg: a stop, or a stop limit when `limit_price` is given."""

    stop_price: Decimal
    limit_price: Decimal | None = None

    @property
    def type(self) -> str:
        return "stop" if self.limit_price is None else "stop_limit"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A submission: for an OCO, `terms` is its take-profit limit (the order Alpaca answers
    with); for a bracket, its entry."""

    terms: OrderTerms
    client_order_id: str | None
    order_class: str = SIMPLE
    take_profit: Decimal | None = None  # the take-profit leg's limit price
    stop_loss: StopLoss | None = None

    @classmethod
    def parse(cls, body: Mapping[str, Any], *, quoted: Collection[str] = ()) -> OrderRequest:
        """`quoted`: the symbols the book has prices for, among them crypto pairs the table does
        not list, whose compact spellings are read as the pair too."""
        if body.get("order_class") == MLEG:  # its legs carry the symbols: it has none of its own
            raise invalid("mleg orders are not supported by the simulator")
        raw_symbol = body.get("symbol")
        if not isinstance(raw_symbol, str) or not raw_symbol:
            raise invalid("symbol is required")
        symbol = trading_symbol(raw_symbol, quoted)
        if body.get("notional") is not None:
            raise invalid("notional orders are not supported by the simulator")
        qty = _qty(body.get("qty"))
        side = body.get("side")
        if side not in ("buy", "sell"):
            raise invalid(f"side must be buy or sell (got {side!r})")
        order_type = body.get("type") or body.get("order_type")
        if isinstance(order_type, str):
            check_order_shape(asset_class_of(symbol), order_type, body.get("order_class"))
        if not isinstance(order_type, str) or order_type not in ORDER_TYPES:
            raise invalid(f"unsupported order type {order_type!r}")
        order_class = _order_class(body.get("order_class"))
        take_profit, stop_loss = _exits(body, order_class)
        if order_class in ENTRY_TYPES and order_type not in ENTRY_TYPES[order_class]:
            raise invalid(f"{order_type} orders cannot be {order_class} orders")
        stop_price = _price(body.get("stop_price"), "stop_price")
        limit_price = _price(body.get("limit_price"), "limit_price")
        if order_class == OCO:
            # alpaca-py sends the take-profit's price, and the top-level one only if given.
            if limit_price is not None and limit_price != take_profit:
                raise invalid("limit_price must equal take_profit.limit_price")
            limit_price = take_profit
        if order_type in ("stop", "stop_limit") and stop_price is None:
            raise invalid("stop_price is required for stop orders")
        if order_type in ("limit", "stop_limit") and limit_price is None:
            raise invalid("limit_price is required for limit orders")
        return cls(
            terms=OrderTerms(
                symbol=symbol,
                side=side,
                type=order_type,
                qty=qty,
                time_in_force=_time_in_force(body.get("time_in_force")),
                stop_price=stop_price,
                limit_price=limit_price,
            ),
            client_order_id=_client_order_id(body.get("client_order_id")),
            order_class=order_class,
            take_profit=take_profit,
            stop_loss=stop_loss,
        )


@dataclass(frozen=True, slots=True)
class ReplaceRequest:
    """A PATCH of an open order: only the fields given change."""

    qty: Decimal | None
    time_in_force: str | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    trail: Decimal | None
    client_order_id: str | None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> ReplaceRequest:
        if not any(body.get(name) is not None for name in (*REPLACEABLE_FIELDS, "client_order_id")):
            raise invalid(f"one of {', '.join(REPLACEABLE_FIELDS)} or client_order_id is required")
        time_in_force = body.get("time_in_force")
        return cls(
            qty=None if body.get("qty") is None else _qty(body["qty"]),
            time_in_force=None if time_in_force is None else _time_in_force(time_in_force),
            limit_price=_price(body.get("limit_price"), "limit_price"),
            stop_price=_price(body.get("stop_price"), "stop_price"),
            trail=_price(body.get("trail"), "trail"),
            client_order_id=_client_order_id(body.get("client_order_id")),
        )

    def terms_for(self, order: SimOrder) -> OrderTerms:
        """`order`'s terms with this request's changes; a price the order does not have cannot
        be given one."""
        if self.limit_price is not None and order.limit_price is None:
            raise invalid(f"limit_price cannot be set on a {order.type} order")
        if self.stop_price is not None and order.stop_price is None:
            raise invalid(f"stop_price cannot be set on a {order.type} order")
        if self.trail is not None and order.type != "trailing_stop":
            raise invalid(f"trail cannot be set on a {order.type} order")
        return OrderTerms(
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            qty=_given(self.qty, order.qty),
            time_in_force=_given(self.time_in_force, order.time_in_force),
            stop_price=_given(self.stop_price, order.stop_price),
            limit_price=_given(self.limit_price, order.limit_price),
        )

    def trail_for(self, order: SimOrder) -> tuple[Decimal | None, Decimal | None]:
        """`order`'s (trail_price, trail_percent) after the replace: a trailing stop trails by
        a price or by a percent, and `trail` changes whichever it trails by."""
        if self.trail is None:
            return order.trail_price, order.trail_percent
        if order.trail_percent is not None:
            return None, self.trail
        return self.trail, None


T = TypeVar("T")


def _given(new: T | None, old: T) -> T:
    return old if new is None else new


def _order_class(raw: object) -> str:
    if raw in (None, ""):  # alpaca-py leaves it out, Alpaca reads "" as simple
        return SIMPLE
    if raw == OTO:
        raise invalid("oto orders are not supported by the simulator")
    if raw not in (SIMPLE, BRACKET, OCO):
        raise invalid(f"unsupported order_class {raw!r}")
    return str(raw)


def _exits(body: Mapping[str, Any], order_class: str) -> tuple[Decimal | None, StopLoss | None]:
    """A bracket's or OCO's take-profit limit price and stop loss; a simple order has none."""
    take_profit, stop_loss = body.get("take_profit"), body.get("stop_loss")
    if order_class == SIMPLE:
        if take_profit is not None or stop_loss is not None:
            raise invalid("take_profit and stop_loss need order_class bracket or oco")
        return None, None
    take_profit_limit = _price(_field(take_profit, "limit_price"), "take_profit.limit_price")
    if take_profit_limit is None:
        raise invalid(f"take_profit.limit_price is required for {order_class} orders")
    stop_price = _price(_field(stop_loss, "stop_price"), "stop_loss.stop_price")
    if stop_price is None:
        raise invalid(f"stop_loss.stop_price is required for {order_class} orders")
    stop_limit = _price(_field(stop_loss, "limit_price"), "stop_loss.limit_price")
    return take_profit_limit, StopLoss(stop_price, stop_limit)


def _field(raw: object, name: str) -> object:
    return raw.get(name) if isinstance(raw, Mapping) else None


def _qty(raw: object) -> Decimal:
    qty = _decimal(raw, "qty")
    if qty is None or qty <= 0:
        raise invalid("qty must be > 0")
    if qty == qty.to_integral_value():
        qty = qty.quantize(Decimal(1))  # alpaca-py sends 50.0 for 50 shares
    return qty


def _time_in_force(raw: object) -> str:
    if not isinstance(raw, str) or raw not in TIMES_IN_FORCE:
        raise invalid(f"invalid time_in_force {raw!r}")
    return raw


def _price(raw: object, name: str) -> Decimal | None:
    price = _decimal(raw, name)
    if price is not None and price <= 0:
        raise invalid(f"{name} must be > 0")
    return price


def _client_order_id(raw: object) -> str | None:
    if raw is not None and (not isinstance(raw, str) or len(raw) > MAX_CLIENT_ORDER_ID_LENGTH):
        raise invalid("client_order_id must be text of at most 128 characters")
    return raw


def _decimal(value: object, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise invalid(f"{name} must be a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise invalid(f"{name} must be a number") from None
    if not number.is_finite():
        raise invalid(f"{name} must be a finite number")
    if abs(number) >= MAX_WIRE_NUMBER:
        raise invalid(f"{name} is out of range")
    return number
