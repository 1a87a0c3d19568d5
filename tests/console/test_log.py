"""The event log under a burst: a run can publish hundreds of events between two catch-ups,
and the log must show every one of them, in the order they happened."""

from console.app import ReconApp
from console.widgets.event_log import EventLog
from engine.reconcile.actions import ActionKind, Phase, PlanAction
from engine.reconcile.diff import diff
from engine.reconcile.events import ActionSucceeded, DecisionCallback, Listener, SnapshotReady
from engine.reconcile.plan import plan
from engine.reconcile.result import RunResult
from tests.console.harness import PAPER_ACCOUNT, SIZE, StandInBackend, settle
from tests.factories import SETTINGS, make_snapshot

BURST = 250
NOTHING_TO_DO = diff(make_snapshot())
EMPTY = RunResult(
    run_id="burst",
    dry_run=True,
    account=PAPER_ACCOUNT,
    diff=NOTHING_TO_DO,
    plan=plan(make_snapshot(), NOTHING_TO_DO, SETTINGS),
)


class BurstBackend(StandInBackend):
    """Publishes a whole run's events at once, as an engine with nothing to wait for would."""

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
        await settle(pilot, lambda: app.main.diff is not None and app.settled)
        await pilot.press("r")
        await settle(pilot, lambda: app.last_run is not None and app.settled)
        lines = list(app.query_one(EventLog).lines)
    synced = [line.split(" order ")[1] for line in lines if " synced" in line]
    assert synced == [f"o{n} synced" for n in range(BURST)]
