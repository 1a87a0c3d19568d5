"""Order groups known however the broker lists them. Alpaca has nested a bracket's or OCO's legs
under their parent, listed them flat once the entry filled (each with its `order_class`, nothing
naming its parent), and left the `held` stop leg out of `status=open` altogether. Every open
group member leaves the fetch knowing its group, and the open legs the open list left out are
put back, so no leg is ever taken for an orphan of its own."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from engine.broker.protocol import Broker
from engine.broker.status_map import meaning_of
from engine.domain import BrokerOrder

# A group's legs are submitted with their parent; this much later still finds the parent.
PARENT_LOOKUP_MARGIN = timedelta(seconds=1)
# What a group no listing could name is called: one group per symbol, side and class, which
# is how a bracket's or OCO's exit legs always stand (both close the same shares).
UNLISTED_GROUP_PREFIX = "unlisted-group"


async def resolve_groups(
    broker: Broker, open_orders: Sequence[BrokerOrder], recent_orders: Sequence[BrokerOrder]
) -> tuple[BrokerOrder, ...]:
    """The open orders with every group member knowing its group: from the recent orders,
    which the broker nests, else from one lookup per symbol of the orders before the leg."""
    orders = with_known_groups(open_orders, recent_orders)
    unknown = unresolved(orders)
    if unknown:
        latest: dict[str, datetime] = {}
        for order in unknown:
            latest[order.symbol] = max(
                latest.get(order.symbol, order.submitted_at), order.submitted_at
            )
        listed = await asyncio.gather(
            *(
                broker.get_group_orders(symbol, until + PARENT_LOOKUP_MARGIN)
                for symbol, until in sorted(latest.items())
            )
        )
        orders = with_known_groups(orders, [order for found in listed for order in found])
    return tuple(_provisional_group(order) for order in orders)


def with_known_groups(
    open_orders: Iterable[BrokerOrder], known: Iterable[BrokerOrder]
) -> tuple[BrokerOrder, ...]:
    """`open_orders` with the groups `known` names for them, followed by the open members of
    those groups that the open list left out."""
    group_of: dict[str, str] = {}
    members: dict[str, list[BrokerOrder]] = defaultdict(list)
    for order in known:
        if order.group_id is not None:
            group_of[order.id] = order.group_id
            members[order.group_id].append(order)
    resolved = [
        replace(order, group_id=group_of[order.id])
        if order.group_id is None and order.id in group_of
        else order
        for order in open_orders
    ]
    listed = {order.id for order in resolved}
    missing = [
        member
        for group_id in dict.fromkeys(group_of.values())
        for member in members[group_id]
        if member.id not in listed and meaning_of(member.status).is_open
    ]
    return (*resolved, *missing)


def unresolved(orders: Iterable[BrokerOrder]) -> list[BrokerOrder]:
    """Members of a group whose listing did not say which group."""
    return [order for order in orders if order.order_class.is_group and order.group_id is None]


def _provisional_group(order: BrokerOrder) -> BrokerOrder:
    if not order.order_class.is_group or order.group_id is not None:
        return order
    group_id = f"{UNLISTED_GROUP_PREFIX}-{order.symbol}-{order.side}-{order.order_class}"
    return replace(order, group_id=group_id)
