"""The database side of a run over the store: each action's change in its own transaction with
its `order_event` row, forced states only through the state machine's gate, and the journal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.domain import BrokerOrder, LocalOrder, OrderState
from engine.reconcile.actions import PlanAction
from engine.reconcile.events import DecisionAnswer
from engine.reconcile.outcomes import JournalEntry
from engine.state_machine import OrderStateMachine
from engine.store import journal, queries
from engine.store.journal import PlannedActionRecord


class StoreLedger:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], run_id: str, now: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._run_id = run_id
        self._now = now
        # SQLite takes one writer at a time and makes the others sleep and retry; queueing
        # recon's own concurrent actions here is far faster than letting them collide.
        self._write_turn = asyncio.Lock()

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
        async with self._write_turn, self._sessions.begin() as session:
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

    async def insert_order(
        self, row: LocalOrder, *, event_type: str, detail: str, journal: JournalEntry
    ) -> None:
        async with self._write_turn, self._sessions.begin() as session:
            await queries.insert_order(
                session, row, event_type=event_type, detail=detail, at=self._now()
            )
            await self._record_outcome(session, journal)

    async def record_planned(self, actions: Sequence[PlanAction]) -> None:
        """A phase's actions, journaled before the first of them is carried out."""
        async with self._write_turn, self._sessions.begin() as session:
            await journal.record_planned_actions(
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
            )

    async def record_decision(self, seq: int, answer: DecisionAnswer) -> None:
        async with self._write_turn, self._sessions.begin() as session:
            await journal.record_decision(
                session,
                self._run_id,
                seq,
                decision=answer.decision,
                decided_by=answer.decided_by,
                decided_at=self._now(),
            )

    async def record_outcome(self, entry: JournalEntry) -> None:
        async with self._write_turn, self._sessions.begin() as session:
            await self._record_outcome(session, entry)

    async def _record_outcome(self, session: AsyncSession, entry: JournalEntry) -> None:
        await journal.record_outcome(
            session,
            self._run_id,
            entry.seq,
            outcome=entry.outcome,
            detail=entry.detail,
            finished_at=self._now(),
        )
