"""What differs between the local book and the broker, row by row, as the console draws it side
by side: orders matched by broker id (or client_order_id, following replacements), positions by
symbol, each differing field named. Pure: no I/O, no clock."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from engine.broker.status_map import meaning_of
from engine.domain import (
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    LocalOrder,
    OrderRole,
    OrderState,
    OrderType,
    PositionSide,
    Side,
)
from engine.reconcile.snapshot import BrokerSnapshot, LocalSnapshot, Snapshot

STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})
EXIT_ROLES = frozenset({OrderRole.STOP_LOSS, OrderRole.EXIT_MARKET})
# A replacement chain longer than this is a broker bug, not a history.
MAX_REPLACEMENTS = 50


class Match(StrEnum):
    MATCHED = "matched"
    DIVERGED = "diverged"
    ORPHAN = "orphan"  # the broker has it, nobody here knows it
    MISSING_AT_BROKER = "missing at broker"  # we have it, the broker does not
    # A leg of a bracket or OCO group another of whose legs is known here: it lives and dies
    # with that leg, so it is nobody's orphan.
    GROUP_LEG = "group leg"


class Protection(StrEnum):
    UNPROTECTED = "UNPROTECTED"
    STOP_PENDING = "STOP PENDING"
    PROTECTED = "PROTECTED"


@dataclass(frozen=True, slots=True)
class FieldDifference:
    field: str
    local: str
    broker: str


@dataclass(frozen=True, slots=True)
class OrderRow:
    match: Match
    symbol: str
    local: LocalOrder | None
    broker: BrokerOrder | None  # as it stands now: the successor if the order was replaced
    replaced: tuple[BrokerOrder, ...]  # the chain followed to reach `broker`, oldest first
    differences: tuple[FieldDifference, ...]


@dataclass(frozen=True, slots=True)
class PositionRow:
    match: Match
    symbol: str
    broker: BrokerPosition | None
    local_side: PositionSide | None
    local_qty: Decimal  # open quantity of the local round trips, positive
    stops: tuple[BrokerOrder, ...]  # open closing-side broker stops covering its shares
    # The other open legs of the groups those stops belong to (a bracket's or OCO's take-profit):
    # one protection with them.
    group_legs: tuple[BrokerOrder, ...]
    covered_qty: Decimal
    uncovered_qty: Decimal
    protection: Protection
    differences: tuple[FieldDifference, ...]


@dataclass(frozen=True, slots=True)
class Diff:
    orders: tuple[OrderRow, ...]
    positions: tuple[PositionRow, ...]

    def order_counts(self) -> dict[Match, int]:
        return _count(row.match for row in self.orders)

    def position_counts(self) -> dict[Match, int]:
        return _count(row.match for row in self.positions)


def diff(snapshot: Snapshot) -> Diff:
    broker, local = snapshot.broker, snapshot.local
    orders = _order_rows(broker, local)
    return Diff(orders=orders, positions=_position_rows(broker, local))


def follow_replacements(
    order: BrokerOrder, orders_by_id: dict[str, BrokerOrder]
) -> tuple[BrokerOrder, tuple[BrokerOrder, ...]]:
    """The live successor of a replaced order, and the chain that led there. Stops at the last
    order the snapshot knows."""
    chain: list[BrokerOrder] = []
    while (
        order.status is BrokerOrderStatus.REPLACED
        and order.replaced_by in orders_by_id
        and len(chain) < MAX_REPLACEMENTS
    ):
        chain.append(order)
        order = orders_by_id[order.replaced_by or ""]
    return order, tuple(chain)


def broker_order_for(
    local: LocalOrder, broker: BrokerSnapshot
) -> tuple[BrokerOrder | None, tuple[BrokerOrder, ...]]:
    found = None
    if local.broker_id:
        found = broker.orders_by_id.get(local.broker_id)
    elif local.client_order_id:
        found = broker.orders_by_client_id.get(local.client_order_id)
    if found is None:
        return None, ()
    return follow_replacements(found, broker.orders_by_id)


def order_differences(local: LocalOrder, order: BrokerOrder) -> tuple[FieldDifference, ...]:
    broker_state = meaning_of(order.status).local_state
    pairs: list[tuple[str, object, object]] = [
        ("broker_id", local.broker_id, order.id),
        ("qty", local.qty_requested, order.qty),
        ("qty_filled", local.qty_filled, order.filled_qty),
        ("avg_fill_price", local.avg_fill_price, order.filled_avg_price),
        ("stop_price", local.stop_price, order.stop_price),
        ("limit_price", local.limit_price, order.limit_price),
    ]
    # A transient broker status says nothing about the local state yet.
    if broker_state is not None:
        pairs.insert(0, ("state", local.state, broker_state))
    return tuple(
        FieldDifference(name, _shown(mine), _shown(theirs))
        for name, mine, theirs in pairs
        if mine != theirs and not (name == "state" and _same_state(local.state, order))
    )


def is_protective_stop(order: BrokerOrder, side: PositionSide) -> bool:
    """An open stop on the side that closes the position."""
    return (
        order.order_type in STOP_TYPES
        and order.side is side.closing_side
        and meaning_of(order.status).is_open
    )


def open_round_trip_qty(orders: Iterable[LocalOrder]) -> dict[str, tuple[PositionSide, Decimal]]:
    """Per symbol, the side and quantity of local round trips whose entry filled and whose exits
    have not yet closed it: what the trading engine believes it holds."""
    by_correlation: dict[str, list[LocalOrder]] = defaultdict(list)
    for order in orders:
        by_correlation[order.correlation_id].append(order)
    signed: dict[str, Decimal] = defaultdict(Decimal)
    for rows in by_correlation.values():
        for order in rows:
            if order.order_role is OrderRole.ENTRY and order.qty_filled > 0:
                sign = 1 if order.side is Side.BUY else -1
                signed[order.symbol] += sign * order.qty_filled
            elif order.order_role in EXIT_ROLES and order.qty_filled > 0:
                sign = -1 if order.side is Side.SELL else 1
                signed[order.symbol] += sign * order.qty_filled
    return {
        symbol: (PositionSide.LONG if qty > 0 else PositionSide.SHORT, abs(qty))
        for symbol, qty in signed.items()
        if qty != 0
    }


def _order_rows(broker: BrokerSnapshot, local: LocalSnapshot) -> tuple[OrderRow, ...]:
    rows: list[OrderRow] = []
    claimed: set[str] = set()
    for mine in local.open_orders:
        found, chain = broker_order_for(mine, broker)
        if found is None:
            rows.append(OrderRow(Match.MISSING_AT_BROKER, mine.symbol, mine, None, (), ()))
            continue
        claimed.update(link.id for link in (*chain, found))
        differences = order_differences(mine, found)
        match = Match.DIVERGED if differences else Match.MATCHED
        rows.append(OrderRow(match, mine.symbol, mine, found, chain, differences))

    by_broker_id: dict[str, LocalOrder] = {}
    by_client_id: dict[str, LocalOrder] = {}
    for row in local.all_orders.values():
        if row.broker_id:
            by_broker_id[row.broker_id] = row
        if row.client_order_id:
            by_client_id[row.client_order_id] = row
    known_groups = {
        order.group_id
        for order in broker.open_orders
        if order.group_id
        and (
            order.id in claimed or order.id in by_broker_id or order.client_order_id in by_client_id
        )
    }
    for order in broker.open_orders:
        if order.id in claimed:
            continue
        known = by_broker_id.get(order.id) or by_client_id.get(order.client_order_id)
        if known is None:
            match = Match.GROUP_LEG if order.group_id in known_groups else Match.ORPHAN
            rows.append(OrderRow(match, order.symbol, None, order, (), ()))
        else:
            # A row the engine closed while the broker still works the order.
            rows.append(
                OrderRow(
                    Match.DIVERGED,
                    order.symbol,
                    known,
                    order,
                    (),
                    order_differences(known, order),
                )
            )
    return tuple(rows)


def _position_rows(broker: BrokerSnapshot, local: LocalSnapshot) -> tuple[PositionRow, ...]:
    local_positions = open_round_trip_qty(local.position_orders)
    orders_by_symbol = open_orders_by_symbol(broker.open_orders)
    rows = []
    for symbol in sorted(broker.positions_by_symbol.keys() | local_positions.keys()):
        position = broker.positions_by_symbol.get(symbol)
        local_side, local_qty = local_positions.get(symbol, (None, Decimal(0)))
        if position is None:
            rows.append(
                PositionRow(
                    Match.MISSING_AT_BROKER,
                    symbol,
                    None,
                    local_side,
                    local_qty,
                    (),
                    (),
                    Decimal(0),
                    Decimal(0),
                    Protection.PROTECTED,
                    (FieldDifference("qty", _shown(local_qty), "0"),),
                )
            )
            continue
        orders = orders_by_symbol.get(symbol, ())
        cover = cover_of(position, orders)
        differences = tuple(
            FieldDifference(name, _shown(mine), _shown(theirs))
            for name, mine, theirs in (
                ("side", local_side, position.side),
                ("qty", local_qty, position.qty),
            )
            if mine != theirs
        )
        if local_side is None:
            match = Match.ORPHAN
        else:
            match = Match.DIVERGED if differences else Match.MATCHED
        rows.append(
            PositionRow(
                match,
                symbol,
                position,
                local_side,
                local_qty,
                cover.stops,
                cover.group_legs,
                cover.total_qty,
                max(position.qty - cover.total_qty, Decimal(0)),
                cover.protection,
                differences,
            )
        )
    return tuple(rows)


@dataclass(frozen=True, slots=True)
class Cover:
    """The stops covering one position's shares, as the broker holds them."""

    position: BrokerPosition
    stops: tuple[BrokerOrder, ...]
    group_legs: tuple[BrokerOrder, ...]
    working_qty: Decimal  # covered by stops the broker reports working
    total_qty: Decimal  # covered by stops working or not yet confirmed

    @property
    def protection(self) -> Protection:
        """Protected only when working stops cover every share; covered by stops not yet
        confirmed working is pending."""
        if self.working_qty >= self.position.qty:
            return Protection.PROTECTED
        if self.total_qty >= self.position.qty:
            return Protection.STOP_PENDING
        return Protection.UNPROTECTED


