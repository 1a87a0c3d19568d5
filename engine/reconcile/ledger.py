"""The database side of a run over the store: each action's change with its `order_event` row,
forced states only through the state machine's gate, and the journal. A write returns once it
is committed. Writes that arrive while another transaction commits share the next one (a group
commit): a hundred stops confirmed together cost two commits, not a hundred; and the new orders
among them go in three statements, not three each. A write the
database refuses for being locked or unreachable is tried again with backoff for a bounded
time: by then the broker may hold what the write records."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.clock import SYSTEM_CLOCK, Clock
from engine.domain import BrokerOrder, LocalOrder, OrderState
from engine.reconcile.actions import PlanAction
from engine.reconcile.events import DecisionAnswer
from engine.reconcile.outcomes import JournalEntry
from engine.state_machine import OrderStateMachine
from engine.store import PASSING_FAULTS, journal, queries, typed_store_errors
from engine.store.journal import OutcomeRecord, PlannedActionRecord
from engine.store.queries import NewOrderRecord

# The pauses between tries of a write the database refused for the moment: with SQLite's busy
# timeout before each try, about 45 s in all before the write is given up and reported.
WRITE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)

Write = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class _NewOrder:
    """A new order's row, its creation event and its action's outcome."""

    row: LocalOrder
    event_type: str
    detail: str
    journal: JournalEntry


@dataclass(frozen=True)
class _Pending:
    """One write waiting for its transaction, and what became of it. A new order's write
    says which it is, so that the new orders waiting side by side are written together."""

    doing: str
    write: Write
    new_order: _NewOrder | None = None
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def finish(self, error: BaseException | None) -> None:
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


class StoreLedger:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        run_id: str,
        now: Callable[[], datetime],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._sessions = sessions
        self._run_id = run_id
        self._now = now
        self._clock = clock
        # SQLite takes one writer at a time and makes the others sleep and retry; queueing
        # recon's own concurrent actions here is far faster than letting them collide.
        self._write_turn = asyncio.Lock()
        # Writes not yet taken into a transaction, oldest first.
        self._waiting: list[_Pending] = []

    async def apply_broker_state(
        self,
        local: LocalOrder,
        new_state: OrderState,
        broker: BrokerOrder | None,
        *,
        event_type: str,
        detail: str,
        journal: JournalEntry,
    ) -> None:
        # The broker is the truth, but only a reconciliation may say so, and only through here.
        OrderStateMachine(local.state).force_state(new_state, _reconciliation=True)
        fill_price = local.avg_fill_price
        if broker is not None and broker.filled_avg_price is not None:
            fill_price = broker.filled_avg_price

        async def write(session: AsyncSession) -> None:
            await queries.apply_state_change(
                session,
                local.local_id,
                expected_state=local.state,
                new_state=new_state,
                broker_id=broker.id if broker is not None else local.broker_id,
                qty_filled=broker.filled_qty if broker is not None else local.qty_filled,
                avg_fill_price=fill_price,
                event_type=event_type,
                detail=detail,
                at=self._now(),
                terms=None
                if broker is None
                else queries.OrderTerms(broker.qty, broker.stop_price, broker.limit_price),
            )
            await self._record_outcome(session, journal)

        await self._write(f"record {local.local_id} as {new_state}", write)

    async def insert_order(
        self, row: LocalOrder, *, event_type: str, detail: str, journal: JournalEntry
    ) -> None:
        new_order = _NewOrder(row, event_type, detail, journal)
        await self._write(
            f"record {row.local_id}",
            lambda session: self._record_new_orders(session, [new_order]),
            new_order,
        )

    async def record_planned(self, actions: Sequence[PlanAction]) -> None:
        """A phase's actions, journaled before the first of them is carried out."""
        await self._write(
            "journal the planned actions",
            lambda session: journal.record_planned_actions(
                session,
                self._run_id,
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
                    for action in actions
                ],
            ),
        )

    async def record_decision(self, seq: int, answer: DecisionAnswer) -> None:
        await self._write(
            f"journal the decision on action {seq}",
            lambda session: journal.record_decision(
                session,
                self._run_id,
                seq,
                decision=answer.decision,
                decided_by=answer.decided_by,
                decided_at=self._now(),
            ),
        )

    async def record_outcome(self, entry: JournalEntry) -> None:
        await self._write(
            f"journal the outcome of action {entry.seq}",
            lambda session: self._record_outcome(session, entry),
        )

    async def _write(self, doing: str, write: Write, new_order: _NewOrder | None = None) -> None:
        """`write`, committed — with whatever other writes wait beside it — before this
        returns; raises the store's typed error once the database's refusals have outlasted
        the tries, or at once for any other failure."""
        pending = _Pending(doing, write, new_order)
        self._waiting.append(pending)
        try:
            async with self._write_turn:
                if not pending.done.done():  # not committed with the writes before it
                    batch, self._waiting = self._waiting, []
                    try:
                        await self._commit(batch)
                    finally:
                        # Stopped part way (cancelled): the writes it carried for others go
                        # to whoever commits next.
                        unfinished = [p for p in batch if not p.done.done() and p is not pending]
                        self._waiting[:0] = unfinished
        except asyncio.CancelledError:
            if pending in self._waiting:
                self._waiting.remove(pending)
            raise
        await pending.done

    async def _commit(self, batch: list[_Pending]) -> None:
        """The batch in one transaction. If it fails for any reason but the database refusing
        writes for the moment, one of them may be at fault: each is tried alone, so the others
        still land and only the faulty one fails."""
        try:
            await self._in_one_transaction(batch)
        except PASSING_FAULTS as exc:
            for pending in batch:
                pending.finish(exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                batch[0].finish(exc)
                return
            for pending in batch:
                try:
                    await self._in_one_transaction([pending])
                except Exception as alone:
                    pending.finish(alone)
                else:
                    pending.finish(None)
            return
        for pending in batch:
            pending.finish(None)

    async def _in_one_transaction(self, batch: list[_Pending]) -> None:
        """Tried again while the database refuses the transaction for the moment (locked, or
        its connection lost), up to the bounded delays."""
        doing = batch[0].doing
        if len(batch) > 1:
            doing = f"{doing} and {len(batch) - 1} more writes in one transaction"
        for delay in (*WRITE_RETRY_DELAYS, None):
            try:
                async with typed_store_errors(doing), self._sessions.begin() as session:
                    await self._write_in_order(session, batch)
                return
            except PASSING_FAULTS:
                if delay is None:
                    raise
            await self._clock.sleep(delay)

    async def _write_in_order(self, session: AsyncSession, batch: list[_Pending]) -> None:
        """The batch's writes in the order they came, new orders side by side written as one."""
        for new_orders, run in itertools.groupby(batch, key=lambda p: p.new_order is not None):
            writes = list(run)
            if new_orders and len(writes) > 1:
                async with typed_store_errors(f"record {len(writes)} new orders"):
                    await self._record_new_orders(
                        session, [p.new_order for p in writes if p.new_order is not None]
                    )
                continue
            for pending in writes:
                async with typed_store_errors(pending.doing):
                    await pending.write(session)

    async def _record_new_orders(
        self, session: AsyncSession, new_orders: Sequence[_NewOrder]
    ) -> None:
        at = self._now()
        await queries.insert_orders(
            session,
            [NewOrderRecord(new.row, new.event_type, new.detail, at) for new in new_orders],
        )
        await journal.record_outcomes(
            session,
            self._run_id,
            [
                OutcomeRecord(new.journal.seq, new.journal.outcome, new.journal.detail, at)
                for new in new_orders
            ],
        )

    async def _record_outcome(self, session: AsyncSession, entry: JournalEntry) -> None:
        await journal.record_outcome(
            session,
            self._run_id,
            entry.seq,
            outcome=entry.outcome,
            detail=entry.detail,
            finished_at=self._now(),
        )
