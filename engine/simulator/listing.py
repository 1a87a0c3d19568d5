"""What the order lookups answer: every order flat, or (nested) each bracket's or OCO's legs
embedded under its parent, filtered and paged as Alpaca's `GET /v2/orders` does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.simulator.orders import SimOrder, group_members


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """`GET /v2/orders`'s parameters; `after` and `until` are exclusive."""

    status: str = "open"  # open, closed or all
    limit: int = 50
    after: datetime | None = None
    until: datetime | None = None
    direction: str = "desc"
    symbols: frozenset[str] = frozenset()
    side: str | None = None
    nested: bool = False


def list_wire(orders: Mapping[str, SimOrder], query: OrderQuery) -> list[dict[str, Any]]:
    """Nested, only parents are listed, and a group is open while any member is: a filled
    bracket entry whose legs still work is listed under `open`, legs embedded."""
    chosen = [
        order
        for order in orders.values()
        if (not query.nested or order.parent_id is None)
        and _status_matches(order, orders, query)
        and (query.after is None or order.submitted_at > query.after)
        and (query.until is None or order.submitted_at < query.until)
        and (not query.symbols or order.symbol in query.symbols)
        and (query.side is None or order.side == query.side)
    ]
    chosen.sort(key=lambda order: order.submitted_at, reverse=query.direction == "desc")
    return [order_wire(order, orders, nested=query.nested) for order in chosen[: query.limit]]


def order_wire(order: SimOrder, orders: Mapping[str, SimOrder], *, nested: bool) -> dict[str, Any]:
    """One order; nested, a parent carries its legs, while a leg asked for comes alone."""
    if nested and order.leg_ids:
        return order.to_wire(legs=[orders[leg_id] for leg_id in order.leg_ids])
    return order.to_wire()


def _status_matches(order: SimOrder, orders: Mapping[str, SimOrder], query: OrderQuery) -> bool:
    if query.status == "all":
        return True
    members = group_members(order, orders) if query.nested else [order]
    return any((query.status == "open") == member.is_open for member in members)
