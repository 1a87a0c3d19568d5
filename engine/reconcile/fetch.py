"""Fetch the whole snapshot before anything changes: broker reads concurrently, every page, then
the lookups the lists could not answer (the groups of legs listed flat, old orders, replacement
successors, submissions known only by client_order_id), then the local rows that belong to what
was found, and what each crypto pair or option held is as an asset. A crypto pair is one
symbol to recon however the trading engine spelled it (`BTCUSD` or `BTC/USD`): its local rows
are read under the pair symbol its orders and position carry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Protocol, TypeVar

from engine.broker.errors import OrderNotFound
from engine.broker.protocol import Broker
from engine.domain import (
    AssetClass,
    AssetTerms,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    LocalOrder,
    Trade,
    compact_symbol,
)
from engine.reconcile.groups import resolve_groups
from engine.reconcile.snapshot import MARKET_TIME_ZONE, BrokerSnapshot, LocalSnapshot, Snapshot

T = TypeVar("T")

RECENT_ORDERS_HOURS = 24
# A replacement chain is followed this many hops through single lookups at most.
MAX_SUCCESSOR_LOOKUPS = 10


class LocalBook(Protocol):
    """The local rows a reconciliation reads, each need answered in one query."""

    async def open_orders(self) -> list[LocalOrder]: ...

    async def orders_linked_to(
        self, broker_ids: Iterable[str], client_order_ids: Iterable[str]
    ) -> list[LocalOrder]: ...

    async def round_trips_in(self, symbols: Iterable[str]) -> list[LocalOrder]: ...

    async def trades_between(self, start: datetime, end: datetime) -> list[Trade]: ...


async def fetch_snapshot(
    broker: Broker,
    book: LocalBook,
    *,
    now: Callable[[], datetime],
    since: Snapshot | None = None,
) -> Snapshot:
    """The whole book; or, with `since` (an earlier read of the same run), the book read again
    with that read's account, clock and day's trades, which nothing recon does changes."""
    (
        account,
        clock,
        positions,
        listed_open,
        recent_orders,
        local_open,
    ) = await asyncio.gather(
        broker.get_account() if since is None else _known(since.broker.account),
        broker.get_clock() if since is None else _known(since.broker.clock),
        broker.get_positions(),
        broker.get_open_orders(),
        broker.get_recent_orders(RECENT_ORDERS_HOURS),
        book.open_orders(),
    )
    open_orders, assets = await asyncio.gather(
        resolve_groups(broker, listed_open, recent_orders),
        _assets_of(broker, positions, since),
    )
    taken_at = now()
    known = {order.id: order for order in (*recent_orders, *open_orders)}
    looked_up, unknown_ids = await _look_up_missing(broker, local_open, known)
    broker_snapshot = BrokerSnapshot(
        account=account,
        clock=clock,
        positions=tuple(positions),
        open_orders=tuple(open_orders),
        recent_orders=tuple(recent_orders),
        looked_up_orders=tuple(looked_up),
        unknown_broker_ids=frozenset(unknown_ids),
        assets=assets,
    )
    pairs = _pairs_by_spelling(positions, (*open_orders, *recent_orders))
    day_start = datetime.combine(
        taken_at.astimezone(MARKET_TIME_ZONE).date(), time(0), tzinfo=MARKET_TIME_ZONE
    )
    linked, round_trips, trades = await asyncio.gather(
        book.orders_linked_to(
            [order.id for order in open_orders], [order.client_order_id for order in open_orders]
        ),
        book.round_trips_in(
            spelling
            for position in positions
            for spelling in dict.fromkeys((position.symbol, compact_symbol(position.symbol)))
        ),
        book.trades_between(day_start, day_start + timedelta(days=1))
        if since is None
        else _known(since.local.trades_today),
    )
    return Snapshot(
        broker=broker_snapshot,
        local=LocalSnapshot(
            open_orders=_named_as_broker(local_open, pairs),
            linked_orders=_named_as_broker(linked, pairs),
            position_orders=_named_as_broker(round_trips, pairs),
            trades_today=tuple(trades),
        ),
        taken_at=taken_at,
    )


async def _known(value: T) -> T:
    return value


async def _assets_of(
    broker: Broker, positions: Iterable[BrokerPosition], since: Snapshot | None
) -> dict[str, AssetTerms]:
    """The terms of every crypto pair and option held: what shapes the stop each takes. An
    earlier read of the run lends what it asked already."""
    known = {} if since is None else dict(since.broker.assets)
    wanted = [
        (position.symbol, asset_class)
        for position in positions
        if (asset_class := position.known_asset_class) in (AssetClass.CRYPTO, AssetClass.US_OPTION)
        and position.symbol not in known
    ]
    found = await asyncio.gather(*(broker.get_asset(*asset) for asset in wanted))
    known.update((symbol, terms) for (symbol, _), terms in zip(wanted, found, strict=True))
    return known


def _pairs_by_spelling(
    positions: Iterable[BrokerPosition], orders: Iterable[BrokerOrder]
) -> dict[str, str]:
    """Each crypto pair the broker names (`BTC/USD`), by its compact spelling (`BTCUSD`)."""
    names = {position.symbol for position in positions} | {order.symbol for order in orders}
    return {compact_symbol(name): name for name in names if "/" in name}


def _named_as_broker(
    rows: Iterable[LocalOrder], pairs: Mapping[str, str]
) -> tuple[LocalOrder, ...]:
    return tuple(
        replace(row, symbol=pairs[row.symbol]) if row.symbol in pairs else row for row in rows
    )


async def _look_up_missing(
    broker: Broker, local_open: list[LocalOrder], known: dict[str, BrokerOrder]
) -> tuple[list[BrokerOrder], set[str]]:
    """Single lookups, concurrently: local orders the lists did not contain (older than the
    window), submissions known only by client_order_id, and successors of replaced orders."""
    looked_up: list[BrokerOrder] = []
    unknown: set[str] = set()
    known_client_ids = {order.client_order_id for order in known.values()}

    async def by_id(broker_id: str) -> None:
        try:
            order = await broker.get_order(broker_id)
        except OrderNotFound:
            unknown.add(broker_id)
            return
        known[order.id] = order
        looked_up.append(order)

    async def by_client_id(client_order_id: str) -> None:
        order = await broker.find_order_by_client_id(client_order_id)
        if order is not None:
            known[order.id] = order
            looked_up.append(order)

    await asyncio.gather(
        *(
            by_id(order.broker_id)
            for order in local_open
            if order.broker_id and order.broker_id not in known
        ),
        *(
            by_client_id(order.client_order_id)
            for order in local_open
            if not order.broker_id
            and order.client_order_id
            and order.client_order_id not in known_client_ids
        ),
    )
    for _ in range(MAX_SUCCESSOR_LOOKUPS):
        successors = {
            order.replaced_by
            for order in known.values()
            if order.status is BrokerOrderStatus.REPLACED
            and order.replaced_by
            and order.replaced_by not in known
            and order.replaced_by not in unknown
        }
        if not successors:
            break
        await asyncio.gather(*(by_id(successor) for successor in successors))
    return looked_up, unknown
