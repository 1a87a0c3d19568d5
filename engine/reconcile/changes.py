"""What a fresh read of the broker found changed since the read before it, in the operator's
words: orders that ended or appeared, positions that moved, protection gained or lost. Pure."""

from __future__ import annotations

from engine.broker.status_map import meaning_of
from engine.domain import BrokerOrder
from engine.reconcile.diff import cover_of, open_orders_by_symbol
from engine.reconcile.snapshot import BrokerSnapshot


def changes_between(before: BrokerSnapshot, after: BrokerSnapshot) -> tuple[str, ...]:
    """One line per change, positions first, then orders, each sorted by symbol."""
    return (*_position_changes(before, after), *_order_changes(before, after))


def _position_changes(before: BrokerSnapshot, after: BrokerSnapshot) -> list[str]:
    lines = []
    was_by_symbol, now_by_symbol = before.positions_by_symbol, after.positions_by_symbol
    before_orders = open_orders_by_symbol(before.open_orders)
    after_orders = open_orders_by_symbol(after.open_orders)
    for symbol in sorted(was_by_symbol.keys() | now_by_symbol.keys()):
        was, now = was_by_symbol.get(symbol), now_by_symbol.get(symbol)
        if now is None:
            lines.append(f"{symbol}: position closed")
            continue
        if was is None:
            lines.append(f"{symbol}: {now.side} {now.qty} opened")
        elif (was.side, was.qty) != (now.side, now.qty):
            lines.append(f"{symbol}: {was.side} {was.qty} now {now.side} {now.qty}")
        protection = cover_of(now, after_orders.get(symbol, ())).protection
        if was is None or cover_of(was, before_orders.get(symbol, ())).protection != protection:
            lines.append(f"{symbol}: now {protection}")
    return lines


def _order_changes(before: BrokerSnapshot, after: BrokerSnapshot) -> list[str]:
    open_before = {order.id: order for order in before.open_orders}
    open_after = {order.id: order for order in after.open_orders}
    lines = [
        (order.symbol, f"{_named(order)} {_ended_as(after.orders_by_id.get(order.id))}")
        for order_id, order in open_before.items()
        if order_id not in open_after
    ]
    lines.extend(
        (order.symbol, f"{_named(order)} opened ({order.status})")
        for order_id, order in open_after.items()
        if order_id not in open_before
    )
    lines.extend(
        (order.symbol, f"{_named(order)} now {order.status}")
        for order_id, order in open_after.items()
        if order_id in open_before
        and meaning_of(order.status).protects != meaning_of(open_before[order_id].status).protects
    )
    return [f"{symbol}: {line}" for symbol, line in sorted(lines)]


def _named(order: BrokerOrder) -> str:
    return f"{order.describe()} ({order.id[:8]})"


def _ended_as(order: BrokerOrder | None) -> str:
    return "gone from the broker's lists" if order is None else str(order.status)
