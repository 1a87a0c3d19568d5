"""The plan: from a validated snapshot and its diff, the ordered actions a reconciliation takes,
each with its phase, target, reason, and whether it waits for the operator. Pure: the same
snapshot always yields the same plan, ids included."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from engine.broker.status_map import meaning_of
from engine.domain import (
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    LocalOrder,
    NewOrder,
    OrderRole,
    OrderState,
    OrderType,
    PositionSide,
    Side,
)
from engine.reconcile.circuit_breaker import CircuitBreakerState, rebuild_circuit_breaker
from engine.reconcile.diff import (
    STOP_TYPES,
    Diff,
    Match,
    OrderRow,
    PositionRow,
    is_protective_stop,
)
from engine.reconcile.snapshot import Snapshot
from engine.reconcile.stops import (
    client_order_id_prefix,
    emergency_stop_level,
    recon_client_order_id,
    slices_for,
)

SYNTHETIC_STRATEGY = "unknown"


class Phase(StrEnum):
    """The stages a run goes through, as the console's progress panes show them. Plan actions
    belong to the last three; fetching has none."""

    FETCH = "fetch"
    ORDERS = "orders"
    POSITIONS = "positions"
    CIRCUIT_BREAKER = "circuit_breaker"


class ActionKind(StrEnum):
    TAKE_BROKER_STATE = "take_broker_state"
    FOLLOW_REPLACEMENT = "follow_replacement"
    ADOPT_SUBMITTED = "adopt_submitted"
    MARK_SUBMIT_FAILED = "mark_submit_failed"
    ADOPT_ORPHAN_STOP = "adopt_orphan_stop"
    CANCEL_ORPHAN = "cancel_orphan"
    EMERGENCY_STOP = "emergency_stop"
    SYNTHETIC_ENTRY = "synthetic_entry"


@dataclass(frozen=True, slots=True)
class PlanSettings:
    emergency_stop_pct: Decimal
    max_daily_loss_pct: Decimal
    consecutive_loss_pause: int


@dataclass(frozen=True, slots=True)
class PlanAction:
    """One step. Which payload fields are set depends on `kind`: a state change names the
    `local_order` and its `new_state` from `broker_order`; an insert carries `new_row`; a
    submission carries `new_order`; a cancellation names the orphan in `broker_order`."""

    seq: int
    phase: Phase
    kind: ActionKind
    symbol: str
    target: str
    reason: str
    needs_decision: bool = False
    local_order: LocalOrder | None = None
    broker_order: BrokerOrder | None = None
    new_state: OrderState | None = None
    new_row: LocalOrder | None = None
    new_order: NewOrder | None = None
    exposure: Decimal = Decimal(0)
    flags: tuple[str, ...] = ()

    def numbered(self, seq: int) -> PlanAction:
        # Spelled out rather than dataclasses.replace: a 10,000-order book numbers thousands
        # of actions, and replace's introspection was most of the planning time.
        return PlanAction(
            seq,
            self.phase,
            self.kind,
            self.symbol,
            self.target,
            self.reason,
            self.needs_decision,
            self.local_order,
            self.broker_order,
            self.new_state,
            self.new_row,
            self.new_order,
            self.exposure,
            self.flags,
        )


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[PlanAction, ...]
    circuit_breaker: CircuitBreakerState
    # Problems seen while planning that no action can fix; each becomes a reported error.
    findings: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.actions

    def in_phase(self, phase: Phase) -> tuple[PlanAction, ...]:
        return tuple(action for action in self.actions if action.phase is phase)


def plan(snapshot: Snapshot, diff: Diff, settings: PlanSettings) -> Plan:
    findings: list[str] = []
    order_actions = _order_phase(snapshot, diff.orders, findings)
    position_actions = _position_phase(snapshot, diff.positions, order_actions, settings, findings)
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


def _order_phase(
    snapshot: Snapshot, rows: tuple[OrderRow, ...], findings: list[str]
) -> list[PlanAction]:
    actions: list[PlanAction] = []
    for row in rows:
        if row.match is Match.ORPHAN and row.broker is not None:
            actions.append(_orphan_action(snapshot, row.broker))
        elif row.local is not None and row.broker is None:
            action = _missing_at_broker_action(row.local, findings)
            if action is not None:
                actions.append(action)
        elif row.local is not None and row.broker is not None and row.differences:
            action = _state_action(row, row.local, row.broker, findings)
            if action is not None:
                actions.append(action)
    return actions


def _state_action(
    row: OrderRow, local: LocalOrder, broker: BrokerOrder, findings: list[str]
) -> PlanAction | None:
    if local.state.is_terminal:
        findings.append(
            f"local order {local.local_id} is {local.state} but the broker still works "
            f"{broker.id} ({broker.status}); left for the operator"
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
            f"CRITICAL: broker order {broker.id} ({broker.symbol}) is filled without a fill "
            "price; state forced, price left empty"
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


def _missing_at_broker_action(local: LocalOrder, findings: list[str]) -> PlanAction | None:
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
        f"local order {local.local_id} names broker order {local.broker_id}, which the broker "
        "does not know; left unchanged"
    )
    return None


def _orphan_action(snapshot: Snapshot, order: BrokerOrder) -> PlanAction:
    position = snapshot.broker.positions_by_symbol.get(order.symbol)
    description = f"{order.side} {order.order_type} {order.qty} {order.symbol}"
    if position is not None and is_protective_stop(order, position.side):
        return PlanAction(
            seq=0,
            phase=Phase.ORDERS,
            kind=ActionKind.ADOPT_ORPHAN_STOP,
            symbol=order.symbol,
            target=order.id,
            reason=f"{description} on the broker protects the {position.side} position; "
            "recorded locally as its stop",
            broker_order=order,
            new_row=_adopted_stop_row(snapshot, order),
        )
    reason = f"{description} is open on the broker with no local order"
    if order.order_type in STOP_TYPES:
        reason += (
            ", a stop with no position to protect"
            if position is None
            else f", a stop that does not close the {position.side} position"
        )
    return PlanAction(
        seq=0,
        phase=Phase.ORDERS,
        kind=ActionKind.CANCEL_ORPHAN,
        symbol=order.symbol,
        target=order.id,
        reason=reason,
        needs_decision=True,
        broker_order=order,
    )


def _adopted_stop_row(snapshot: Snapshot, order: BrokerOrder) -> LocalOrder:
    return LocalOrder(
        local_id=f"adopted-{order.id}",
        broker_id=order.id,
        client_order_id=order.client_order_id,
        correlation_id=_position_correlation_id(snapshot, order.symbol),
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        order_role=OrderRole.STOP_LOSS,
        strategy=SYNTHETIC_STRATEGY,
        qty_requested=order.qty,
        qty_filled=order.filled_qty,
        avg_fill_price=order.filled_avg_price,
        stop_price=order.stop_price,
        limit_price=order.limit_price,
        state=meaning_of(order.status).local_state or OrderState.ACCEPTED,
        parent_id=None,
        last_error=None,
        created_at=snapshot.taken_at,
        updated_at=snapshot.taken_at,
    )


def _position_correlation_id(snapshot: Snapshot, symbol: str) -> str:
    """The round trip a position belongs to: its latest filled entry, or the synthetic one."""
    entry = snapshot.local.latest_entry_by_symbol.get(symbol)
    return entry.correlation_id if entry else synthetic_correlation_id(symbol, snapshot)


def synthetic_correlation_id(symbol: str, snapshot: Snapshot) -> str:
    return f"orphan-{symbol}-{snapshot.trading_day:%Y%m%d}"


# Phase 2 ------------------------------------------------------------------------------------


def _position_phase(
    snapshot: Snapshot,
    rows: tuple[PositionRow, ...],
    order_actions: list[PlanAction],
    settings: PlanSettings,
    findings: list[str],
) -> list[PlanAction]:
    filling_entries = {
        action.symbol
        for action in order_actions
        if action.local_order is not None
        and action.local_order.order_role is OrderRole.ENTRY
        and action.new_state in (OrderState.FILLED, OrderState.PARTIALLY_FILLED)
    }
    generations = _recon_order_generations(snapshot)
    stops: list[PlanAction] = []
    entries: list[PlanAction] = []
    for row in rows:
        position = row.broker
        if position is None:
            continue
        if row.covered_qty > position.qty:
            findings.append(
                f"{position.symbol}: broker stops cover {row.covered_qty} of "
                f"{position.qty} shares; left as they are"
            )
        stops.extend(_emergency_stops(snapshot, position, row, settings, generations))
        if row.local_side is None and position.symbol not in filling_entries:
            entry = _synthetic_entry(snapshot, position)
            if entry is not None:
                entries.append(entry)
    # Unprotected exposure is what can hurt; the largest goes first.
    stops.sort(key=lambda action: (-action.exposure, action.symbol))  # stable: GTC before DAY
    return [*stops, *entries]


def _emergency_stops(
    snapshot: Snapshot,
    position: BrokerPosition,
    row: PositionRow,
    settings: PlanSettings,
    generations: Counter[str],
) -> list[PlanAction]:
    if row.uncovered_qty <= 0:
        return []
    level = emergency_stop_level(
        position.side, position.avg_entry_price, position.current_price, settings.emergency_stop_pct
    )
    side = position.side.closing_side
    actions = []
    for piece in slices_for(row.uncovered_qty):
        prefix = client_order_id_prefix(
            "stop", position.symbol, side, piece.time_in_force, snapshot.trading_day
        )
        client_order_id = recon_client_order_id(
            "stop",
            position.symbol,
            side,
            piece.time_in_force,
            snapshot.trading_day,
            generations[prefix] + 1,
        )
        flags = []
        if piece.is_fractional:
            flags.append("fractional remainder: DAY stop, renew tomorrow")
        if level.rebased_on_current_price:
            flags.append("entry-based level already through the market: based on current price")
        actions.append(
            PlanAction(
                seq=0,
                phase=Phase.POSITIONS,
                kind=ActionKind.EMERGENCY_STOP,
                symbol=position.symbol,
                target=client_order_id,
                reason=f"{row.uncovered_qty} of {position.qty} {position.side} shares have no "
                f"stop; {side} stop {piece.qty} at {level.price}",
                new_order=NewOrder(
                    client_order_id=client_order_id,
                    symbol=position.symbol,
                    side=side,
                    qty=piece.qty,
                    order_type=OrderType.STOP,
                    time_in_force=piece.time_in_force,
                    stop_price=level.price,
                ),
                new_row=_recon_order_row(snapshot, client_order_id, position, piece.qty),
                exposure=row.uncovered_qty * position.current_price,
                flags=tuple(flags),
            )
        )
    return actions


def _recon_order_row(
    snapshot: Snapshot, client_order_id: str, position: BrokerPosition, qty: Decimal
) -> LocalOrder:
    """The local row an emergency stop will be recorded as once the broker has it; execution
    fills in the broker's id, state and price."""
    return LocalOrder(
        local_id=client_order_id,
        broker_id=None,
        client_order_id=client_order_id,
        correlation_id=_position_correlation_id(snapshot, position.symbol),
        symbol=position.symbol,
        side=position.side.closing_side,
        order_type=OrderType.STOP,
        order_role=OrderRole.STOP_LOSS,
        strategy=SYNTHETIC_STRATEGY,
        qty_requested=qty,
        qty_filled=Decimal(0),
        avg_fill_price=None,
        stop_price=None,
        limit_price=None,
        state=OrderState.PENDING_SUBMIT,
        parent_id=None,
        last_error=None,
        created_at=snapshot.taken_at,
        updated_at=snapshot.taken_at,
    )


