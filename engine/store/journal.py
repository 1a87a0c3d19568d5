"""recon's own journal, tables `recon_run` and `recon_action`: each run (who, when, which account,
dry or not, how it ended) and each planned action with the operator's decision and its outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.secrets import scrub
from engine.store.errors import StoreError
from engine.store.models import Base, ReconAction, ReconRun

DECISIONS = frozenset({"confirmed", "declined", "undecided"})
OUTCOMES = frozenset({"succeeded", "failed", "skipped"})
_ACTIONS = Base.metadata.tables[ReconAction.__tablename__]
# Built once, as every action of a run records its outcome: the columns to set come with the
# parameters, the action is picked by `the_run` and `the_seq`.
_RECORD_OUTCOME = update(_ACTIONS).where(
    _ACTIONS.c.run_id == bindparam("the_run"), _ACTIONS.c.seq == bindparam("the_seq")
)


@dataclass(frozen=True, slots=True)
class PlannedActionRecord:
    """One action of a plan as the journal records it before anything is changed."""

    seq: int
    phase: str
    kind: str
    symbol: str
    target: str  # the order id or symbol the action is about
    reason: str
    needs_decision: bool


@dataclass(frozen=True, slots=True)
class JournaledAction:
    """A journaled action with what became of it; `None` where that has not happened yet."""

    seq: int
    phase: str
    kind: str
    symbol: str
    target: str
    reason: str
    needs_decision: bool
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    outcome: str | None
    outcome_detail: str | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One journaled run as it stands: `finished_at`, `outcome` and `summary_json` are None
    while it runs, or if it was killed before it finished."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    operator: str
    account_number: str
    paper: bool
    summary_json: str | None


@dataclass(frozen=True, slots=True)
class UnfinishedRun:
    """A run that started and never finished: killed halfway."""

    run_id: str
    started_at: datetime
    operator: str
    account_number: str
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
    """The whole plan in one statement, before its first action is carried out."""
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
    """`decision` is `confirmed`, `declined` or `undecided`."""
    _require_one_of(decision, DECISIONS, "decision")
    result = await session.execute(
        update(ReconAction)
        .where(ReconAction.run_id == run_id, ReconAction.seq == seq)
        .values(decision=decision, decided_by=decided_by, decided_at=decided_at)
    )
    _require_one_row(result, f"action {seq} of run {run_id}")


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """What became of one action: `outcome` is `succeeded`, `failed` or `skipped`."""

    seq: int
    outcome: str
    detail: str
    finished_at: datetime


async def record_outcome(
    session: AsyncSession,
    run_id: str,
    seq: int,
    *,
    outcome: str,
    detail: str,
    finished_at: datetime,
) -> None:
    """`outcome` is `succeeded`, `failed` or `skipped`."""
    await record_outcomes(session, run_id, [OutcomeRecord(seq, outcome, detail, finished_at)])


async def record_outcomes(
    session: AsyncSession, run_id: str, records: Sequence[OutcomeRecord]
) -> None:
    """Each action's outcome, in one statement for any number of them; every one of the
    actions must be in the journal already."""
    for record in records:
        _require_one_of(record.outcome, OUTCOMES, "outcome")
    # An UPDATE's result is a cursor's, which says how many rows it matched.
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        _RECORD_OUTCOME,
        [
            {
                "the_run": run_id,
                "the_seq": record.seq,
                "outcome": record.outcome,
                "outcome_detail": scrub(record.detail),  # an error's text may quote a secret
                "finished_at": record.finished_at,
            }
            for record in records
        ],
    )
    seqs = sorted({record.seq for record in records})
    if len(records) == 1 or result.supports_sane_multi_rowcount():
        missing = result.rowcount != len(records)
    else:  # asyncpg counts no rows of a statement run for many: the journal is asked instead
        present = await session.scalar(
            select(func.count())
            .select_from(_ACTIONS)
            .where(_ACTIONS.c.run_id == run_id, _ACTIONS.c.seq.in_(seqs))
        )
        missing = present != len(seqs)
    if missing and len(seqs) == 1:
        raise StoreError(f"the journal has no action {seqs[0]} of run {run_id}")
    if missing:
        raise StoreError(f"the journal is missing one or more of actions {seqs} of run {run_id}")


async def finish_run(
    session: AsyncSession,
    run_id: str,
    *,
    outcome: str,
    finished_at: datetime,
    summary_json: str | None,
) -> None:
    result = await session.execute(
        update(ReconRun)
        .where(ReconRun.run_id == run_id)
        .values(outcome=outcome, finished_at=finished_at, summary_json=summary_json)
    )
    _require_one_row(result, f"run {run_id}")


async def find_unfinished_runs(session: AsyncSession) -> list[UnfinishedRun]:
    """Runs that started and never finished, oldest first, each with how far it got: killed
    halfway, to be reported by the next run."""
    planned = func.count(ReconAction.id)
    finished = func.count(ReconAction.outcome)
    query = (
        select(
            ReconRun.run_id,
            ReconRun.started_at,
            ReconRun.operator,
            ReconRun.account_number,
            planned,
            finished,
        )
        .outerjoin(ReconAction, ReconAction.run_id == ReconRun.run_id)
        .where(ReconRun.finished_at.is_(None))
        .group_by(ReconRun.id)
        .order_by(ReconRun.id)
    )
    return [
        UnfinishedRun(
            run_id=run_id,
            started_at=started_at,
            operator=operator,
            account_number=account_number,
            actions_planned=actions_planned,
            actions_finished=actions_finished,
        )
        for run_id, started_at, operator, account_number, actions_planned, actions_finished in (
            await session.execute(query)
        ).all()
    ]


async def close_unfinished_run(
    session: AsyncSession, run_id: str, *, noticed_by: str, at: datetime
) -> None:
    """Mark a killed run as such once reported, so it is reported once."""
    await session.execute(
        update(ReconRun)
        .where(ReconRun.run_id == run_id, ReconRun.finished_at.is_(None))
        .values(outcome=f"interrupted (noticed by run {noticed_by})", finished_at=at)
    )


async def load_runs(session: AsyncSession, *, limit: int) -> list[RunRecord]:
    """The newest `limit` runs, newest first."""
    rows = await session.scalars(select(ReconRun).order_by(ReconRun.id.desc()).limit(limit))
    return [
        RunRecord(
            run_id=row.run_id,
            started_at=row.started_at,
            finished_at=row.finished_at,
            outcome=row.outcome,
            operator=row.operator,
            account_number=row.account_number,
            paper=row.paper,
            summary_json=row.summary_json,
        )
        for row in rows
    ]


async def load_run_actions(session: AsyncSession, run_id: str) -> list[JournaledAction]:
    rows = await session.scalars(
        select(ReconAction).where(ReconAction.run_id == run_id).order_by(ReconAction.seq)
    )
    return [
        JournaledAction(
            seq=row.seq,
            phase=row.phase,
            kind=row.kind,
            symbol=row.symbol,
            target=row.target,
            reason=row.reason,
            needs_decision=row.needs_decision,
            decision=row.decision,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            outcome=row.outcome,
            outcome_detail=row.outcome_detail,
            finished_at=row.finished_at,
        )
        for row in rows
    ]


def _require_one_of(value: str, allowed: frozenset[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(sorted(allowed))}, not {value!r}")


def _require_one_row(result: object, what: str) -> None:
    # A journal write that lands nowhere would leave the operator's record silently incomplete.
    if getattr(result, "rowcount", 0) != 1:
        raise StoreError(f"the journal has no {what}")
