"""What a running reconciliation tells its listeners — the headless command logs these, the
console draws them — and how it asks the operator to decide."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from engine.reconcile.actions import Phase, Plan, PlanAction
from engine.reconcile.circuit_breaker import CircuitBreakerState
from engine.reconcile.diff import Diff


class Decision(StrEnum):
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    UNDECIDED = "undecided"


@dataclass(frozen=True, slots=True)
class DecisionAnswer:
    decision: Decision
    decided_by: str  # the OS user who answered, or "recon" when nobody could


# The one way in for operator decisions: the engine awaits it for each action that needs one.
DecisionCallback = Callable[[PlanAction], Awaitable[DecisionAnswer]]


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: str
    dry_run: bool
    unfinished_runs: tuple[str, ...]  # earlier runs that never finished: killed halfway


@dataclass(frozen=True, slots=True)
class PhaseStarted:
    phase: Phase
    total: int


@dataclass(frozen=True, slots=True)
class PhaseProgress:
    phase: Phase
    done: int
    total: int
    current: str


@dataclass(frozen=True, slots=True)
class PhaseFinished:
    phase: Phase
    done: int
    total: int
    errors: int


@dataclass(frozen=True, slots=True)
class SnapshotReady:
    """Fetched and validated: what the console draws side by side, and what will be done."""

    diff: Diff
    plan: Plan


@dataclass(frozen=True, slots=True)
class BookReread:
    """After changing the broker, the run read it again (its `read`th read) and plans what
    remains from what it says now; `found` is what changed since the read before."""

    read: int
    found: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActionStarted:
    action: PlanAction


@dataclass(frozen=True, slots=True)
class ActionSucceeded:
    action: PlanAction
    detail: str


@dataclass(frozen=True, slots=True)
class ActionFailed:
    action: PlanAction
    error: str


@dataclass(frozen=True, slots=True)
class ActionSkipped:
    action: PlanAction
    detail: str


@dataclass(frozen=True, slots=True)
class DecisionNeeded:
    action: PlanAction


@dataclass(frozen=True, slots=True)
class StopSubmitted:
    symbol: str
    broker_order_id: str
    qty: Decimal


@dataclass(frozen=True, slots=True)
class StopConfirmed:
    """The broker reports the stop working: only now does it count as protection."""

    symbol: str
    broker_order_id: str
    qty: Decimal


@dataclass(frozen=True, slots=True)
class GuardStreamStatus:
    """Whether the guard hears the broker's stream, or is polling, and why."""

    up: bool
    detail: str


@dataclass(frozen=True, slots=True)
class GuardChecked:
    """The guard re-read the whole book. `uncovered` maps each position that lost its cover to
    the seconds left before recon covers it again (zero: covering now); `circuit_breaker` is
    rebuilt from the day's trades as they stand at this read."""

    diff: Diff
    uncovered: dict[str, float]
    at: datetime
    circuit_breaker: CircuitBreakerState


@dataclass(frozen=True, slots=True)
class GuardRunFinished:
    """The guard acted in a run of its own, journaled as `run_id`, which ended with
    `exit_code` (SPEC §2's codes, as `recon reconcile` would have exited)."""

    run_id: str
    exit_code: int


@dataclass(frozen=True, slots=True)
class GuardCheckFailed:
    """A re-read failed; the guard tries again at its next sweep."""

    error: str


@dataclass(frozen=True, slots=True)
class AccountOrderState:
    """Whether the broker takes orders on the account, said once each time that changes:
    `refusal` names the flag that refuses them, None once they are taken again."""

    refusal: str | None


@dataclass(frozen=True, slots=True)
class RateLimitWaiting:
    """Requests held back by the account's rate limit — stops among them, riskiest first — and
    when the last of them will go; `waiting` 0 (and no time) once they have all gone."""

    waiting: int
    last_goes_at: datetime | None


Event = (
    RunStarted
    | PhaseStarted
    | PhaseProgress
    | PhaseFinished
    | SnapshotReady
    | BookReread
    | ActionStarted
    | ActionSucceeded
    | ActionFailed
    | ActionSkipped
    | DecisionNeeded
    | StopSubmitted
    | StopConfirmed
    | GuardStreamStatus
    | GuardChecked
    | GuardRunFinished
    | GuardCheckFailed
    | AccountOrderState
    | RateLimitWaiting
)
Listener = Callable[[Event], None]
