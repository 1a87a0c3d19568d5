"""Turns Alpaca's JSON answers into frozen domain objects, Decimal for every number; anything
missing, unreadable, unknown or beyond what a real book holds (a date in year 1, a number of a
million digits, legs nested in legs) raises a typed error naming the object and the field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from engine.broker.errors import MalformedBrokerResponse, UnknownOrderStatus
from engine.domain import (
    Account,
    AssetClass,
    AssetTerms,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    MarketClock,
    OptionContract,
    OptionRight,
    OrderClass,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
    brief,
    implausible_number,
    implausible_time,
    quoted,
)

Raw = Mapping[str, Any]
E = TypeVar("E", bound=StrEnum)
TRADE_UPDATES = "trade_updates"
# Every event Alpaca documents on the trade_updates stream, and alpaca-py's `restated`.
TRADE_UPDATE_EVENTS = frozenset(
    {
        "new", "fill", "partial_fill", "canceled", "expired", "done_for_day", "replaced",
        "accepted", "rejected", "pending_new", "stopped", "pending_cancel", "pending_replace",
        "calculated", "suspended", "order_replace_rejected", "order_cancel_rejected", "restated",
    }
)  # fmt: skip


def order_from_wire(
    raw: Any, *, group_id: str | None = None, parent_type: object = None
) -> BrokerOrder:
    """One order, with its legs when the broker nested them under it. A leg carries its
    parent's id as `group_id`, as does a parent that has legs. Alpaca nests one level only, so
    a leg with legs of its own is malformed (and no nesting however deep can exhaust the
    stack). `parent_type` is the type of the order a leg is nested under."""
    obj = _mapping(raw, "order")
    order_id = _text(obj, "id", "order")
    what = f"order {brief(order_id)}"
    status_text = _text(obj, "status", what)
    try:
        status = BrokerOrderStatus(status_text)
    except ValueError:
        raise UnknownOrderStatus(brief(order_id), brief(status_text)) from None
    filled_qty = _decimal(obj, "filled_qty", what)
    # A notional (dollar-amount) order has no share quantity until it fills.
    qty = (
        filled_qty if obj.get("qty") is None and obj.get("notional") else _decimal(obj, "qty", what)
    )
    raw_legs = obj.get("legs") or []
    if not isinstance(raw_legs, list):
        raise MalformedBrokerResponse(f"{what}: legs is {_shown(raw_legs)}, expected a list")
    if raw_legs and group_id is not None:
        raise MalformedBrokerResponse(f"{what}: a leg with legs of its own")
    # Alpaca reports a simple order's class as "simple" or as an empty string.
    order_class = (
        _enum(OrderClass, obj, "order_class", what) if obj.get("order_class") else OrderClass.SIMPLE
    )
    if order_class is OrderClass.MLEG:
        obj = _multi_leg_filled_in(obj, raw_legs, parent_type, what)
    return BrokerOrder(
        id=order_id,
        client_order_id=_text(obj, "client_order_id", what),
        symbol=_text(obj, "symbol", what),
        side=_enum(Side, obj, "side", what),
        order_type=_enum(OrderType, obj, "type", what),
        time_in_force=_enum(TimeInForce, obj, "time_in_force", what),
        qty=qty,
        filled_qty=filled_qty,
        filled_avg_price=_optional_decimal(obj, "filled_avg_price", what),
        stop_price=_optional_decimal(obj, "stop_price", what),
        limit_price=_optional_decimal(obj, "limit_price", what),
        status=status,
        created_at=_timestamp(obj, "created_at", what),
        updated_at=_timestamp(obj, "updated_at", what),
        submitted_at=_timestamp(obj, "submitted_at", what),
        replaced_by=_optional_text(obj, "replaced_by", what),
        replaces=_optional_text(obj, "replaces", what),
        order_class=order_class,
        group_id=order_id if raw_legs else group_id,
        legs=tuple(
            order_from_wire(leg, group_id=order_id, parent_type=obj.get("type")) for leg in raw_legs
        ),
    )


def _multi_leg_filled_in(obj: Raw, raw_legs: list[Any], parent_type: object, what: str) -> Raw:
    """A multi-leg option order as recon reads it. Alpaca leaves the order's own symbol and
    side empty — each leg has its own — and a leg's type empty, the order's applying: the order
    is named after its legs (`AAPL261218C00200000+AAPL261218C00210000`, a symbol no position
    holds, so it is never taken for one leg's order) and takes its first leg's side, and a leg
    takes the order's type."""
    filled = dict(obj)
    if raw_legs and not obj.get("symbol"):
        legs = [_mapping(leg, f"{what} leg") for leg in raw_legs]
        filled["symbol"] = "+".join(_text(leg, "symbol", f"{what} leg") for leg in legs)
        filled["side"] = obj.get("side") or legs[0].get("side")
    if not raw_legs and not obj.get("type"):
        filled["type"] = parent_type
    return filled


def trade_update_from_wire(raw: Any) -> BrokerOrder | None:
    """The order a trade_updates stream message reports; None for a message of another stream
    (the authorization, the listening acknowledgement). An event Alpaca does not document is
    malformed, as an unknown order status is: recon acts on nothing it cannot read."""
    message = _mapping(raw, "stream message")
    if message.get("stream") != TRADE_UPDATES:
        return None
    update = _mapping(message.get("data"), "trade update")
    event = _text(update, "event", "trade update")
    if event not in TRADE_UPDATE_EVENTS:
        raise MalformedBrokerResponse(f"trade update: event is {_shown(event)}, not a known one")
    return order_from_wire(update.get("order"))


def orders_from_wire(raw: Any, what: str) -> list[BrokerOrder]:
    """An order list as flat orders, the legs of a nested listing each an order of its own."""
    return [member for item in list_from_wire(raw, what) for member in group_members(item)]


def group_members(raw: Any) -> tuple[BrokerOrder, ...]:
    """A listed order and then its nested legs, each knowing its group."""
    order = order_from_wire(raw)
    return (replace(order, legs=()), *order.legs) if order.legs else (order,)


def position_from_wire(raw: Any) -> BrokerPosition:
    obj = _mapping(raw, "position")
    symbol = _text(obj, "symbol", "position")
    what = f"position {brief(symbol)}"
    # Alpaca reports a short as side "short" with a negative qty; recon keeps qty positive.
    # A sign that disagrees with the side leaves which way the position goes unknown, and
    # a stop on the wrong side would double it rather than close it: never read by side alone.
    side = _enum(PositionSide, obj, "side", what)
    qty = _signed(obj, "qty", side, what)
    return BrokerPosition(
        symbol=symbol,
        side=side,
        qty=qty,
        qty_available=_signed(obj, "qty_available", side, what),
        avg_entry_price=_decimal(obj, "avg_entry_price", what),
        current_price=_decimal(obj, "current_price", what),
        # Kept by name even when recon does not know it: that position is reported, not read
        # as a share.
        asset_class=brief(_text(obj, "asset_class", what)),
    )


def account_from_wire(raw: Any) -> Account:
    obj = _mapping(raw, "account")
    return Account(
        account_number=_text(obj, "account_number", "account"),
        status=_text(obj, "status", "account"),
        currency=_text(obj, "currency", "account"),
        equity=_decimal(obj, "equity", "account"),
        last_equity=_decimal(obj, "last_equity", "account"),
        cash=_decimal(obj, "cash", "account"),
        buying_power=_decimal(obj, "buying_power", "account"),
        trading_blocked=_flag(obj, "trading_blocked", "account"),
        account_blocked=_flag(obj, "account_blocked", "account"),
        trade_suspended_by_user=_flag(obj, "trade_suspended_by_user", "account"),
    )


def crypto_asset_from_wire(raw: Any) -> AssetTerms:
    """A crypto pair as `GET /v2/assets/{symbol}` answers it: its pair symbol and the steps its
    orders must keep to."""
    obj = _mapping(raw, "asset")
    symbol = _text(obj, "symbol", "asset")
    what = f"asset {brief(symbol)}"
    asset_class = _text(obj, "class", what)
    if asset_class != AssetClass.CRYPTO:
        raise MalformedBrokerResponse(f"{what}: class is {_shown(asset_class)}, not crypto")
    return AssetTerms(
        symbol=symbol,
        asset_class=AssetClass.CRYPTO,
        price_increment=_step(obj, "price_increment", what),
        qty_increment=_step(obj, "min_trade_increment", what),
        min_order_qty=_step(obj, "min_order_size", what),
    )


def option_contract_from_wire(raw: Any) -> AssetTerms:
    """An option as `GET /v2/options/contracts/{symbol}` answers it: how many units a contract
    moves, and what contract it is."""
    obj = _mapping(raw, "option contract")
    symbol = _text(obj, "symbol", "option contract")
    what = f"option contract {brief(symbol)}"
    right = _text(obj, "type", what)
    if right not in ("call", "put"):
        raise MalformedBrokerResponse(f"{what}: type is {_shown(right)}, not call or put")
    expiry_text = _text(obj, "expiration_date", what)
    try:
        expiry = date.fromisoformat(expiry_text)
    except ValueError:
        raise MalformedBrokerResponse(
            f"{what}: expiration_date is {_shown(expiry_text)}, not a date"
        ) from None
    return AssetTerms(
        symbol=symbol,
        asset_class=AssetClass.US_OPTION,
        qty_increment=Decimal(1),
        min_order_qty=Decimal(1),
        multiplier=_step(obj, "multiplier", what),
        contract=OptionContract(
            underlying=brief(_text(obj, "underlying_symbol", what)),
            expiry=expiry,
            strike=_step(obj, "strike_price", what),
            right=OptionRight(right),
        ),
    )


def clock_from_wire(raw: Any) -> MarketClock:
    obj = _mapping(raw, "clock")
    is_open = obj.get("is_open")
    if not isinstance(is_open, bool):
        raise MalformedBrokerResponse(
            f"clock: is_open is {_shown(is_open)}, expected true or false"
        )
    return MarketClock(
        timestamp=_timestamp(obj, "timestamp", "clock"),
        is_open=is_open,
        next_open=_timestamp(obj, "next_open", "clock"),
        next_close=_timestamp(obj, "next_close", "clock"),
    )


def list_from_wire(raw: Any, what: str) -> list[Any]:
    if not isinstance(raw, list):
        raise MalformedBrokerResponse(f"{what}: expected a list, got {type(raw).__name__}")
    return raw


def _mapping(raw: Any, what: str) -> Raw:
    if not isinstance(raw, Mapping):
        raise MalformedBrokerResponse(f"{what}: expected an object, got {type(raw).__name__}")
    return raw


def _text(obj: Raw, field: str, what: str) -> str:
    value = obj.get(field)
    if not isinstance(value, str) or not value:
        raise MalformedBrokerResponse(f"{what}: {field} is {_shown(value)}, expected text")
    return value


def _optional_text(obj: Raw, field: str, what: str) -> str | None:
    value = obj.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedBrokerResponse(f"{what}: {field} is {_shown(value)}, expected text")
    return value


def _flag(obj: Raw, field: str, what: str) -> bool:
    value = obj.get(field)
    if not isinstance(value, bool):
        raise MalformedBrokerResponse(f"{what}: {field} is {_shown(value)}, expected true or false")
    return value


def _step(obj: Raw, field: str, what: str) -> Decimal:
    """A number that divides others (an increment, a multiplier, a strike): above zero."""
    number = _decimal(obj, field, what)
    if not number > 0:
        raise MalformedBrokerResponse(f"{what}: {field} is {_shown(obj.get(field))}, not above 0")
    return number


def _decimal(obj: Raw, field: str, what: str) -> Decimal:
    value = obj.get(field)
    if value is None:
        raise MalformedBrokerResponse(f"{what}: {field} is missing")
    return _parse_decimal(value, field, what)


def _optional_decimal(obj: Raw, field: str, what: str) -> Decimal | None:
    value = obj.get(field)
    return None if value is None else _parse_decimal(value, field, what)


def _signed(obj: Raw, field: str, side: PositionSide, what: str) -> Decimal:
    """A position's quantity, positive, once its sign has been found to agree with `side`."""
    number = _decimal(obj, field, what)
    disagrees = number < 0 if side is PositionSide.LONG else number > 0
    if disagrees:
        raise MalformedBrokerResponse(
            f"{what}: {field} is {_shown(obj.get(field))} on a {side} position; "
            "the sign and the side disagree"
        )
    return number.copy_abs()


def _parse_decimal(value: object, field: str, what: str) -> Decimal:
    # bool is an int subclass; a true/false where a number belongs is malformed, not 1/0.
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise MalformedBrokerResponse(f"{what}: {field} is {_shown(value)}, expected a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise MalformedBrokerResponse(f"{what}: {field} is {_shown(value)}, not a number") from None
    problem = implausible_number(number)
    if problem is not None:
        raise MalformedBrokerResponse(f"{what}: {field} is {_shown(value)}, {problem}")
    return number


def _timestamp(obj: Raw, field: str, what: str) -> datetime:
    value = _text(obj, field, what)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedBrokerResponse(
            f"{what}: {field} is {_shown(value)}, not a timestamp"
        ) from None
    if parsed.tzinfo is None:
        raise MalformedBrokerResponse(f"{what}: {field} is {_shown(value)}, without a time zone")
    try:
        # Year 1 an hour east of UTC is year 0 in UTC, which datetime cannot hold.
        moment = parsed.astimezone(UTC)
    except OverflowError:
        raise MalformedBrokerResponse(
            f"{what}: {field} is {_shown(value)}, beyond any time recon can hold"
        ) from None
    problem = implausible_time(moment)
    if problem is not None:
        raise MalformedBrokerResponse(f"{what}: {field} is {_shown(value)}, {problem}")
    return moment


def _enum(kind: type[E], obj: Raw, field: str, what: str) -> E:
    value = _text(obj, field, what)
    try:
        return kind(value)
    except ValueError:
        raise MalformedBrokerResponse(
            f"{what}: {field} is {_shown(value)}, not a known value"
        ) from None


def _shown(value: object) -> str:
    """A value as an error quotes it: short, and never failing itself, as repr() does on a
    list nested a thousand deep or an int of ten thousand digits."""
    if isinstance(value, str):
        return quoted(value)
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int | Decimal):
        # A Decimal's str never fails; an int's does past 4300 digits.
        text = str(value) if isinstance(value, Decimal) or value.bit_length() < 128 else None
        return "a number too long to show" if text is None else brief(text)
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"
