"""Phase 2 for one position: what it takes, under Alpaca's own rules, for stops to cover exactly
its shares — plain stops on the shares free to take one, an OCO exit on the shares a kept
take-profit holds, the surplus taken off stops that cover more than it holds, and the orders on
the other side that must go before a plain stop can. Pure, like the plan it belongs to."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from engine.broker.status_map import meaning_of
from engine.domain import (
    AssetClass,
    BrokerOrder,
    BrokerPosition,
    LocalOrder,
    NewOrder,
    OrderClass,
    OrderType,
    TimeInForce,
)
from engine.reconcile.actions import ActionKind, Finding, Phase, PlanAction, PlanSettings
from engine.reconcile.asset_rules import AssetRules, rules_for
from engine.reconcile.diff import PositionRow
from engine.reconcile.rows import recon_stop_row
from engine.reconcile.snapshot import Snapshot
from engine.reconcile.stops import ClientOrderIds, StopLevel, emergency_stop_level

# Alpaca takes OCO exits only for the day or until canceled.
OCO_TIMES_IN_FORCE = frozenset({TimeInForce.DAY, TimeInForce.GTC})


@dataclass(frozen=True, slots=True)
class PositionProtection:
    symbol: str
    actions: tuple[PlanAction, ...]
    # Open orders on the other side that the plain stops wait on: each needs the operator's
    # word before it is cancelled.
    blockers: tuple[BrokerOrder, ...]
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class ProtectionContext:
    """What planning one position needs beyond the position itself."""

    snapshot: Snapshot
    settings: PlanSettings
    ids: ClientOrderIds
    orphan_ids: frozenset[str]
    # The local row that speaks for a broker order once phase 1 is done (an adopted orphan's
    # included), or None.
    local_row_of: Callable[[BrokerOrder], LocalOrder | None]


def protect_position(
    context: ProtectionContext, row: PositionRow, orders: tuple[BrokerOrder, ...]
) -> PositionProtection:
    """`orders` are the broker's open orders in the position's symbol."""
    position = row.broker
    if position is None:
        return PositionProtection(row.symbol, (), (), ())
    actions: list[PlanAction] = []
    findings: list[Finding] = []
    rules = rules_for(
        position, context.snapshot.broker.assets, context.settings.crypto_stop_limit_pct
    )
    if isinstance(rules, str):
        findings.append(
            Finding(position.symbol, f"{position.instrument()}: {rules}; nothing sent for it")
        )
        return PositionProtection(position.symbol, (), (), tuple(findings))
    covered = row.covered_qty
    if covered > position.qty:
        covered = _reduce_surplus(context, position, row, actions, findings)
    uncovered = position.qty - covered
    if uncovered <= 0:
        return PositionProtection(position.symbol, tuple(actions), (), tuple(findings))

    holders = _share_holders(position, row, orders)
    take_profits = tuple(
        order for order in holders if rules.takes_oco and _is_take_profit(order, context.orphan_ids)
    )
    others = tuple(order for order in holders if order not in take_profits)
    held_by_others = _held_qty(others)
    free_qty = position.qty - covered - _held_qty(take_profits) - held_by_others
    stop_qty = min(uncovered, max(free_qty, Decimal(0)))
    level = emergency_stop_level(
        position.side,
        position.avg_entry_price,
        position.current_price,
        context.settings.emergency_stop_pct,
        rules.tick,
    )
    if level.price <= 0:
        # A long priced under a hundredth of a cent rounds its stop down to nothing: such a
        # stop protects nothing, and no price recon could choose would be the one asked for.
        findings.append(
            Finding(
                position.symbol,
                f"{position.symbol}: its emergency stop would be {level.price}; priced too "
                "low to protect; left for the operator",
            )
        )
        return PositionProtection(position.symbol, tuple(actions), (), tuple(findings))
    blockers = _other_side(position, orders) if stop_qty > 0 and rules.wash_trade_rule else ()
    stops, problem = _emergency_stops(
        context, position, rules, uncovered, stop_qty, level, blockers
    )
    actions.extend(stops)
    if problem is not None:
        findings.append(Finding(position.symbol, f"{position.instrument()}: {problem}"))
    actions.extend(_oco_exit(context, position, take_profit, level) for take_profit in take_profits)
    if held_by_others > 0:
        findings.append(
            Finding(
                position.symbol,
                f"{position.symbol}: {held_by_others} of {position.qty} shares are held by "
                f"{_listed(others)}; Alpaca takes no stop on them while it is open",
            )
        )
    return PositionProtection(position.symbol, tuple(actions), blockers, tuple(findings))


def _share_holders(
    position: BrokerPosition, row: PositionRow, orders: Iterable[BrokerOrder]
) -> tuple[BrokerOrder, ...]:
    """Open orders on the closing side that hold shares a stop would need, other than the stops
    that cover the position and the legs grouped with them (which hold the same shares)."""
    closing = position.side.closing_side
    covering = {stop.group_id for stop in row.stops if stop.group_id} | {
        stop.id for stop in row.stops
    }
    entry_pending = {
        order.group_id for order in orders if order.group_id and order.side is not closing
    }
    return tuple(
        order
        for order in orders
        if order.side is closing
        and meaning_of(order.status).is_open
        and order.id not in covering
        and order.group_id not in covering
        and order.group_id not in entry_pending
    )


def _is_take_profit(order: BrokerOrder, orphan_ids: frozenset[str]) -> bool:
    """A working limit placed by hand that an OCO exit can take over: same limit, whole shares,
    a time in force an OCO accepts."""
    return (
        order.id in orphan_ids
        and order.order_class is OrderClass.SIMPLE
        and order.order_type is OrderType.LIMIT
        and order.limit_price is not None
        and order.time_in_force in OCO_TIMES_IN_FORCE
        and order.remaining_qty == order.remaining_qty.to_integral_value()
        and meaning_of(order.status).protects
    )


def _held_qty(orders: Iterable[BrokerOrder]) -> Decimal:
    """Shares held by open orders, a group's legs counted once as the broker counts them."""
    by_group: dict[str, Decimal] = {}
    for order in orders:
        key = order.group_id or order.id
        by_group[key] = max(by_group.get(key, Decimal(0)), order.remaining_qty)
    return sum(by_group.values(), Decimal(0))


