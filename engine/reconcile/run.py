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

from engine.broker.errors import BrokerError, StreamUnavailable
from engine.broker.protocol import Broker
from engine.broker.trade_updates import TradeUpdates
from engine.reconcile.actions import STOP_PLACING_KINDS, Phase, Plan, PlanSettings
from engine.reconcile.diff import Diff, diff
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
from engine.reconcile.rate_limit_report import reporting_rate_limit
from engine.reconcile.result import AccountSummary, RunResult, position_outcomes
from engine.reconcile.snapshot import InvalidSnapshot, Snapshot, validate
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
    """The run, what the rate limit holds back told to `emit` as it goes."""
    with reporting_rate_limit(broker, emit):
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
        emit(SnapshotReady(the_diff, the_plan))
        if request.dry_run:
            return RunResult(
                run_id=run_id,
                dry_run=True,
                account=_account(request, snapshot),
                market_open=snapshot.broker.clock.is_open,
                diff=the_diff,
                plan=the_plan,
                positions=position_outcomes(snapshot.broker.positions, snapshot.broker.open_orders),
                errors=(*the_plan.findings, *_breaker_errors(the_plan)),
            )
        # Only a run that places stops needs to hear them confirmed.
        places_stops = any(a.kind in STOP_PLACING_KINDS for a in the_plan.actions)
        updates = await _trade_updates(broker) if places_stops else None
        try:
            return await carry_out(
                request,
                snapshot,
                the_diff,
                the_plan,
                broker=broker,
                sessions=sessions,
                decide=decide,
                emit=emit,
                now=now,
                run_id=run_id,
                updates=updates,
            )
        finally:
            if updates is not None:
                await updates.close()


async def carry_out(
    request: RunRequest,
    snapshot: Snapshot,
    the_diff: Diff,
    the_plan: Plan,
    *,
    broker: Broker,
    sessions: async_sessionmaker[AsyncSession],
    decide: DecisionCallback,
    emit: Listener,
    now: Callable[[], datetime],
    run_id: str,
    updates: TradeUpdates | None,
) -> RunResult:
    """Journal the plan, execute it, confirm protection with the broker and close the journal.
    Stops are heard confirmed on the caller's trade stream (Alpaca allows one per account), or
    asked for one by one where there is none."""
    account = _account(request, snapshot)
    unfinished = await _open_journal(request, sessions, run_id, account.number, the_plan, now)
    emit(RunStarted(run_id=run_id, dry_run=False, unfinished_runs=unfinished))
    report = await Executor(
        broker=broker,
        ledger=StoreLedger(sessions, run_id, now),
        decide=decide,
        emit=emit,
        now=now,
        updates=updates,
    ).run(the_plan)

    errors = [*the_plan.findings, *report.errors, *_breaker_errors(the_plan)]
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


def _breaker_errors(the_plan: Plan) -> tuple[str, ...]:
    breaker = the_plan.circuit_breaker
    return (f"circuit breaker paused: {breaker.reason}",) if breaker.paused else ()


def _account(request: RunRequest, snapshot: Snapshot) -> AccountSummary:
    return AccountSummary(
        number=snapshot.broker.account.account_number,
        masked_key_id=request.masked_key_id,
        paper=request.paper,
    )


async def _trade_updates(broker: Broker) -> TradeUpdates | None:
    try:
        return await broker.open_trade_updates()
    except StreamUnavailable:
        return None  # stops are then confirmed by asking for each
