"""One reconciliation, and each pass of the guard, as the same closed loop: read the whole book
and validate it, plan, act phase by phase, read again after anything sent to the broker and plan
what remains from what it says now, until a fresh read leaves nothing that can be done. Used
alike by the headless command, the console and the guard; the caller holds the database lock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engine import secrets
from engine.broker.errors import BrokerError, StreamUnavailable
from engine.broker.protocol import Broker
from engine.clock import SYSTEM_CLOCK, Clock
from engine.reconcile.actions import Phase, Plan, PlanSettings
from engine.reconcile.changes import changes_between
from engine.reconcile.diff import Diff, diff
from engine.reconcile.events import (
    BookReread,
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
from engine.reconcile.rounds import MAX_READS, RunMemory
from engine.reconcile.snapshot import InvalidSnapshot, Snapshot, validate
from engine.store import StoreError, journal, session_factory, typed_store_errors

if TYPE_CHECKING:
    from engine.broker.trade_updates import TradeUpdates

# The snapshot's reads, as the Fetch pane counts them.
FETCH_STEPS = 6


@dataclass(frozen=True, slots=True)
class RunRequest:
    dry_run: bool
    operator: str  # the OS user, recorded in the journal
    masked_key_id: str
    settings: PlanSettings


# Whatever makes a read of the book unusable: nothing is acted on from it.
READ_FAILURES = (BrokerError, InvalidSnapshot, StoreError)


async def reconcile(
    request: RunRequest,
    *,
    broker: Broker,
    engine: AsyncEngine,
    decide: DecisionCallback,
    emit: Listener,
    now: Callable[[], datetime],
    run_id: str,
    clock: Clock = SYSTEM_CLOCK,
) -> RunResult:
    """The run, what the rate limit holds back told to `emit` as it goes."""
    with reporting_rate_limit(broker, emit, clock):
        cycle = Cycle(
            request, broker=broker, sessions=session_factory(engine), decide=decide, emit=emit,
            now=now, clock=clock,
        )  # fmt: skip
        emit(PhaseStarted(Phase.FETCH, total=FETCH_STEPS))
        # The stream that confirms the stops is opened while the book is read: its handshake,
        # and its client's loading, go on beside the reads, not between the plan and the first
        # stop. A preview never opens it.
        opening = None if request.dry_run else asyncio.create_task(_trade_updates(broker))
        try:
            try:
                snapshot = await cycle.read()
            except READ_FAILURES as exc:
                emit(PhaseFinished(Phase.FETCH, done=0, total=FETCH_STEPS, errors=1))
                return RunResult(run_id=run_id, dry_run=request.dry_run, aborted=str(exc))
            emit(PhaseFinished(Phase.FETCH, done=FETCH_STEPS, total=FETCH_STEPS, errors=0))
            if opening is None:  # a preview
                return cycle.preview(snapshot, run_id)
            refusal = snapshot.broker.account.order_refusal
            if refusal is not None:
                return cycle.refused(snapshot, run_id, refusal)
            updates = await opening
            return await cycle.settle(snapshot, run_id=run_id, memory=RunMemory(), updates=updates)
        finally:
            if opening is not None:
                await _closed(opening)


class Cycle:
    """Read → plan → act, until a fresh read leaves nothing that can be done: a run, and each
    pass of the guard that covers something."""

    def __init__(
        self,
        request: RunRequest,
        *,
        broker: Broker,
        sessions: async_sessionmaker[AsyncSession],
        decide: DecisionCallback,
        emit: Listener,
        now: Callable[[], datetime],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._request = request
        self._broker = broker
        self._sessions = sessions
        self._decide = decide
        self._emit = emit
        self._now = now
        self._clock = clock

    async def read(self, since: Snapshot | None = None) -> Snapshot:
        """The whole book, validated; raises one of `READ_FAILURES`. `since`, an earlier read
        of this run, lends its account, clock and trades to a re-read."""
        snapshot = await fetch_snapshot(
            self._broker, StoreLocalBook(self._sessions), now=self._now, since=since
        )
        validate(snapshot)
        return snapshot

    def plan_for(self, snapshot: Snapshot) -> tuple[Diff, Plan]:
        the_diff = diff(snapshot)
        return the_diff, plan(snapshot, the_diff, self._request.settings)

    def preview(self, snapshot: Snapshot, run_id: str) -> RunResult:
        """What a run would do from this read; nothing changes anywhere. An account that
        refuses orders is said first: the run itself would stop there."""
        the_diff, the_plan = self.plan_for(snapshot)
        self._emit(SnapshotReady(the_diff, the_plan))
        refusal = snapshot.broker.account.order_refusal
        return RunResult(
            run_id=run_id,
            dry_run=True,
            account=_account(self._request, snapshot),
            market_open=snapshot.broker.clock.is_open,
            diff=the_diff,
            plan=the_plan,
            positions=position_outcomes(snapshot.broker.positions, snapshot.broker.open_orders),
            errors=(
                *((_refused(refusal),) if refusal is not None else ()),
                *map(str, the_plan.findings),
                *_breaker_errors(the_plan),
            ),
            account_refusal=refusal,
        )

    def refused(self, snapshot: Snapshot, run_id: str, refusal: str) -> RunResult:
        """A run on an account that refuses every order: nothing is sent, and nothing local
        changes either, as for any run that stops before its first change."""
        return RunResult(
            run_id=run_id,
            dry_run=False,
            account=_account(self._request, snapshot),
            market_open=snapshot.broker.clock.is_open,
            positions=position_outcomes(snapshot.broker.positions, snapshot.broker.open_orders),
            aborted=_refused(refusal),
            account_refusal=refusal,
        )

    async def settle(
        self,
        first: Snapshot,
        *,
        run_id: str,
        memory: RunMemory,
        updates: TradeUpdates | None = None,
        select: Callable[[Plan], Plan] = lambda plan: plan,
        planned: tuple[Diff, Plan] | None = None,
    ) -> RunResult:
        """Act on `first` and on every read after it until nothing is left that can be done,
        journaled as run `run_id`. `select` keeps the part of each plan this pass is for;
        `memory` carries what the operator answered and what the broker refused. Stops are
        heard confirmed on the caller's trade stream `updates` (Alpaca allows one per account),
        or else asked for one by one. `planned` is `first`'s diff and plan where the caller has
        made them already."""
        first_diff, the_plan = planned or self.plan_for(first)
        first_plan = select(the_plan)
        todo = memory.remaining(first_plan)
        return await self._settle(
            first, first_diff, first_plan, todo, run_id, memory, updates, select
        )

    async def _settle(
        self,
        first: Snapshot,
        first_diff: Diff,
        first_plan: Plan,
        todo: Plan,
        run_id: str,
        memory: RunMemory,
        updates: TradeUpdates | None,
        select: Callable[[Plan], Plan],
    ) -> RunResult:
        request = self._request
        account = _account(request, first)
        the_plan = first_plan
        self._emit(SnapshotReady(first_diff, todo))
        unfinished = await _open_journal(request, self._sessions, run_id, account, self._now)
        self._emit(RunStarted(run_id=run_id, dry_run=False, unfinished_runs=unfinished))
        executor = Executor(
            broker=self._broker,
            ledger=StoreLedger(self._sessions, run_id, self._now, clock=self._clock),
            decide=self._decide,
            emit=self._emit,
            now=self._now,
            updates=updates,
            clock=self._clock,
        )
        snapshot, reads = first, 1
        rereads: list[tuple[str, ...]] = []
        lasting = [finding for finding in first_plan.findings if finding.lasting]
        confirmed = True
        while True:
            memory.remember(await executor.run(todo))
            if executor.database_failure is not None or not executor.changed_broker:
                break  # the last read is still the broker's word, or nothing more is changed
            try:
                fresh = await self.read(since=snapshot)
            except READ_FAILURES as exc:
                executor.report.errors.append(f"could not read the book again: {exc}")
                confirmed = False
                break
            reads += 1
            found = changes_between(snapshot.broker, fresh.broker)
            rereads.append(found)
            self._emit(BookReread(reads, found))
            snapshot = fresh
            fresh_diff, full_plan = self.plan_for(snapshot)
            the_plan = select(full_plan)
            lasting.extend(finding for finding in the_plan.findings if finding.lasting)
            todo = memory.remaining(the_plan)
            self._emit(SnapshotReady(fresh_diff, todo))
            if todo.is_empty:
                break
            if reads >= MAX_READS:
                executor.report.errors.append(
                    f"stopped after {reads} reads of the broker with {len(todo.actions)} "
                    f"actions left: {'; '.join(action.reason for action in todo.actions[:3])}"
                )
                break
        # The breaker is rebuilt from the day's trades with every plan: nothing to carry out.
        self._emit(PhaseStarted(Phase.CIRCUIT_BREAKER, total=0))
        self._emit(PhaseFinished(Phase.CIRCUIT_BREAKER, done=0, total=0, errors=0))
        result = RunResult(
            run_id=run_id,
            dry_run=False,
            account=account,
            market_open=snapshot.broker.clock.is_open,
            diff=first_diff,
            plan=first_plan,
            report=executor.report,
            positions=position_outcomes(
                snapshot.broker.positions, snapshot.broker.open_orders if confirmed else ()
            ),
            errors=(
                *map(str, dict.fromkeys((*lasting, *the_plan.findings))),
                *executor.report.errors,
                *_breaker_errors(the_plan),
            ),
            unfinished_runs=unfinished,
            rereads=tuple(rereads),
        )
        try:
            async with typed_store_errors("journal the run's end"), self._sessions.begin() as s:
                await journal.finish_run(
                    s,
                    run_id,
                    outcome=f"exit {result.exit_code}",
                    finished_at=self._now(),
                    summary_json=secrets.dumps(result.to_json()),
                )
        except StoreError as exc:
            # What the run did stands; the next run reports this one as unfinished.
            return replace(result, errors=(*result.errors, str(exc)))
        return result


async def _open_journal(
    request: RunRequest,
    sessions: async_sessionmaker[AsyncSession],
    run_id: str,
    account: AccountSummary,
    now: Callable[[], datetime],
) -> tuple[str, ...]:
    """Record the run before its first change; report, and close, any earlier run that was
    killed before it finished."""
    async with typed_store_errors("record the run"), sessions.begin() as session:
        unfinished = await journal.find_unfinished_runs(session)
        for earlier in unfinished:
            await journal.close_unfinished_run(session, earlier.run_id, noticed_by=run_id, at=now())
        await journal.start_run(
            session,
            run_id=run_id,
            operator=request.operator,
            account_number=account.number,
            paper=account.paper,
            dry_run=False,
            started_at=now(),
        )
    return tuple(
        f"run {earlier.run_id} started {earlier.started_at:%Y-%m-%d %H:%M:%SZ} by "
        f"{earlier.operator} stopped after {earlier.actions_finished} of "
        f"{earlier.actions_planned} actions"
        for earlier in unfinished
    )


def _refused(refusal: str) -> str:
    return f"the account refuses orders: {refusal}"


def _breaker_errors(the_plan: Plan) -> tuple[str, ...]:
    breaker = the_plan.circuit_breaker
    return (f"circuit breaker paused: {breaker.reason}",) if breaker.paused else ()


def _account(request: RunRequest, snapshot: Snapshot) -> AccountSummary:
    return AccountSummary(
        number=snapshot.broker.account.account_number,
        masked_key_id=request.masked_key_id,
        paper=snapshot.broker.account.is_paper,
        order_refusal=snapshot.broker.account.order_refusal,
    )


async def _trade_updates(broker: Broker) -> TradeUpdates | None:
    try:
        return await broker.open_trade_updates()
    except StreamUnavailable:
        return None  # stops are then confirmed by asking for each


async def _closed(opening: asyncio.Task[TradeUpdates | None]) -> None:
    """The run's stream closed; given up, if the run ended before it was open."""
    opening.cancel()
    await asyncio.wait({opening})
    if opening.cancelled():
        return
    updates = opening.result()  # a fault of the opening's own is not dropped here
    if updates is not None:
        await updates.close()
