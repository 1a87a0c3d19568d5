"""What a run comes to: the counts, each position's protection as the broker confirms it after
the run, the errors, the exit code of SPEC §1, and the JSON object `--json` prints."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domain import BrokerOrder, BrokerPosition
from engine.reconcile.actions import ActionKind, Plan
from engine.reconcile.circuit_breaker import CircuitBreakerState
from engine.reconcile.diff import Diff, Match, Protection, cover_of, open_orders_by_symbol
from engine.reconcile.events import Decision
from engine.reconcile.outcomes import ActionResult, ExecutionReport, Outcome

EXIT_COMPLETED = 0
EXIT_COMPLETED_WITH_ERRORS = 1
EXIT_ABORTED = 2

ORDER_STATE_KINDS = frozenset(
    {ActionKind.TAKE_BROKER_STATE, ActionKind.FOLLOW_REPLACEMENT, ActionKind.ADOPT_SUBMITTED}
)


@dataclass(frozen=True, slots=True)
class AccountSummary:
    number: str
    masked_key_id: str
    paper: bool
    # Why the broker refuses every order on the account when it was read, None if it takes them.
    order_refusal: str | None = None


@dataclass(frozen=True, slots=True)
class PositionOutcome:
    symbol: str
    qty: Decimal
    side: str
    protected: bool
    stop_order_ids: tuple[str, ...]


def position_outcomes(
    positions: Iterable[BrokerPosition], open_orders: Iterable[BrokerOrder]
) -> tuple[PositionOutcome, ...]:
    """Protected means stops the broker reports working cover every share."""
    orders_by_symbol = open_orders_by_symbol(open_orders)
    outcomes = []
    for position in sorted(positions, key=lambda p: p.symbol):
        cover = cover_of(position, orders_by_symbol.get(position.symbol, ()))
        outcomes.append(
            PositionOutcome(
                symbol=position.symbol,
                qty=position.qty,
                side=str(position.side),
                protected=cover.protection is Protection.PROTECTED,
                stop_order_ids=tuple(stop.id for stop in cover.stops),
            )
        )
    return tuple(outcomes)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    dry_run: bool
    account: AccountSummary | None = None
    market_open: bool | None = None
    diff: Diff | None = None
    plan: Plan | None = None
    report: ExecutionReport | None = None
    positions: tuple[PositionOutcome, ...] = ()
    errors: tuple[str, ...] = ()
    aborted: str | None = None
    # Why the account refuses every order: what stops a run before its first change (and makes
    # a dry run's exit 2), though a guard still watches such an account and covers its book
    # once the broker takes orders again.
    account_refusal: str | None = None
    unfinished_runs: tuple[str, ...] = ()
    # What each read after the first found changed: one entry per re-read of the broker.
    rereads: tuple[tuple[str, ...], ...] = ()

    @property
    def decided_orders(self) -> frozenset[str]:
        """The orders the operator was asked about in this run, however it was answered."""
        return frozenset(r.action.target for r in self._results() if r.decision is not None)

    @property
    def pending_decisions(self) -> int:
        return sum(1 for r in self._results() if r.decision is Decision.UNDECIDED)

    @property
    def exit_code(self) -> int:
        if self.aborted is not None or self.account_refusal is not None:
            return EXIT_ABORTED
        if self.dry_run:
            return EXIT_COMPLETED_WITH_ERRORS if self.errors else EXIT_COMPLETED
        unprotected = any(not position.protected for position in self.positions)
        if self.errors or unprotected or self.pending_decisions:
            return EXIT_COMPLETED_WITH_ERRORS
        return EXIT_COMPLETED

    @property
    def circuit_breaker(self) -> CircuitBreakerState | None:
        return self.plan.circuit_breaker if self.plan else None

    def to_json(self) -> dict[str, Any]:
        results = self._results()
        breaker = self.circuit_breaker
        return {
            "run_id": self.run_id,
            "account": None
            if self.account is None
            else {
                "number": self.account.number,
                "masked_key_id": self.account.masked_key_id,
                "mode": "paper" if self.account.paper else "live",
                "refuses_orders": self.account.order_refusal,
            },
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "aborted": self.aborted,
            "orders_reconciled": _count(results, ORDER_STATE_KINDS),
            "stale_orders_failed": _count(results, {ActionKind.MARK_SUBMIT_FAILED}),
            "orphans_detected": self._orphans_detected(),
            "orphan_orders_canceled": _count(results, {ActionKind.CANCEL_ORPHAN}),
            "orphan_orders_adopted": _count(
                results, {ActionKind.ADOPT_ORPHAN_STOP, ActionKind.ADOPT_ORPHAN_GROUP}
            ),
            "orphan_orders_kept": sum(
                1
                for r in results
                if r.action.kind is ActionKind.CANCEL_ORPHAN and r.outcome is Outcome.SKIPPED
            ),
            "blocking_orders_canceled": _count(results, {ActionKind.CANCEL_BLOCKING_ORDER}),
            "blocking_orders_kept": sum(
                1
                for r in results
                if r.action.kind is ActionKind.CANCEL_BLOCKING_ORDER
                and r.outcome is Outcome.SKIPPED
            ),
            "emergency_stops_placed": _count(results, {ActionKind.EMERGENCY_STOP}),
            "oco_exits_placed": _count(results, {ActionKind.OCO_EXIT}),
            "surplus_stops_reduced": _count(results, {ActionKind.REDUCE_SURPLUS_STOP}),
            "market_exits": self.report.market_exits if self.report else 0,
            "synthetic_entries": _count(results, {ActionKind.SYNTHETIC_ENTRY}),
            "positions": [
                {
                    "symbol": p.symbol,
                    "qty": str(p.qty),
                    "side": p.side,
                    "protected": p.protected,
                    "stop_order_ids": list(p.stop_order_ids),
                }
                for p in self.positions
            ],
            "circuit_breaker": None
            if breaker is None
            else {
                "paused": breaker.paused,
                "reason": breaker.reason,
                "daily_realized_pnl": str(breaker.daily_realized_pnl),
                "consecutive_losses": breaker.consecutive_losses,
            },
            "errors": list(self.errors),
            "unfinished_previous_runs": list(self.unfinished_runs),
            "rereads": [list(found) for found in self.rereads],
            "actions": [_action_json(r) for r in results]
            if self.report
            else [
                {
                    "phase": str(a.phase),
                    "kind": str(a.kind),
                    "symbol": a.symbol,
                    "status": "planned",
                    "detail": a.reason,
                }
                for a in (self.plan.actions if self.plan else ())
            ],
        }

    def tallies(self) -> list[str]:
        """What the run did, in words."""
        return tallies_of(self.to_json())

    def _results(self) -> list[ActionResult]:
        return self.report.results if self.report else []

    def _orphans_detected(self) -> int:
        if self.diff is None:
            return 0
        return self.diff.order_counts()[Match.ORPHAN] + self.diff.position_counts()[Match.ORPHAN]


@dataclass(frozen=True)
class GuardOutcome:
    """How a guard ended: the run it began with (or guarded after), whether every position
    was covered when it was stopped, and the runs it journaled while guarding."""

    first: RunResult
    covered: bool
    guard_runs: tuple[RunResult, ...]


def tallies_of(summary: dict[str, Any]) -> list[str]:
    """What a run did, in words, from its JSON summary (as `--json` prints it and the journal
    keeps it; a run journaled by an older recon lacks some counts), for any face to join as it
    likes."""
    return [
        _tally(_counted(summary, "orders_reconciled"), "order reconciled", "orders reconciled"),
        _tally(
            _counted(summary, "stale_orders_failed"),
            "stale submission failed",
            "stale submissions failed",
        ),
        _tally(
            _counted(summary, "orphan_orders_adopted"),
            "orphan stop adopted",
            "orphan stops adopted",
        ),
        _tally(_counted(summary, "orphan_orders_canceled"), "orphan canceled", "orphans canceled"),
        f"{_counted(summary, 'orphan_orders_kept')} kept",
        _tally(_counted(summary, "emergency_stops_placed"), "emergency stop", "emergency stops"),
        _tally(_counted(summary, "market_exits"), "market exit", "market exits"),
        *(
            _tally(_counted(summary, key), one, many)
            for key, one, many in (
                (
                    "blocking_orders_canceled",
                    "blocking order canceled",
                    "blocking orders canceled",
                ),
                ("blocking_orders_kept", "blocking order kept", "blocking orders kept"),
                ("oco_exits_placed", "OCO exit", "OCO exits"),
                ("surplus_stops_reduced", "surplus stop reduced", "surplus stops reduced"),
            )
            if _counted(summary, key)
        ),
    ]


def _counted(summary: dict[str, Any], key: str) -> int:
    value = summary.get(key)
    return value if isinstance(value, int) else 0


def _tally(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _count(results: Iterable[ActionResult], kinds: Iterable[ActionKind]) -> int:
    wanted = set(kinds)
    return sum(1 for r in results if r.action.kind in wanted and r.outcome is Outcome.SUCCEEDED)


def _action_json(result: ActionResult) -> dict[str, Any]:
    return {
        "phase": str(result.action.phase),
        "kind": str(result.action.kind),
        "symbol": result.action.symbol,
        "status": str(result.outcome),
        "detail": result.detail,
    }
