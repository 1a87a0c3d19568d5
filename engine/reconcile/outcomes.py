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


class Refusal(StrEnum):
    """Why the broker did not take a stop, as far as the next read's plan cares."""

    # A rule of the symbol or the account (a wash trade, shares held by another order, an
    # account that refuses orders): a market exit on the same shares is refused as surely.
    SYMBOL_RULE = "symbol_rule"
    # A rule about the order's own terms (its price against the market, its tick, its time in
    # force): the same order is refused again; only different terms can go.
    TERMS_RULE = "terms_rule"
    # Refused for no rule recon knows, or taken and then never working: tried again, then the
    # shares are closed at market.
    UNFORESEEN = "unforeseen"


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
    refusal: Refusal | None = None  # set when the broker did not take a stop

    @property
    def journal_entry(self) -> JournalEntry:
        return JournalEntry(self.action.seq, self.outcome, self.detail)


@dataclass
class ExecutionReport:
    results: list[ActionResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    market_exits: int = 0
