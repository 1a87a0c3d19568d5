"""The frozen picture a reconciliation works from — broker truth and local rows, fetched in full
before anything changes — and its validation, which refuses numbers no broker would report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from zoneinfo import ZoneInfo

from engine.domain import (
    Account,
    AssetTerms,
    BrokerOrder,
    BrokerPosition,
    LocalOrder,
    MarketClock,
    OrderRole,
    Trade,
)

MARKET_TIME_ZONE = ZoneInfo("America/New_York")

# Beyond these a number is a corrupt answer, not a trade.
ABSURD_QTY = Decimal("1000000000")
ABSURD_PRICE = Decimal("10000000")


class InvalidSnapshot(Exception):
    """The broker's or the database's state cannot be trusted enough to act on."""


@dataclass(frozen=True)
class BrokerSnapshot:
    account: Account
    clock: MarketClock
    positions: tuple[BrokerPosition, ...]
    open_orders: tuple[BrokerOrder, ...]
    recent_orders: tuple[BrokerOrder, ...]
    # Fetched one by one: local orders older than the window, replacement successors, orders
    # found by client_order_id.
    looked_up_orders: tuple[BrokerOrder, ...] = ()
    # Local broker ids the broker answered 404 for.
    unknown_broker_ids: frozenset[str] = frozenset()
    # The terms of each crypto pair and option held, by symbol; equities need none.
    assets: Mapping[str, AssetTerms] = field(default_factory=dict)

    @cached_property
    def orders_by_id(self) -> dict[str, BrokerOrder]:
        # Open orders last: they are the freshest answer for an order listed twice.
        return {
            order.id: order
            for order in (*self.looked_up_orders, *self.recent_orders, *self.open_orders)
        }

    @cached_property
    def orders_by_client_id(self) -> dict[str, BrokerOrder]:
        return {order.client_order_id: order for order in self.orders_by_id.values()}

    @cached_property
    def positions_by_symbol(self) -> dict[str, BrokerPosition]:
        return {position.symbol: position for position in self.positions}


@dataclass(frozen=True)
class LocalSnapshot:
    open_orders: tuple[LocalOrder, ...]
    # Rows in any state that name a broker order of the snapshot (by id or client_order_id).
    linked_orders: tuple[LocalOrder, ...] = ()
    # Every row of each round trip with a filled entry in a symbol the broker holds.
    position_orders: tuple[LocalOrder, ...] = ()
    trades_today: tuple[Trade, ...] = ()

    @cached_property
    def all_orders(self) -> dict[str, LocalOrder]:
        return {
            order.local_id: order
            for order in (*self.position_orders, *self.linked_orders, *self.open_orders)
        }

    @cached_property
    def latest_entry_by_symbol(self) -> dict[str, LocalOrder]:
        """Per symbol, the most recent entry that filled shares: the round trip a position
        belongs to. Built once; every stop of a large book asks."""
        latest: dict[str, LocalOrder] = {}
        for order in self.position_orders:
            if order.order_role is not OrderRole.ENTRY or order.qty_filled <= 0:
                continue
            known = latest.get(order.symbol)
            if known is None or order.created_at > known.created_at:
                latest[order.symbol] = order
        return latest


@dataclass(frozen=True)
class Snapshot:
    broker: BrokerSnapshot
    local: LocalSnapshot
    taken_at: datetime

    @cached_property
    def trading_day(self) -> date:
        """The exchange's calendar day, which is what "today" means for stops and trades."""
        return self.taken_at.astimezone(MARKET_TIME_ZONE).date()


def validate(snapshot: Snapshot) -> None:
    """Raise `InvalidSnapshot` on the first number no real book holds."""
    seen_symbols: set[str] = set()
    for position in snapshot.broker.positions:
        what = f"broker position {position.symbol}"
        if position.symbol in seen_symbols:
            raise InvalidSnapshot(f"{what} is reported twice")
        seen_symbols.add(position.symbol)
        _require_qty(position.qty, f"{what} qty")
        _require_price(position.avg_entry_price, f"{what} avg_entry_price")
        _require_price(position.current_price, f"{what} current_price")
    for order in snapshot.broker.orders_by_id.values():
        _validate_broker_order(order)
    claimed_by: dict[str, str] = {}
    for local in snapshot.local.all_orders.values():
        what = f"local order {local.local_id}"
        if local.broker_id is not None:
            other = claimed_by.setdefault(local.broker_id, local.local_id)
            if other != local.local_id:
                # Which row speaks for the broker's order is not recon's to guess.
                raise InvalidSnapshot(
                    f"local orders {other} and {local.local_id} both name broker order "
                    f"{local.broker_id}"
                )
        _require_qty(local.qty_requested, f"{what} qty_requested")
        if not Decimal(0) <= local.qty_filled <= local.qty_requested:
            raise InvalidSnapshot(
                f"{what} has qty_filled {local.qty_filled} of {local.qty_requested}"
            )
        for name, price in (("stop_price", local.stop_price), ("limit_price", local.limit_price)):
            if price is not None:
                _require_price(price, f"{what} {name}")


def _validate_broker_order(order: BrokerOrder) -> None:
    what = f"broker order {order.id} ({order.symbol})"
    _require_qty(order.qty, f"{what} qty")
    if not Decimal(0) <= order.filled_qty <= order.qty:
        raise InvalidSnapshot(f"{what} reports filled_qty {order.filled_qty} of {order.qty}")
    prices = (
        ("stop_price", order.stop_price),
        ("limit_price", order.limit_price),
        ("filled_avg_price", order.filled_avg_price),
    )
    for name, price in prices:
        if price is not None:
            _require_price(price, f"{what} {name}")


def _require_qty(qty: Decimal, what: str) -> None:
    if not Decimal(0) < qty < ABSURD_QTY:
        raise InvalidSnapshot(f"{what} is {qty}, not a plausible quantity")


def _require_price(price: Decimal, what: str) -> None:
    if not Decimal(0) < price < ABSURD_PRICE:
        raise InvalidSnapshot(f"{what} is {price}, not a plausible price")
