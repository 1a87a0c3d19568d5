"""What the side-by-side tables show, row by row, computed from the engine's diff: plain data,
no widgets, so it is tested without a screen."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.domain import BrokerOrder, LocalOrder, OrderClass
from engine.reconcile.diff import Match, OrderRow, PositionRow, Protection

ORDER_FIELDS = ("id", "state", "qty", "filled", "price")
# Which diff field a column shows, so a differing field lights up its cell on both sides.
_FIELD_OF_COLUMN = {
    "id": "broker_id",
    "state": "state",
    "qty": "qty",
    "filled": "qty_filled",
    "price": "stop_price",
}
BLANK = ""
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OrderLine:
    key: str
    symbol: str
    match: Match
    local: tuple[str, ...]
    broker: tuple[str, ...]
    differing: frozenset[str]  # column names from ORDER_FIELDS


@dataclass(frozen=True, slots=True)
class PositionLine:
    symbol: str
    instrument: str  # the symbol, or what it is where not a share: `BTC/USD crypto`
    match: Match
    local: tuple[str, str]  # side, qty
    broker: tuple[str, str, str, str]  # side, qty, avg entry, current price
    stops: str
    protection: Protection
    differing: frozenset[str]


def order_line(row: OrderRow) -> OrderLine:
    differing = {
        column
        for column, field in _FIELD_OF_COLUMN.items()
        for difference in row.differences
        if difference.field == field
    }
    key = row.local.local_id if row.local else (row.broker.id if row.broker else "?")
    return OrderLine(
        key=key,
        symbol=row.symbol,
        match=row.match,
        local=_local_cells(row.local) if row.local else (BLANK,) * len(ORDER_FIELDS),
        broker=_broker_cells(row.broker) if row.broker else (BLANK,) * len(ORDER_FIELDS),
        differing=frozenset(differing),
    )


def _local_cells(order: LocalOrder) -> tuple[str, ...]:
    price = order.stop_price or order.limit_price or order.avg_fill_price
    return (
        order.local_id,
        f"{order.side} {order.order_type} {order.state}",
        _qty(order.qty_requested),
        _qty(order.qty_filled),
        _money(price),
    )


def _broker_cells(order: BrokerOrder) -> tuple[str, ...]:
    price = order.stop_price or order.limit_price or order.filled_avg_price
    return (
        short_id(order.id),
        f"{order.side} {order.order_type} {order.status}",
        _qty(order.qty),
        _qty(order.filled_qty),
        _money(price),
    )


def position_line(row: PositionRow) -> PositionLine:
    broker = row.broker
    broker_cells = (
        (
            str(broker.side),
            _qty(broker.qty),
            _money(broker.avg_entry_price),
            _money(broker.current_price),
        )
        if broker
        else (BLANK, BLANK, BLANK, BLANK)
    )
    local_cells = (str(row.local_side), _qty(row.local_qty)) if row.local_side else (BLANK, BLANK)
    stops = f"{_qty(row.covered_qty)} of {_qty(broker.qty)}{_groups(row)}" if broker else BLANK
    return PositionLine(
        symbol=row.symbol,
        instrument=broker.instrument() if broker else row.symbol,
        match=row.match,
        local=local_cells,
        broker=broker_cells,
        stops=stops,
        protection=row.protection,
        differing=frozenset(difference.field for difference in row.differences),
    )


def _groups(row: PositionRow) -> str:
    """A bracket or OCO covering the position reads as one protection, its take-profit with it:
    ` · OCO tp 440.00`."""
    shown = []
    for stop in row.stops:
        if stop.group_id is None:
            continue
        take_profits = [
            leg.limit_price
            for leg in row.group_legs
            if leg.group_id == stop.group_id and leg.limit_price is not None
        ]
        label = (
            str(stop.order_class).upper()
            if stop.order_class is OrderClass.OCO
            else str(stop.order_class)
        )
        shown.append(label + "".join(f" tp {_money(price)}" for price in take_profits))
    return "".join(f" · {label}" for label in shown)


def short_id(order_id: str) -> str:
    """Broker ids are UUIDs; their first block tells them apart on screen."""
    return order_id.split("-", 1)[0]


def _qty(value: Decimal) -> str:
    return f"{value:,}"


def _money(value: Decimal | None) -> str:
    """To the cent at least, never fewer digits than the price has: the same stop reads the
    same on both sides (485.1 as 485.10) and a sub-penny price keeps its digits (0.8765)."""
    if value is None:
        return BLANK
    return f"{value:,.2f}" if value == value.quantize(CENT) else f"{value:,}"
