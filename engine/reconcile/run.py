"""One reconciliation from start to end: fetch and validate the whole snapshot, diff, plan, then
(unless dry) journal the plan, execute it and verify protection with the broker. Used alike by
the headless command and the console; the caller holds the database lock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engine.broker.errors import BrokerError
from engine.broker.protocol import Broker
from engine.reconcile.actions import ActionKind, Phase, Plan, PlanSettings
from engine.reconcile.diff import diff
from engine.reconcile.events import (
    DecisionCallback,
    Listener,
    PhaseFinished,
    PhaseStarted,
    RunStarted,
    SnapshotReady,
)
from engine.reconcile.execute import Executor
from engine.reconcile.fetch import fetch_snapshot
from engine.reconcile.ledger import StoreLedger
from engine.reconcile.local_book import StoreLocalBook
from engine.reconcile.plan import plan
from engine.reconcile.result import AccountSummary, RunResult, position_outcomes
from engine.reconcile.snapshot import InvalidSnapshot, validate
from engine.store import CorruptRow, journal, session_factory
from engine.store.journal import PlannedActionRecord

# The snapshot's reads, as the Fetch pane counts them.
FETCH_STEPS = 6


@dataclass(frozen=True, slots=True)
class RunRequest:
    dry_run: bool
    operator: str  # the OS user, recorded in the journal
    masked_key_id: str
    paper: bool
    settings: PlanSettings


async def reconcile(
    request: RunRequest,
    *,
    broker: Broker,
    engine: AsyncEngine,
    decide: DecisionCallback,
    emit: Listener,
    now: Callable[[], datetime],
    run_id: str,
) -> RunResult:
    sessions = session_factory(engine)
    emit(PhaseStarted(Phase.FETCH, total=FETCH_STEPS))
    try:
        snapshot = await fetch_snapshot(broker, StoreLocalBook(sessions), now=now)
        validate(snapshot)
    except (BrokerError, InvalidSnapshot, CorruptRow) as exc:
        emit(PhaseFinished(Phase.FETCH, done=0, total=FETCH_STEPS, errors=1))
        return RunResult(run_id=run_id, dry_run=request.dry_run, aborted=str(exc))
    emit(PhaseFinished(Phase.FETCH, done=FETCH_STEPS, total=FETCH_STEPS, errors=0))

    the_diff = diff(snapshot)
    the_plan = plan(snapshot, the_diff, request.settings)
    account = AccountSummary(
        number=snapshot.broker.account.account_number,
        masked_key_id=request.masked_key_id,
        paper=request.paper,
    )
    emit(SnapshotReady(the_diff, the_plan))
    guard_errors = _guard_errors(the_plan.circuit_breaker.paused, the_plan.circuit_breaker.reason)
    if request.dry_run:
        return RunResult(
            run_id=run_id,
            dry_run=True,
            account=account,
            market_open=snapshot.broker.clock.is_open,
            diff=the_diff,
            plan=the_plan,
            positions=position_outcomes(snapshot.broker.positions, snapshot.broker.open_orders),
            errors=(*the_plan.findings, *guard_errors),
        )

    unfinished = await _open_journal(request, sessions, run_id, account.number, the_plan, now)
    emit(RunStarted(run_id=run_id, dry_run=False, unfinished_runs=unfinished))
    # Only a run that places stops needs to hear them confirmed.
    needs_stream = any(a.kind is ActionKind.EMERGENCY_STOP for a in the_plan.actions)
    updates = await broker.open_trade_updates() if needs_stream else None
    try:
        report = await Executor(
            broker=broker,
            ledger=StoreLedger(sessions, run_id, now),
            decide=decide,
            emit=emit,
            now=now,
            updates=updates,
        ).run(the_plan)
    finally:
        if updates is not None:
            await updates.close()

    errors = [*the_plan.findings, *report.errors, *guard_errors]
    try:
        positions, open_orders = await asyncio.gather(
            broker.get_positions(), broker.get_open_orders()
        )
        outcomes = position_outcomes(positions, open_orders)
    except BrokerError as exc:
        errors.append(f"could not confirm protection with the broker: {exc}")
        outcomes = position_outcomes(snapshot.broker.positions, ())
    result = RunResult(
        run_id=run_id,
        dry_run=False,
        account=account,
        market_open=snapshot.broker.clock.is_open,
        diff=the_diff,
        plan=the_plan,
        report=report,
        positions=outcomes,
        errors=tuple(errors),
        unfinished_runs=unfinished,
    )
    async with sessions.begin() as session:
        await journal.finish_run(
            session,
            run_id,
            outcome=f"exit {result.exit_code}",
            finished_at=now(),
            summary_json=json.dumps(result.to_json()),
        )
    return result


async def _open_journal(
    request: RunRequest,
    sessions: async_sessionmaker[AsyncSession],
    run_id: str,
    account_number: str,
    the_plan: Plan,
    now: Callable[[], datetime],
) -> tuple[str, ...]:
    """Record the run and its whole plan before the first change; report, and close, any
    earlier run that was killed before it finished."""
    async with sessions.begin() as session:
        unfinished = await journal.find_unfinished_runs(session)
        for earlier in unfinished:
            await journal.close_unfinished_run(session, earlier.run_id, noticed_by=run_id, at=now())
        await journal.start_run(
            session,
            run_id=run_id,
            operator=request.operator,
            account_number=account_number,
            paper=request.paper,
            dry_run=False,
            started_at=now(),
        )
        await journal.record_planned_actions(
            session,
            run_id,
            [
                PlannedActionRecord(
                    seq=action.seq,
                    phase=action.phase,
                    kind=action.kind,
                    symbol=action.symbol,
                    target=action.target,
                    reason=action.reason,
                    needs_decision=action.needs_decision,
                )
                for action in the_plan.actions
            ],
        )
    return tuple(
        f"run {earlier.run_id} started {earlier.started_at:%Y-%m-%d %H:%M:%SZ} by "
        f"{earlier.operator} stopped after {earlier.actions_finished} of "
        f"{earlier.actions_planned} actions"
        for earlier in unfinished
    )


def _guard_errors(paused: bool, reason: str | None) -> tuple[str, ...]:
    return (f"circuit breaker paused: {reason}",) if paused else ()
