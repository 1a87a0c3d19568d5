"""The event log under a burst: a run can publish hundreds of events between two catch-ups,
and the log must show every one of them, in the order they happened."""

from dataclasses import dataclass

from textual.widgets import RichLog

from console.app import LOG_LINES_PER_WRITE, ReconApp
from engine.reconcile.actions import ActionKind, Phase, PlanAction
from engine.reconcile.diff import diff
from engine.reconcile.events import ActionSucceeded, DecisionCallback, Listener, SnapshotReady
from engine.reconcile.plan import plan
from engine.reconcile.result import RunResult
from tests.console.harness import SIZE, settle
from tests.factories import SETTINGS, make_snapshot

BURST = LOG_LINES_PER_WRITE * 2 + 50
NOTHING_TO_DO = diff(make_snapshot())
EMPTY = RunResult(
    run_id="burst",
    dry_run=True,
    diff=NOTHING_TO_DO,
    plan=plan(make_snapshot(), NOTHING_TO_DO, SETTINGS),
)


@dataclass(frozen=True)
class BurstBackend:
    """Publishes a whole run's events at once, as an engine with nothing to wait for would."""

    database: str = "burst.db"
    masked_key_id: str = "PK…7Q"
    paper: bool = True
    operator: str = "ops"

    async def preview(self, emit: Listener) -> RunResult:
        return EMPTY

    async def run(self, decide: DecisionCallback, emit: Listener) -> RunResult:
        assert EMPTY.diff is not None and EMPTY.plan is not None
        emit(SnapshotReady(EMPTY.diff, EMPTY.plan))
        for n in range(BURST):
            action = PlanAction(n, Phase.ORDERS, ActionKind.TAKE_BROKER_STATE, "AAPL", f"o{n}", "")
            emit(ActionSucceeded(action, f"order o{n} synced"))
        return EMPTY


async def test_a_burst_of_events_reaches_the_log_whole_and_in_order() -> None:
    async def connect() -> BurstBackend:
        return BurstBackend()

    app = ReconApp(connect)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.diff is not None and app.settled)
        await pilot.press("r")
        await settle(pilot, lambda: app.last_run is not None and app.settled)
        lines = [strip.text for strip in app.query_one(RichLog).lines]
    synced = [line.split(" order ")[1] for line in lines if " synced" in line]
    assert synced == [f"o{n} synced" for n in range(BURST)]