def cover_of(position: BrokerPosition, orders: tuple[BrokerOrder, ...]) -> Cover:
    """`orders` are the broker's open orders in the position's symbol. A stop leg whose group's
    entry is still open covers shares yet to come, not these; a `held` stop leg works once its
    take-profit sibling does, since the broker triggers it itself."""
    closing = position.side.closing_side
    entry_pending = {order.group_id for order in orders if order.group_id and order.side != closing}
    stops = tuple(
        order
        for order in orders
        if is_protective_stop(order, position.side)
        and (order.group_id is None or order.group_id not in entry_pending)
    )
    groups = {stop.group_id for stop in stops if stop.group_id}
    group_legs = (
        tuple(
            order
            for order in orders
            if order.group_id in groups and order.order_type not in STOP_TYPES
        )
        if groups
        else ()
    )
    working = sum(
        (stop.remaining_qty for stop in stops if _is_working(stop, group_legs)), Decimal(0)
    )
    return Cover(
        position,
        stops,
        group_legs,
        working_qty=working,
        total_qty=sum((stop.remaining_qty for stop in stops), Decimal(0)),
    )


def open_orders_by_symbol(orders: Iterable[BrokerOrder]) -> dict[str, tuple[BrokerOrder, ...]]:
    by_symbol: dict[str, list[BrokerOrder]] = defaultdict(list)
    for order in orders:
        by_symbol[order.symbol].append(order)
    return {symbol: tuple(listed) for symbol, listed in by_symbol.items()}


def _is_working(stop: BrokerOrder, group_legs: tuple[BrokerOrder, ...]) -> bool:
    if meaning_of(stop.status).protects:
        return True
    return stop.status is BrokerOrderStatus.HELD and any(
        leg.group_id == stop.group_id and leg.side is stop.side and meaning_of(leg.status).protects
        for leg in group_legs
    )


def _same_state(state: OrderState, order: BrokerOrder) -> bool:
    # `submitted` locally and `new`/`accepted` at the broker say the same thing.
    return state is OrderState.SUBMITTED and meaning_of(order.status).local_state in (
        OrderState.ACCEPTED,
        None,
    )


def _shown(value: object) -> str:
    return "—" if value is None else str(value)


def _count(matches: Iterable[Match]) -> dict[Match, int]:
    counts = dict.fromkeys(Match, 0)
    for match in matches:
        counts[match] += 1
    return counts