def _synthetic_entry(snapshot: Snapshot, position: BrokerPosition) -> PlanAction | None:
    correlation_id = synthetic_correlation_id(position.symbol, snapshot)
    if correlation_id in snapshot.local.all_orders:
        return None  # added by an earlier run today
    at: datetime = snapshot.taken_at
    row = LocalOrder(
        local_id=correlation_id,
        broker_id=None,
        client_order_id=None,
        correlation_id=correlation_id,
        symbol=position.symbol,
        side=Side.BUY if position.side is PositionSide.LONG else Side.SELL,
        order_type=OrderType.MARKET,
        order_role=OrderRole.ENTRY,
        strategy=SYNTHETIC_STRATEGY,
        qty_requested=position.qty,
        qty_filled=position.qty,
        avg_fill_price=position.avg_entry_price,
        stop_price=None,
        limit_price=None,
        state=OrderState.FILLED,
        parent_id=None,
        last_error=None,
        created_at=at,
        updated_at=at,
    )
    return PlanAction(
        seq=0,
        phase=Phase.POSITIONS,
        kind=ActionKind.SYNTHETIC_ENTRY,
        symbol=position.symbol,
        target=correlation_id,
        reason=f"the broker holds {position.qty} {position.side} with no local entry",
        new_row=row,
    )


def _recon_order_generations(snapshot: Snapshot) -> Counter[str]:
    """How many orders recon already sent under each id prefix, so a new one never reuses an
    id the broker has seen."""
    counts: Counter[str] = Counter()
    for client_order_id in snapshot.broker.orders_by_client_id:
        if client_order_id.startswith("recon-"):
            counts[client_order_id.rsplit("-", 1)[0] + "-"] += 1
    return counts
