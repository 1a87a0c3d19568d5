"""The plan: from a validated snapshot and its diff, the ordered actions a reconciliation takes,
each with its phase, target, reason, and whether it waits for the operator. Pure: the same
snapshot always yields the same plan, ids included."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from engine.broker.status_map import meaning_of
from engine.domain import (
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    LocalOrder,
    OrderClass,
    OrderRole,
    OrderState,
)
from engine.reconcile.actions import (
    ActionKind,
    Finding,
    Phase,
    Plan,
    PlanAction,
    PlanSettings,
)
from engine.reconcile.circuit_breaker import rebuild_circuit_breaker
from engine.reconcile.diff import (
    STOP_TYPES,
    Diff,
    Match,
    OrderRow,
    PositionRow,
    cover_of,
    open_orders_by_symbol,
)
from engine.reconcile.protection import PositionProtection, ProtectionContext, protect_position
from engine.reconcile.rows import adopted_stop_row, synthetic_entry_row
from engine.reconcile.snapshot import Snapshot
from engine.reconcile.stops import ClientOrderIds, emergency_stop_level


def plan(snapshot: Snapshot, diff: Diff, settings: PlanSettings) -> Plan:
    findings: list[Finding] = []
    state_actions = _state_actions(diff.orders, findings)
    orphan_ids = frozenset(
        row.broker.id for row in diff.orders if row.match is Match.ORPHAN and row.broker
    )
    context = ProtectionContext(
        snapshot=snapshot,
        settings=settings,
        ids=ClientOrderIds(snapshot.broker.orders_by_client_id),
        orphan_ids=orphan_ids,
        local_row_of=_local_row_lookup(snapshot, orphan_ids, state_actions),
    )
    orders_by_symbol = open_orders_by_symbol(snapshot.broker.open_orders)
    protections = [
        protect_position(context, row, orders_by_symbol.get(row.symbol, ()))
        for row in diff.positions
        if row.broker is not None
    ]
    order_actions = _order_phase(snapshot, diff.orders, state_actions, protections, findings)
    position_actions = _position_phase(
        snapshot,
        diff.positions,
        protections,
        order_actions,
        findings,
        _room_to_stop(diff.positions, settings.emergency_stop_pct),
    )
    actions = tuple(
        action.numbered(seq)
        for seq, action in enumerate((*order_actions, *position_actions), start=1)
    )
    breaker = rebuild_circuit_breaker(
        snapshot.local.trades_today,
        start_of_day_equity=snapshot.broker.account.last_equity,
        max_daily_loss_pct=settings.max_daily_loss_pct,
        consecutive_loss_pause=settings.consecutive_loss_pause,
    )
    return Plan(actions=actions, circuit_breaker=breaker, findings=tuple(findings))


# Phase 1 ------------------------------------------------------------------------------------


def _state_actions(rows: tuple[OrderRow, ...], findings: list[Finding]) -> dict[str, PlanAction]:
    """Per local id, the broker state a local order takes."""
    actions = {}
    for row in rows:
        if row.local is not None and row.broker is not None and row.differences:
            action = _state_action(row, row.local, row.broker, findings)
            if action is not None:
                actions[row.local.local_id] = action
    return actions


def _order_phase(
    snapshot: Snapshot,
    rows: tuple[OrderRow, ...],
    state_actions: dict[str, PlanAction],
    protections: list[PositionProtection],
    findings: list[Finding],
) -> list[PlanAction]:
    blocking = {
        order.id: protection.symbol for protection in protections for order in protection.blockers
    }
    take_profit_ids = {
        action.broker_order.id
        for protection in protections
        for action in protection.actions
        if action.kind is ActionKind.OCO_EXIT and action.broker_order is not None
    }
    orphan_groups: dict[str, list[BrokerOrder]] = defaultdict(list)
    for row in rows:
        # A take-profit placed by hand stays, as the limit of an OCO exit: nothing to decide.
        if row.match is Match.ORPHAN and row.broker and row.broker.id not in take_profit_ids:
            orphan_groups[row.broker.group_id or row.broker.id].append(row.broker)
    actions: list[PlanAction] = []
    blocking_groups: set[str] = set()
    for row in rows:
        if row.match is Match.ORPHAN and row.broker is not None:
            # A group is one decision, however many of its legs are listed.
            members = orphan_groups.pop(row.broker.group_id or row.broker.id, None)
            if members:
                action = _orphan_action(snapshot, members, blocking, findings)
                if action is not None:
                    actions.append(action)
        elif row.local is not None and row.broker is None:
            action = _missing_at_broker_action(row.local, findings)
            if action is not None:
                actions.append(action)
        elif row.broker is not None:
            if row.local is not None and row.local.local_id in state_actions:
                actions.append(state_actions[row.local.local_id])
            if row.broker.id in blocking:
                local = None if row.local is None else _after_phase_one(row.local, state_actions)
                blocker = _cancelled_as(snapshot, row.broker)
                if blocker is None:
                    findings.append(_leg_alone(row.broker))
                elif blocker.id not in blocking_groups:
                    blocking_groups.add(blocker.id)
                    actions.append(_blocking_action(blocker, local, blocking[row.broker.id]))
    return actions


def _cancelled_as(snapshot: Snapshot, order: BrokerOrder) -> BrokerOrder | None:
    """The order a cancellation of `order` is sent to: itself, or for a leg of a multi-leg
    option order the whole order, which Alpaca cancels only whole — None where that order is
    not known."""
    if order.order_class is not OrderClass.MLEG or order.id == order.group_id:
        return order
    return snapshot.broker.orders_by_id.get(order.group_id or "")


def _leg_alone(order: BrokerOrder) -> Finding:
    return Finding(
        order.symbol,
        f"{order.describe()} ({order.id[:8]}) is a leg of a multi-leg order the broker did not "
        "list whole; a leg is never cancelled alone; left for the operator",
    )


def _state_action(
    row: OrderRow, local: LocalOrder, broker: BrokerOrder, findings: list[Finding]
) -> PlanAction | None:
    if local.state.is_terminal:
        findings.append(
            Finding(
                local.symbol,
                f"local order {local.local_id} is {local.state} but the broker still works "
                f"{broker.id} ({broker.status}); left for the operator",
            )
        )
        return None
    new_state = meaning_of(broker.status).local_state
    if local.broker_id is None:
        kind = ActionKind.ADOPT_SUBMITTED
        reason = f"the broker holds client_order_id {local.client_order_id} as {broker.id}"
        new_state = new_state or OrderState.SUBMITTED
    elif row.replaced:
        kind = ActionKind.FOLLOW_REPLACEMENT
        reason = f"{local.broker_id} was replaced; its successor {broker.id} is {broker.status}"
    elif new_state is None:
        return None  # a transient broker status changes nothing
    else:
        kind = ActionKind.TAKE_BROKER_STATE
        reason = f"the broker reports {broker.status}"
    flags: tuple[str, ...] = ()
    if broker.status is BrokerOrderStatus.FILLED and broker.filled_avg_price is None:
        flags = ("filled without fill price",)
        findings.append(
            Finding(
                broker.symbol,
                f"CRITICAL: broker order {broker.id} ({broker.symbol}) is filled without a fill "
                "price; state forced, price left empty",
                lasting=True,
            )
        )
    return PlanAction(
        seq=0,
        phase=Phase.ORDERS,
        kind=kind,
        symbol=local.symbol,
        target=local.local_id,
        reason=reason,
        local_order=local,
        broker_order=broker,
        new_state=new_state,
        flags=flags,
    )


def _missing_at_broker_action(local: LocalOrder, findings: list[Finding]) -> PlanAction | None:
    if local.broker_id is None:
        return PlanAction(
            seq=0,
            phase=Phase.ORDERS,
            kind=ActionKind.MARK_SUBMIT_FAILED,
            symbol=local.symbol,
            target=local.local_id,
            reason=f"never reached the broker (no order with client_order_id "
            f"{local.client_order_id})",
            local_order=local,
            new_state=OrderState.SUBMIT_FAILED,
        )
    findings.append(
        Finding(
            local.symbol,
            f"local order {local.local_id} names broker order {local.broker_id}, which the "
            "broker does not know; left unchanged",
        )
    )
    return None


def _orphan_action(
    snapshot: Snapshot,
    members: list[BrokerOrder],
    blocking: dict[str, str],
    findings: list[Finding],
) -> PlanAction | None:
    """An order nobody here placed, or a group of them: adopted if it covers a position,
    otherwise proposed for cancellation, once for a whole group."""
    first = members[0]
    position = snapshot.broker.positions_by_symbol.get(first.symbol)
    covering = cover_of(position, tuple(members)).stops if position is not None else ()
    if position is not None and covering:
        return _adoption(snapshot, position, members, covering[0])
    head = next((member for member in members if member.id == member.group_id), first)
    target = _cancelled_as(snapshot, head)
    if target is None:
        findings.append(_leg_alone(head))
        return None
    if first.group_id is None:
        reason = f"{first.describe()} is open on the broker with no local order"
        if first.order_type in STOP_TYPES:
            reason += (
                ", a stop with no position to protect"
                if position is None
                else f", a stop that does not close the {position.side} position"
            )
    else:
        reason = (
            f"{first.order_class} group open on the broker with no local order: "
            f"{_legs(members)}; cancelling one leg cancels the whole group"
        )
    blocked = next((blocking[member.id] for member in members if member.id in blocking), None)
    if blocked is not None:
        reason += f"; it blocks {_stop_blocked_note(blocked, target)}"
    return PlanAction(
        seq=0,
        phase=Phase.ORDERS,
        kind=ActionKind.CANCEL_ORPHAN,
        symbol=first.symbol,
        target=target.id,
        reason=reason,
        needs_decision=True,
        broker_order=target,
    )


def _adoption(
    snapshot: Snapshot, position: BrokerPosition, members: list[BrokerOrder], stop: BrokerOrder
) -> PlanAction:
    if stop.group_id is None:
        return PlanAction(
            seq=0,
            phase=Phase.ORDERS,
            kind=ActionKind.ADOPT_ORPHAN_STOP,
            symbol=stop.symbol,
            target=stop.id,
            reason=f"{stop.describe()} on the broker protects the {position.side} position; "
            "recorded locally as its stop",
            broker_order=stop,
            new_row=adopted_stop_row(snapshot, stop),
        )
    return PlanAction(
        seq=0,
        phase=Phase.ORDERS,
        kind=ActionKind.ADOPT_ORPHAN_GROUP,
        symbol=stop.symbol,
        target=stop.id,
        reason=f"{stop.order_class} group on the broker protects the {position.side} position: "
        f"{_legs(members)}; adopted whole, its stop leg recorded locally as the position's stop",
        broker_order=stop,
        new_row=adopted_stop_row(snapshot, stop),
    )


def _blocking_action(order: BrokerOrder, local: LocalOrder | None, symbol: str) -> PlanAction:
    known = f"local order {local.local_id}" if local is not None else "a leg of a known group"
    return PlanAction(
        seq=0,
        phase=Phase.ORDERS,
        kind=ActionKind.CANCEL_BLOCKING_ORDER,
        symbol=order.symbol,
        target=order.id,
        reason=f"blocks {_stop_blocked_note(symbol, order)}: {order.describe()} ({known})",
        needs_decision=True,
        local_order=local,
        broker_order=order,
    )


def _stop_blocked_note(symbol: str, order: BrokerOrder) -> str:
    return f"{symbol}'s stop: Alpaca refuses a stop while this {order.side} is open"


def _legs(members: list[BrokerOrder]) -> str:
    return " + ".join(f"{member.describe()} ({member.status})" for member in members)


def _local_row_lookup(
    snapshot: Snapshot, orphan_ids: frozenset[str], state_actions: dict[str, PlanAction]
) -> Callable[[BrokerOrder], LocalOrder | None]:
    """The local row that speaks for a broker order once phase 1 is done: the row naming it,
    or the row an orphan stop is adopted as."""
    by_broker_id = {
        row.broker_id: row for row in snapshot.local.all_orders.values() if row.broker_id
    }

    def local_row_of(order: BrokerOrder) -> LocalOrder | None:
        known = by_broker_id.get(order.id)
        if known is not None:
            return _after_phase_one(known, state_actions)
        return adopted_stop_row(snapshot, order) if order.id in orphan_ids else None

    return local_row_of


def _after_phase_one(local: LocalOrder, state_actions: dict[str, PlanAction]) -> LocalOrder:
    """A local row as it will stand once phase 1 has given it the broker's state."""
    action = state_actions.get(local.local_id)
    if action is None or action.new_state is None:
        return local
    return replace(local, state=action.new_state)


