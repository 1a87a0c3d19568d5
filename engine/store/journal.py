"""recon's own journal: each run (who, when, which account, dry or not, how it ended) and each
planned action with the operator's decision and its outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.store.models import ReconAction, ReconRun


@dataclass(frozen=True, slots=True)
class PlannedActionRecord:
    seq: int
    phase: str
    kind: str
    symbol: str
    target: str
    reason: str
    needs_decision: bool


@dataclass(frozen=True, slots=True)
class UnfinishedRun:
    run_id: str
    started_at: datetime
    operator: str
    actions_planned: int
    actions_finished: int


async def start_run(
    session: AsyncSession,
    *,
    run_id: str,
    operator: str,
    account_number: str,
    paper: bool,
    dry_run: bool,
    started_at: datetime,
) -> None:
    session.add(
        ReconRun(
            run_id=run_id,
            operator=operator,
            account_number=account_number,
            paper=paper,
            dry_run=dry_run,
            started_at=started_at,
        )
    )
    await session.flush()


async def record_planned_actions(
    session: AsyncSession, run_id: str, actions: Sequence[PlannedActionRecord]
) -> None:
    if not actions:
        return
    await session.execute(
        insert(ReconAction),
        [
            {
                "run_id": run_id,
                "seq": action.seq,
                "phase": action.phase,
                "kind": action.kind,
                "symbol": action.symbol,
                "target": action.target,
                "reason": action.reason,
                "needs_decision": action.needs_decision,
            }
            for action in actions
        ],
    )


async def record_decision(
    session: AsyncSession,
    run_id: str,
    seq: int,
    *,
    decision: str,
    decided_by: str,
    decided_at: datetime,
) -> None:
    await session.execute(
        update(ReconAction)
        .where(ReconAction.run_id == run_id, ReconAction.seq == seq)
        .values(decision=decision, decided_by=decided_by, decided_at=decided_at)
    )


async def record_outcome(
    session: AsyncSession,
    run_id: str,
    seq: int,
    *,
    outcome: str,
    detail: str,
    finished_at: datetime,
) -> None:
    await session.execute(
        update(ReconAction)
        .where(ReconAction.run_id == run_id, ReconAction.seq == seq)
        .values(outcome=outcome, outcome_detail=detail, finished_at=finished_at)
    )


async def finish_run(
    session: AsyncSession,
    run_id: str,
    *,
    outcome: str,
    finished_at: datetime,
    summary_json: str,
) -> None:
    await session.execute(
        update(ReconRun)
        .where(ReconRun.run_id == run_id)
        .values(outcome=outcome, finished_at=finished_at, summary_json=summary_json)
    )


async def find_unfinished_runs(session: AsyncSession) -> list[UnfinishedRun]:
    """Runs that started and never finished: killed halfway, to be reported by the next."""
    runs = (
        await session.scalars(
            select(ReconRun).where(ReconRun.finished_at.is_(None)).order_by(ReconRun.id)
        )
    ).all()
    if not runs:
        return []
    actions = (
        await session.scalars(
            select(ReconAction).where(ReconAction.run_id.in_([run.run_id for run in runs]))
        )
    ).all()
    unfinished = []
    for run in runs:
        mine = [action for action in actions if action.run_id == run.run_id]
        unfinished.append(
            UnfinishedRun(
                run_id=run.run_id,
                started_at=run.started_at,
                operator=run.operator,
                actions_planned=len(mine),
                actions_finished=sum(1 for action in mine if action.outcome is not None),
            )
        )
    return unfinished


async def close_unfinished_run(
    session: AsyncSession, run_id: str, *, noticed_by: str, at: datetime
) -> None:
    """Mark a killed run as such once reported, so it is reported once."""
    await session.execute(
        update(ReconRun)
        .where(ReconRun.run_id == run_id, ReconRun.finished_at.is_(None))
        .values(outcome=f"interrupted (noticed by run {noticed_by})", finished_at=at)
    )


async def load_run_actions(session: AsyncSession, run_id: str) -> list[ReconAction]:
    return list(
        (
            await session.scalars(
                select(ReconAction).where(ReconAction.run_id == run_id).order_by(ReconAction.seq)
            )
        ).all()
    )