def _other_side(position: BrokerPosition, orders: Iterable[BrokerOrder]) -> tuple[BrokerOrder, ...]:
    """Open orders on the other side of the symbol: while any is open Alpaca refuses a market
    or stop order as a potential wash trade. Trailing stops are exempt from that rule."""
    return tuple(
        order
        for order in orders
        if order.side is not position.side.closing_side
        and meaning_of(order.status).is_open
        and order.order_type is not OrderType.TRAILING_STOP
    )


def _emergency_stops(
    context: ProtectionContext,
    position: BrokerPosition,
    rules: AssetRules,
    uncovered: Decimal,
    qty: Decimal,
    level: StopLevel,
    blockers: tuple[BrokerOrder, ...],
) -> tuple[list[PlanAction], str | None]:
    """The stops on `qty` of the position, and what of it no stop can take, if anything."""
    snapshot = context.snapshot
    side = position.side.closing_side
    actions = []
    pieces, problem = rules.slices(qty)
    order_type = rules.order_type
    limit_price = rules.limit_price(level, position.side)
    terms = f"at {level.price}" if limit_price is None else f"at {level.price} limit {limit_price}"
    for piece in pieces:
        client_order_id = context.ids.next(
            "stop", position.symbol, side, piece.time_in_force, snapshot.trading_day
        )
        flags = []
        if piece.is_fractional:
            flags.append("fractional remainder: DAY stop, renew tomorrow")
        if level.rebased_on_current_price:
            flags.append("entry-based level already through the market: based on current price")
        if blockers:
            flags.append(f"waits for {_listed(blockers)} to be cancelled")
        actions.append(
            PlanAction(
                seq=0,
                phase=Phase.POSITIONS,
                kind=ActionKind.EMERGENCY_STOP,
                symbol=position.symbol,
                target=client_order_id,
                reason=f"{uncovered} of {position.qty} {position.side} {_units(rules)} have no "
                f"stop; {side} {order_type} {piece.qty} {terms}",
                new_order=NewOrder(
                    client_order_id=client_order_id,
                    symbol=position.symbol,
                    side=side,
                    qty=piece.qty,
                    order_type=order_type,
                    time_in_force=piece.time_in_force,
                    stop_price=level.price,
                    limit_price=limit_price,
                    asset_class=rules.asset_class,
                ),
                new_row=recon_stop_row(snapshot, client_order_id, position, piece.qty, order_type),
                exposure=uncovered * position.current_price * rules.multiplier,
                flags=tuple(flags),
                blocked_by=blockers,
            )
        )
    return actions, problem


def _units(rules: AssetRules) -> str:
    match rules.asset_class:
        case AssetClass.US_OPTION:
            return "contracts"
        case AssetClass.CRYPTO:
            return "units"
        case _:
            return "shares"