# Phase 2 ------------------------------------------------------------------------------------


def _position_phase(
    snapshot: Snapshot,
    rows: tuple[PositionRow, ...],
    protections: list[PositionProtection],
    order_actions: list[PlanAction],
    findings: list[Finding],
    room_to_stop: dict[str, Decimal],
) -> list[PlanAction]:
    filling_entries = {
        action.symbol
        for action in order_actions
        if action.local_order is not None
        and action.local_order.order_role is OrderRole.ENTRY
        and action.new_state in (OrderState.FILLED, OrderState.PARTIALLY_FILLED)
    }
    protecting: list[PlanAction] = []
    for protection in protections:
        protecting.extend(protection.actions)
        findings.extend(protection.findings)
    # Riskiest first, for when the rate limit cannot send them all at once: the position
    # nearest its stop level, then the largest exposure. Stable: a symbol's GTC stop before its
    # DAY remainder.
    protecting.sort(
        key=lambda action: (
            room_to_stop.get(action.symbol, Decimal(1)),
            -action.exposure,
            action.symbol,
        )
    )
    entries = [
        _synthetic_entry(snapshot, row.broker)
        for row in rows
        if row.broker is not None and row.local_side is None and row.symbol not in filling_entries
    ]
    return [*protecting, *(entry for entry in entries if entry is not None)]


def _room_to_stop(rows: tuple[PositionRow, ...], stop_pct: Decimal) -> dict[str, Decimal]:
    """How far each position's price is from its emergency stop level, as a fraction of the
    price: the smaller, the sooner a fall takes it there."""
    room = {}
    for row in rows:
        position = row.broker
        if position is None or position.current_price <= 0:
            continue
        level = emergency_stop_level(
            position.side, position.avg_entry_price, position.current_price, stop_pct
        )
        room[row.symbol] = abs(position.current_price - level.price) / position.current_price
    return room


def _synthetic_entry(snapshot: Snapshot, position: BrokerPosition) -> PlanAction | None:
    row = synthetic_entry_row(snapshot, position)
    if row.local_id in snapshot.local.all_orders:
        return None  # added by an earlier run today
    return PlanAction(
        seq=0,
        phase=Phase.POSITIONS,
        kind=ActionKind.SYNTHETIC_ENTRY,
        symbol=position.symbol,
        target=row.local_id,
        reason=f"the broker holds {position.qty} {position.side} with no local entry",
        new_row=row,
    )
