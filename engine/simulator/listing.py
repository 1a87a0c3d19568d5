"""What the order lookups answer: every order flat, or (nested) each bracket's or OCO's legs
embedded under its parent, filtered and paged as Alpaca's `GET /v2/orders` does, in whichever of
the ways Alpaca has been seen to list a group whose entry has filled."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.simulator.orders import SimOrder, group_members


class GroupListing(StrEnum):
    """How `GET /v2/orders` lists a bracket's or OCO's members. Alpaca's order JSON names no
    parent, so a leg listed on its own cannot say which group it belongs to: only a nested
    `status=all` (or `closed`) listing, or `GET /v2/orders/{parent_id}?nested=true`, shows it
    under its parent (alpaca-trade-api-js #80 and #87, alpaca-trade-api-python #322)."""

    # A group is open while any member is: a filled entry is listed under `open`, legs nested.
    NESTED = "nested"
    # Once the parent has closed, `open` lists its open legs at top level, each on its own.
    FLAT = "flat"
    # As FLAT, and a `held` leg (a bracket's waiting stop loss) is never listed as one of the
    # `open` orders: it shows under `closed` and `all`, still `held`.
    HELD_HIDDEN = "held_hidden"


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


def list_wire(
    orders: Mapping[str, SimOrder],
    query: OrderQuery,
    group_listing: GroupListing = GroupListing.NESTED,
) -> list[dict[str, Any]]:
    """The orders listed at top level, filtered, sorted and cut to `limit` on their own times,
    symbols and sides; nested, each carries its legs. How a group's members are listed is
    `group_listing`'s: see `GroupListing`."""
    chosen = [
        order
        for order in orders.values()
        if _at_top_level(order, orders, query, group_listing)
        and _status_matches(order, orders, query, group_listing)
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


def _at_top_level(
    order: SimOrder, orders: Mapping[str, SimOrder], query: OrderQuery, listing: GroupListing
) -> bool:
    """Nested, a leg rides under its parent; except that, listed flat or held-hidden, an open
    listing has no closed parent to carry it, so it stands alone."""
    if not query.nested or order.parent_id is None:
        return True
    return _legs_stand_alone(query, listing) and not orders[order.parent_id].is_open


def _status_matches(
    order: SimOrder, orders: Mapping[str, SimOrder], query: OrderQuery, listing: GroupListing
) -> bool:
    """Whether the order, or nested its whole group (any member will do), is in the status asked
    for. Where legs stand alone, an open listing judges every order by its own status."""
    if query.status == "all":
        return True
    by_group = query.nested and order.parent_id is None and not _legs_stand_alone(query, listing)
    members = group_members(order, orders) if by_group else [order]
    return any((query.status == "open") == _reads_open(member, listing) for member in members)


def _legs_stand_alone(query: OrderQuery, listing: GroupListing) -> bool:
    return listing is not GroupListing.NESTED and query.status == "open"


def _reads_open(order: SimOrder, listing: GroupListing) -> bool:
    """Held-hidden, a `held` leg is listed among the closed orders, never the open ones."""
    if listing is GroupListing.HELD_HIDDEN and order.parent_id is not None:
        return order.is_open and order.status != "held"
    return order.is_open