def _oco_exit(
    context: ProtectionContext,
    position: BrokerPosition,
    take_profit: BrokerOrder,
    level: StopLevel,
) -> PlanAction:
    """The take-profit's shares cannot take a plain stop, so the take-profit is cancelled and
    placed again as an OCO exit at the same limit, the emergency stop its other leg. An OCO is
    exempt from the wash-trade rule."""
    snapshot = context.snapshot
    side = position.side.closing_side
    qty = take_profit.remaining_qty
    day = snapshot.trading_day
    oco_id = context.ids.next("oco", position.symbol, side, take_profit.time_in_force, day)
    return PlanAction(
        seq=0,
        phase=Phase.POSITIONS,
        kind=ActionKind.OCO_EXIT,
        symbol=position.symbol,
        target=oco_id,
        reason=f"{take_profit.describe()} ({take_profit.id[:8]}) holds {qty} of {position.qty} "
        f"shares, so no plain stop can take them; replaced by an OCO exit {side} {qty}: "
        f"take-profit {take_profit.limit_price} kept, stop at {level.price}",
        broker_order=take_profit,
        new_order=NewOrder(
            client_order_id=oco_id,
            symbol=position.symbol,
            side=side,
            qty=qty,
            order_type=OrderType.LIMIT,
            time_in_force=take_profit.time_in_force,
            stop_price=level.price,
            limit_price=take_profit.limit_price,
            order_class=OrderClass.OCO,
        ),
        new_row=recon_stop_row(snapshot, oco_id, position, qty),
        exposure=qty * position.current_price,
    )


def _reduce_surplus(
    context: ProtectionContext,
    position: BrokerPosition,
    row: PositionRow,
    actions: list[PlanAction],
    findings: list[Finding],
) -> Decimal:
    """Stops for more shares than the position holds would, triggered, open a position the
    other way: the surplus comes off the newest stops first, by a replace with the smaller
    quantity, or by a cancel where every share of a stop is surplus. Alpaca replaces whole
    shares only, so a fraction more may come off (and a stop then covers it again), and only
    the prices of bracket and OCO legs, which are left for the operator. Returns the cover
    that is left."""
    surplus = row.covered_qty - position.qty
    newest_first = sorted(
        (stop for stop in row.stops if stop.order_class is OrderClass.SIMPLE),
        key=lambda stop: (stop.submitted_at, stop.id),
        reverse=True,
    )
    for stop in newest_first:
        if surplus <= 0:
            break
        new_qty = (stop.qty - min(surplus, stop.remaining_qty)).to_integral_value(ROUND_DOWN)
        if new_qty > stop.filled_qty:
            surplus -= stop.qty - new_qty
            actions.append(_surplus_action(context, position, row, stop, new_qty))
        else:
            surplus -= stop.remaining_qty
            actions.append(_surplus_action(context, position, row, stop, None))
    if surplus > 0:
        findings.append(
            Finding(
                position.symbol,
                f"{position.symbol}: stops cover {row.covered_qty} of {position.qty} shares; "
                f"{surplus} surplus shares sit on bracket or OCO legs, whose quantity Alpaca "
                "does not replace; left for the operator",
            )
        )
    return position.qty + surplus


def _surplus_action(
    context: ProtectionContext,
    position: BrokerPosition,
    row: PositionRow,
    stop: BrokerOrder,
    new_qty: Decimal | None,
) -> PlanAction:
    """A replace by a stop for `new_qty` shares, or a cancel where `new_qty` is None."""
    covered = f"stops cover {row.covered_qty} of {position.qty} shares"
    if new_qty is None:
        replacement = None
        target = stop.id
        reason = (
            f"{covered}; {stop.describe()} ({stop.id[:8]}) covers only surplus shares: cancelled"
        )
    else:
        target = context.ids.next(
            "trim",
            position.symbol,
            stop.side,
            stop.time_in_force,
            context.snapshot.trading_day,
        )
        replacement = NewOrder(
            client_order_id=target,
            symbol=position.symbol,
            side=stop.side,
            qty=new_qty,
            order_type=stop.order_type,
            time_in_force=stop.time_in_force,
            stop_price=stop.stop_price,
            limit_price=stop.limit_price,
        )
        reason = (
            f"{covered}; {stop.describe()} ({stop.id[:8]}) replaced by one for {new_qty} "
            "(newest stop first)"
        )
    return PlanAction(
        seq=0,
        phase=Phase.POSITIONS,
        kind=ActionKind.REDUCE_SURPLUS_STOP,
        symbol=position.symbol,
        target=target,
        reason=reason,
        local_order=context.local_row_of(stop),
        broker_order=stop,
        new_order=replacement,
    )


def _listed(orders: Iterable[BrokerOrder]) -> str:
    return ", ".join(f"{order.describe()} ({order.id[:8]})" for order in orders)
