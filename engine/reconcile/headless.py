"""The face of a reconciliation without a screen: events become structured log lines on
stderr, decisions come from `--yes`, a terminal prompt, or stay undecided, and the result is
printed for a person or, with `--json`, for a program."""

from __future__ import annotations

import asyncio
import io
import sys
from datetime import UTC, datetime
from typing import TextIO

import structlog

from engine import secrets
from engine.reconcile.actions import Plan, PlanAction
from engine.reconcile.circuit_breaker import describe
from engine.reconcile.events import (
    AccountOrderState,
    ActionFailed,
    ActionSkipped,
    ActionStarted,
    ActionSucceeded,
    BookReread,
    Decision,
    DecisionAnswer,
    DecisionCallback,
    DecisionNeeded,
    Event,
    GuardChecked,
    GuardCheckFailed,
    GuardRunFinished,
    GuardStreamStatus,
    PhaseFinished,
    PhaseProgress,
    PhaseStarted,
    RateLimitWaiting,
    RunStarted,
    SnapshotReady,
    StopConfirmed,
    StopSubmitted,
)
from engine.reconcile.result import RunResult

log = structlog.get_logger("recon")


class HeadlessLog:
    """The headless listener, one per command: every event as `log_event` logs it, but the
    rate limit's queue only when requests start waiting and when they have all gone — not at
    each step of a 300-stop run."""

    def __init__(self) -> None:
        self._rate_limited = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, RateLimitWaiting):
            self._rate_limit(event.waiting, event.last_goes_at)
        else:
            log_event(event)

    def _rate_limit(self, waiting: int, last_goes_at: datetime | None) -> None:
        if waiting and last_goes_at is not None and not self._rate_limited:
            log.warning(
                "rate_limit_waiting",
                detail=f"{waiting} requests waiting for the rate limit, "
                f"the last at {last_goes_at.astimezone(UTC):%H:%M:%S} UTC",
                waiting=waiting,
            )
        elif not waiting and self._rate_limited:
            log.info("rate_limit_drained", detail="no request waits for the rate limit any more")
        self._rate_limited = waiting > 0


def log_event(event: Event) -> None:
    match event:
        case PhaseStarted(phase, total):
            log.info("phase_started", phase=phase, total=total)
        case PhaseFinished(phase, done, total, errors):
            log.info("phase_finished", phase=phase, done=done, total=total, errors=errors)
        case SnapshotReady(_, plan):
            log.info("snapshot_ready", actions=len(plan.actions), findings=len(plan.findings))
        case BookReread(read, found):
            log.info("book_reread", read=read, found="; ".join(found) or "nothing changed")
        case RunStarted(run_id, _, unfinished):
            log.info("run_started", run_id=run_id)
            for earlier in unfinished:
                log.warning("previous_run_interrupted", detail=earlier)
        case ActionStarted(action):
            log.debug("action_started", **_fields(action))
        case ActionSucceeded(action, detail):
            log.info("action_succeeded", detail=detail, **_fields(action))
        case ActionSkipped(action, detail):
            log.info("action_skipped", detail=detail, **_fields(action))
        case ActionFailed(action, error):
            log.error("action_failed", error=error, **_fields(action))
        case DecisionNeeded(action):
            log.info("decision_needed", reason=action.reason, **_fields(action))
        # Each stop's `action_succeeded` line says it was placed and confirmed: these two lines
        # more per stop are a thousand-stop run's thousands of lines, for whoever asks for them.
        case StopSubmitted(symbol, broker_order_id, qty):
            log.debug("stop_submitted", symbol=symbol, order_id=broker_order_id, qty=str(qty))
        case StopConfirmed(symbol, broker_order_id, qty):
            log.debug("stop_confirmed", symbol=symbol, order_id=broker_order_id, qty=str(qty))
        case GuardChecked(_, uncovered) if uncovered:
            log.warning(
                "guard_uncovered",
                **{
                    symbol: f"covering in {wait:.0f}s" for symbol, wait in sorted(uncovered.items())
                },
            )
        case GuardRunFinished(run_id, exit_code):
            log.info("guard_run_finished", run_id=run_id, exit_code=exit_code)
        case GuardCheckFailed(error):
            log.warning("guard_check_failed", error=error)
        case (
            PhaseProgress()
            | GuardChecked()
            | GuardStreamStatus()
            | AccountOrderState()
            | RateLimitWaiting()
        ):
            pass  # a progress bar's food, a quiet book, a stream the watch and an account the
            # guard already log, and a queue `HeadlessLog` logs when it starts and drains


def decision_callback(*, confirm_all: bool, operator: str, prompt: bool) -> DecisionCallback:
    """`--yes` confirms; a terminal asks; otherwise nobody can answer and the order is kept."""

    async def decide(action: PlanAction) -> DecisionAnswer:
        if confirm_all:
            return DecisionAnswer(Decision.CONFIRMED, operator)
        if not prompt:
            return DecisionAnswer(Decision.UNDECIDED, "recon")
        answer = await asyncio.to_thread(_ask, f"{action.reason}\nCancel it? [y/N] ")
        decision = Decision.CONFIRMED if answer in ("y", "yes") else Decision.DECLINED
        return DecisionAnswer(decision, operator)

    return decide


def _ask(question: str) -> str:
    print(secrets.scrub(question), end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower()


def print_plan(plan: Plan, out: TextIO) -> None:
    if plan.is_empty:
        print("Nothing to do: local state matches the broker.", file=out)
    for action in plan.actions:
        marker = " [needs your decision]" if action.needs_decision else ""
        flags = "".join(f" ({flag})" for flag in action.flags)
        print(
            f"{action.seq:>4}  {action.phase:<10} {action.kind:<21} {action.symbol:<6} "
            f"{action.reason}{flags}{marker}",
            file=out,
        )
    print(describe(plan.circuit_breaker), file=out)


def print_summary(result: RunResult, out: TextIO) -> None:
    """The result for a person, scrubbed of every registered secret: an error's text is the
    broker's or a library's, and may quote what recon sent."""
    text = io.StringIO()
    _write_summary(result, text)
    out.write(secrets.scrub(text.getvalue()))


def _write_summary(result: RunResult, out: TextIO) -> None:
    if result.aborted is not None:
        print(f"ABORTED before any change: {result.aborted}", file=out)
        return
    if result.dry_run and result.plan is not None:
        print_plan(result.plan, out)
    if not result.dry_run:
        print(f"run {result.run_id}: {', '.join(result.tallies())}", file=out)
    for position in result.positions:
        state = "PROTECTED" if position.protected else "UNPROTECTED"
        print(f"  {position.symbol:<6} {position.side:<5} {position.qty:>10}  {state}", file=out)
    for error in result.errors:
        print(f"  error: {error}", file=out)


def _fields(action: PlanAction) -> dict[str, object]:
    return {"seq": action.seq, "kind": str(action.kind), "symbol": action.symbol}
