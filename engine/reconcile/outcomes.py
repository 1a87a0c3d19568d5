"""What became of each action of a run: plain data the executor fills, the journal records and
the result reports, free of the broker and the database so reading a result imports neither."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from engine.domain import BrokerOrder
from engine.reconcile.actions import PlanAction
from engine.reconcile.events import Decision


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """An action's outcome as the journal records it — in the same transaction as the change
    it describes, so a killed run's journal never disagrees with its data."""

    seq: int
    outcome: Outcome
    detail: str


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: PlanAction
    outcome: Outcome
    detail: str
    decision: Decision | None = None
    broker_order: BrokerOrder | None = None  # what the broker holds after the action
    journaled: bool = False  # already written with the action's own change

    @property
    def journal_entry(self) -> JournalEntry:
        return JournalEntry(self.action.seq, self.outcome, self.detail)


@dataclass
class ExecutionReport:
    results: list[ActionResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    market_exits: int = 0
