"""An action that fails in a way nobody foresaw: the run carries on to the next position and
reports one line, and the log keeps the traceback behind it."""

from collections.abc import Sequence
from typing import Any

from structlog.testing import capture_logs

from engine.domain import LocalOrder
from engine.reconcile.actions import ActionKind, Plan, PlanAction
from engine.reconcile.diff import diff
from engine.reconcile.events import DecisionAnswer
from engine.reconcile.execute import Executor
from engine.reconcile.outcomes import JournalEntry, Outcome
from engine.reconcile.plan import plan
from tests.factories import NOW, SETTINGS, make_position, make_snapshot


class LedgerWithABug:
    """Records nothing, and fails to insert any row with an error of its own."""

    async def apply_broker_state(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("not reached")

    async def insert_order(
        self, row: LocalOrder, *, event_type: str, detail: str, journal: JournalEntry
    ) -> None:
        raise KeyError("a bug in the ledger")

    async def record_planned(self, actions: Sequence[PlanAction]) -> None:
        pass

    async def record_decision(self, seq: int, answer: DecisionAnswer) -> None:
        pass

    async def record_outcome(self, entry: JournalEntry) -> None:
        pass


async def never_asked(action: PlanAction) -> DecisionAnswer:
    raise AssertionError("no decision in this plan")


async def test_an_unforeseen_failure_is_one_line_in_the_report_and_a_traceback_in_the_log() -> None:
    snapshot = make_snapshot(positions=(make_position("AAPL"), make_position("MSFT")))
    full = plan(snapshot, diff(snapshot), SETTINGS)
    entries = tuple(a for a in full.actions if a.kind is ActionKind.SYNTHETIC_ENTRY)
    assert [a.symbol for a in entries] == ["AAPL", "MSFT"]
    executor = Executor(
        broker=None,  # type: ignore[arg-type]  # a synthetic entry asks the broker nothing
        ledger=LedgerWithABug(),
        decide=never_asked,
        emit=lambda event: None,
        now=lambda: NOW,
    )
    with capture_logs() as logs:
        results = await executor.run(Plan(entries, full.circuit_breaker, ()))
    assert [(r.action.symbol, r.outcome) for r in results] == [
        ("AAPL", Outcome.FAILED),
        ("MSFT", Outcome.FAILED),
    ]
    assert executor.report.errors == [
        "synthetic_entry AAPL: KeyError: 'a bug in the ledger'",
        "synthetic_entry MSFT: KeyError: 'a bug in the ledger'",
    ]
    failed = [entry for entry in logs if entry["event"] == "action_failed"]
    assert [(entry["symbol"], entry["exc_info"]) for entry in failed] == [
        ("AAPL", True),
        ("MSFT", True),
    ]
    assert all(entry["log_level"] == "error" for entry in failed)
