"""What a plan is made of: the phases a run goes through, the kinds of action it takes, and each
action with its target, reason, payload and whether it waits for the operator."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from engine.domain import BrokerOrder, LocalOrder, NewOrder, OrderState
from engine.reconcile.circuit_breaker import CircuitBreakerState


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
    # A bracket or OCO nobody here placed whose stop leg covers a position: kept whole.
    ADOPT_ORPHAN_GROUP = "adopt_orphan_group"
    CANCEL_ORPHAN = "cancel_orphan"
    # A known open order on the other side of a position that needs a stop: Alpaca refuses
    # the stop while it is open (its wash-trade rule).
    CANCEL_BLOCKING_ORDER = "cancel_blocking_order"
    EMERGENCY_STOP = "emergency_stop"
    # A take-profit holding shares no plain stop can take, replaced by an OCO exit: the same
    # limit, with the emergency stop as its other leg.
    OCO_EXIT = "oco_exit"
    # Stops covering more shares than the position holds, cut back by an order replace.
    REDUCE_SURPLUS_STOP = "reduce_surplus_stop"
    # The last resort once the broker has refused a position's stop for reasons no re-plan can
    # change: its uncovered shares, read afresh, are closed at market.
    MARKET_EXIT = "market_exit"
    SYNTHETIC_ENTRY = "synthetic_entry"


# Actions that place a stop and report it confirmed (`StopConfirmed`).
STOP_PLACING_KINDS = frozenset({ActionKind.EMERGENCY_STOP, ActionKind.OCO_EXIT})
# Actions that protect a position's shares, a stop or, failing every stop, an exit; they go
# out together, riskiest first.
PROTECTING_KINDS = STOP_PLACING_KINDS | {ActionKind.MARKET_EXIT}


# How far below a crypto stop its limit sits (crypto takes no plain stop). Wide enough that the
# order fills in a fall as fast as any minute BTC has had outside a flash crash, so a triggered
# stop does not rest unfilled and leave the position bare; narrow enough that the worst fill is
# no further from the stop than the stop is from the entry at the default stop distance.
DEFAULT_CRYPTO_STOP_LIMIT_PCT = Decimal("0.02")


@dataclass(frozen=True, slots=True)
class PlanSettings:
    emergency_stop_pct: Decimal
    max_daily_loss_pct: Decimal
    consecutive_loss_pause: int
    crypto_stop_limit_pct: Decimal = DEFAULT_CRYPTO_STOP_LIMIT_PCT


@dataclass(frozen=True, slots=True)
class PlanAction:
    """One step. Which payload fields are set depends on `kind`: a state change names the
    `local_order` and its `new_state` from `broker_order`; an insert carries `new_row`; a
    submission carries `new_order` (and `new_row`, the row it is recorded as); a cancellation
    names its order in `broker_order`; a replace names the order in `broker_order`, its new
    terms in `new_order` and the row that follows it in `local_order`.

    `blocked_by` lists the open orders that must be gone before a stop can go in: Alpaca
    refuses a plain stop while an order on the other side of the symbol is open."""

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
    blocked_by: tuple[BrokerOrder, ...] = ()

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
            self.blocked_by,
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem seen while planning that no action can fix, and the position it is about
    (None for one about the book as a whole); each becomes a reported error."""

    symbol: str | None
    text: str
    # Reported once seen, even when a later read of the run plans it away: it tells what
    # happened (a fill without a price), not what still stands.
    lasting: bool = False

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[PlanAction, ...]
    circuit_breaker: CircuitBreakerState
    findings: tuple[Finding, ...]

    @property
    def is_empty(self) -> bool:
        return not self.actions

    def in_phase(self, phase: Phase) -> tuple[PlanAction, ...]:
        return tuple(action for action in self.actions if action.phase is phase)

    def only_for(self, symbols: Collection[str]) -> Plan:
        """The actions and findings about these positions, the rest left out."""
        return Plan(
            tuple(action for action in self.actions if action.symbol in symbols),
            self.circuit_breaker,
            tuple(finding for finding in self.findings if finding.symbol in symbols),
        )
