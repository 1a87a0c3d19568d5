"""The guard: after a run, every position stays covered until the trading engine is back. The
trade_updates stream says when something changed, a REST sweep re-reads the whole book anyway,
and a position that lost its cover — or is covered for more than it holds — is put right by the
same plan a run makes, once a grace has passed and no stop of the trading engine's is pending
for it. Each time it acts, the guard journals a run of its own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.broker.errors import BrokerError
from engine.broker.protocol import Broker
from engine.clock import SYSTEM_CLOCK, Clock
from engine.domain import OrderRole, OrderState
from engine.reconcile.actions import ActionKind, PlanAction
from engine.reconcile.diff import PositionRow
from engine.reconcile.events import (
    AccountOrderState,
    DecisionCallback,
    GuardChecked,
    GuardCheckFailed,
    GuardRunFinished,
    Listener,
)
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.lock import HeldLock, ReconciliationLocked
from engine.reconcile.rate_limit_report import reporting_rate_limit
from engine.reconcile.result import EXIT_COMPLETED_WITH_ERRORS, RunResult, position_outcomes
from engine.reconcile.rounds import RunMemory
from engine.reconcile.rows import is_recon_row
from engine.reconcile.run import READ_FAILURES, Cycle, RunRequest
from engine.reconcile.snapshot import Snapshot
from engine.reconcile.stream_watch import StreamWatch
from engine.store import StoreError

log = structlog.get_logger("recon.guard")

GUARD_RUN_PREFIX = "guard-"
# A stop the trading engine is placing gets this long past the grace before recon covers the
# position anyway: an engine that died again must not leave it bare for good.
ENGINE_STOP_PATIENCE_SECONDS = 60.0
# A position recon could not cover is tried again at most this far apart.
LONGEST_RETRY_SECONDS = 300.0
_ENGINE_STOP_PENDING = frozenset({OrderState.PENDING_SUBMIT, OrderState.SUBMITTED})


class Guard:
    def __init__(
        self,
        request: RunRequest,
        settings: GuardSettings,
        *,
        broker: Broker,
        sessions: async_sessionmaker[AsyncSession],
        decide: DecisionCallback,
        emit: Listener,
        now: Callable[[], datetime],
        new_run_id: Callable[[], str],
        lock: HeldLock,
        asked: Iterable[str] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`lock` is the database's, held by the caller; `asked` are orders the operator has
        answered about already, in the run before."""
        self._settings = settings
        self._broker = broker
        self._lock = lock
        # Why the guard does not hold the lock now, None while it does.
        self._lock_trouble: str | None = None
        self._cycle = Cycle(
            request, broker=broker, sessions=sessions, decide=decide, emit=emit, now=now,
            clock=clock,
        )  # fmt: skip
        self._emit = emit
        self._new_run_id = new_run_id
        self._clock = clock
        self._wake = asyncio.Event()
        # Since when (monotonic) each position has been unsettled: needing cover, or a stop
        # of its not tracked by its local row.
        self._unsettled_since: dict[str, float] = {}
        # Per unsettled position, the seconds left before recon acts on it.
        self._waits: dict[str, float] = {}
        # Per position covered and still needing cover: attempts so far, and when to try again.
        self._attempts: dict[str, int] = {}
        self._next_try: dict[str, float] = {}
        # Orders already put to the operator: kept once, they are not asked about again.
        self._asked: set[str] = set(asked)
        # Why the account refused orders at the last read, None while it takes them.
        self._refusal: str | None = None
        self.runs: list[RunResult] = []

    async def watch(self, stopping: asyncio.Event) -> bool:
        """Guard until `stopping` is set; True if every position is covered at that moment."""
        stream = StreamWatch(
            self._broker, on_change=self._wake.set, emit=self._emit, clock=self._clock
        )
        listening = asyncio.create_task(stream.run())
        try:
            with reporting_rate_limit(self._broker, self._emit, self._clock):
                while not stopping.is_set():
                    self._wake.clear()
                    await self._check(stream)
                    await self._rest(stopping)
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
            if stream.updates is not None:
                await stream.updates.close()
        return await self._all_covered()

    async def _all_covered(self) -> bool:
        """Every position covered by stops the broker reports working, read from it now."""
        try:
            snapshot = await self._cycle.read()
        except READ_FAILURES as exc:
            log.error("guard_final_check_failed", error=str(exc))
            return False
        return all(
            outcome.protected
            for outcome in position_outcomes(snapshot.broker.positions, snapshot.broker.open_orders)
        )

    async def _rest(self, stopping: asyncio.Event) -> None:
        """Until the stream hears something, the sweep is due, a position's wait ends, or the
        guard is stopped."""
        timeout = min([self._settings.sweep_seconds, *(s for s in self._waits.values() if s > 0)])
        waits = {
            asyncio.create_task(self._wake.wait()),
            asyncio.create_task(stopping.wait()),
            asyncio.create_task(self._clock.sleep(timeout)),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _check(self, stream: StreamWatch) -> None:
        # Every sweep, not only before acting: a lock lost with its connection is taken back
        # at once, before another reconciliation can take it.
        holding = await self._lock_kept()
        try:
            snapshot = await self._cycle.read()
        except READ_FAILURES as exc:
            log.warning("guard_check_failed", error=str(exc))
            self._emit(GuardCheckFailed(str(exc)))
            return
        the_diff, full_plan = self._cycle.plan_for(snapshot)
        unsettled = {row.symbol for row in the_diff.positions if _needs_cover(row)} | {
            action.symbol for action in full_plan.actions if _tracks_a_stop(action)
        }
        self._waits = self._waits_for(snapshot, unsettled, self._clock.monotonic())
        self._emit(
            GuardChecked(the_diff, dict(self._waits), snapshot.taken_at, full_plan.circuit_breaker)
        )
        if self._account_refuses(snapshot):
            return  # every order would be refused; the sweeps watch for the account to clear
        due = frozenset(symbol for symbol, wait in self._waits.items() if wait <= 0)
        memory = RunMemory(asked=self._asked)
        if not due or memory.remaining(full_plan.only_for(due)).is_empty:
            return
        # Checked again just before acting: the connection may have gone since the sweep began.
        if not holding or not await self._lock_kept():
            return  # another reconciliation acts on this book now; the sweeps try again
        log.info("guard_covering", symbols=sorted(due))
        run_id = f"{GUARD_RUN_PREFIX}{self._new_run_id()}"
        try:
            result = await self._cycle.settle(
                snapshot,
                run_id=run_id,
                memory=memory,
                updates=stream.updates,
                select=lambda plan: plan.only_for(due),
                planned=(the_diff, full_plan),
            )
        except (BrokerError, StoreError) as exc:
            # The journal or the broker failed around the actions; the guard keeps watching.
            # Something may have been changed before it did: not finished, never "aborted".
            log.error("guard_run_failed", error=str(exc))
            self._emit(GuardCheckFailed(str(exc)))
            self._emit(GuardRunFinished(run_id, EXIT_COMPLETED_WITH_ERRORS))
        else:
            self.runs.append(result)
            self._emit(GuardRunFinished(run_id, result.exit_code))
        self._tried(due, self._clock.monotonic())
        self._wake.set()  # read the book again: the cover just placed is what it now holds

    async def _lock_kept(self) -> bool:
        """Whether the guard holds the database's lock before it acts — taken again if its
        connection was lost — said once each time that changes."""
        try:
            await self._lock.keep()
        except (ReconciliationLocked, StoreError) as exc:
            trouble = f"not acting: the database's lock is not held ({exc})"
            if trouble != self._lock_trouble:
                log.error("guard_lock_lost", error=str(exc))
                self._emit(GuardCheckFailed(trouble))
            self._lock_trouble = trouble
            return False
        if self._lock_trouble is not None:
            log.info("guard_lock_held_again")
            self._lock_trouble = None
        return True

    def _account_refuses(self, snapshot: Snapshot) -> bool:
        """Whether the account refuses orders now, said once each time that changes."""
        refusal = snapshot.broker.account.order_refusal
        if refusal != self._refusal:
            self._refusal = refusal
            if refusal is None:
                log.info("guard_account_takes_orders")
            else:
                log.error("guard_account_refuses_orders", refusal=refusal)
            self._emit(AccountOrderState(refusal))
        return refusal is not None

    def _waits_for(self, snapshot: Snapshot, unsettled: set[str], now: float) -> dict[str, float]:
        """Per unsettled position, the seconds until recon acts on it (zero: now): the grace
        from when it was first seen, longer while a stop of the trading engine's is pending for
        it, until the engine has had its patience."""
        for symbol in list(self._unsettled_since):
            if symbol not in unsettled:
                del self._unsettled_since[symbol]
                self._attempts.pop(symbol, None)
                self._next_try.pop(symbol, None)
        for symbol in unsettled:
            self._unsettled_since.setdefault(symbol, now)
        engine_pending = {
            order.symbol
            for order in snapshot.local.open_orders
            if order.order_role is OrderRole.STOP_LOSS
            and order.state in _ENGINE_STOP_PENDING
            and not is_recon_row(order)
        }
        waits = {}
        for symbol, since in self._unsettled_since.items():
            wait = self._settings.grace_seconds
            if symbol in engine_pending:
                wait += ENGINE_STOP_PATIENCE_SECONDS
            retry_at = self._next_try.get(symbol, now)
            waits[symbol] = max(since + wait - now, retry_at - now, 0.0)
        return waits

    def _tried(self, symbols: frozenset[str], now: float) -> None:
        """A position covered and still needing cover is tried again after a sweep, then
        after twice as long each time (a kept blocking order, a rule nobody foresaw), so the
        guard neither hammers the broker nor journals a run a second."""
        for symbol in symbols:
            self._attempts[symbol] = self._attempts.get(symbol, 0) + 1
            backoff = self._settings.sweep_seconds * 2 ** (self._attempts[symbol] - 1)
            self._next_try[symbol] = now + min(backoff, LONGEST_RETRY_SECONDS)


def _tracks_a_stop(action: PlanAction) -> bool:
    """An action that keeps the local rows tracking the broker's stops: a stop row taking the
    broker's state, or a stop (or a group) placed by hand adopted."""
    if action.kind in (ActionKind.ADOPT_ORPHAN_STOP, ActionKind.ADOPT_ORPHAN_GROUP):
        return True
    return action.local_order is not None and action.local_order.order_role is OrderRole.STOP_LOSS


def _needs_cover(row: PositionRow) -> bool:
    """Shares without a stop, or stops for more shares than are held."""
    return row.broker is not None and (row.uncovered_qty > 0 or row.covered_qty > row.broker.qty)
