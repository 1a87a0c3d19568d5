"""A fleet row's "protected x of y" and its account's screen say the same of every position,
during a run that places and confirms a stop as well as after it, whichever screen is open."""

import asyncio
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from console.app import FleetApp
from console.screens.fleet import COLUMNS, FleetScreen
from console.screens.main import MainScreen
from console.screens.summary import SummaryScreen
from console.widgets.diff_tables import PositionsTable
from engine.reconcile.actions import ActionKind
from engine.reconcile.diff import diff
from engine.reconcile.events import (
    DecisionCallback,
    Listener,
    SnapshotReady,
    StopConfirmed,
    StopSubmitted,
)
from engine.reconcile.outcomes import Outcome
from engine.reconcile.plan import plan
from engine.reconcile.result import PositionOutcome, RunResult
from engine.reconcile.snapshot import Snapshot
from tests.console.harness import (
    PAPER_ACCOUNT,
    SIZE,
    StandInBackend,
    fleet_console_app,
    settle,
    small_day,
)
from tests.factories import SETTINGS, D, make_broker_order, make_position, make_snapshot

POSITIONS = (make_position("AAPL"), make_position("NVDA"))


def preview_of(snapshot: Snapshot) -> RunResult:
    read = diff(snapshot)
    return RunResult(
        "preview",
        dry_run=True,
        account=PAPER_ACCOUNT,
        diff=read,
        plan=plan(snapshot, read, SETTINGS),
    )


# AAPL's stop works; NVDA has none, so the plan places one.
BEFORE = preview_of(make_snapshot(positions=POSITIONS, open_orders=(make_broker_order("AAPL"),)))
AFTER = preview_of(
    make_snapshot(
        positions=POSITIONS, open_orders=(make_broker_order("AAPL"), make_broker_order("NVDA"))
    )
)
RUN = RunResult(
    "run-1",
    dry_run=False,
    account=PAPER_ACCOUNT,
    diff=BEFORE.diff,
    plan=BEFORE.plan,
    positions=tuple(PositionOutcome(p.symbol, p.qty, "long", True, ()) for p in POSITIONS),
)


class HeldAfterTheStop(StandInBackend):
    """A run that places NVDA's stop, hears it confirmed, then waits for the test before its
    next read of the broker."""

    def __init__(self) -> None:
        super().__init__()
        self.confirmed = asyncio.Event()
        self.let_go = asyncio.Event()

    async def preview(self, emit: Listener) -> RunResult:
        return AFTER if self.let_go.is_set() else BEFORE

    async def run(self, decide: DecisionCallback, emit: Listener) -> RunResult:
        assert BEFORE.diff is not None and BEFORE.plan is not None
        emit(SnapshotReady(BEFORE.diff, BEFORE.plan))
        emit(StopSubmitted("NVDA", "stop-nvda", D(100)))
        emit(StopConfirmed("NVDA", "stop-nvda", D(100)))
        self.confirmed.set()
        await self.let_go.wait()
        return RUN


def fleet_row(app: FleetApp, name: str) -> dict[str, str]:
    table = app.screen_stack[0].query_one("#fleet", DataTable)
    cells = table.get_row(name)
    return {column: cell.plain.strip() for column, cell in zip(COLUMNS, cells, strict=True)}


def screen_says(screen: MainScreen) -> tuple[str, list[str]]:
    """The screen's tally of protected positions ("2 of 2"), and each row's protection."""
    counts = str(screen.query_one("#position-counts", Static).render())
    tally = counts.rsplit(" · ", 1)[-1].removesuffix(" protected")
    rows = [cell.strip() for cell in screen.query_one(PositionsTable).column("protection")]
    return tally, rows


async def open_the_account(app: FleetApp, pilot: Pilot[int]) -> MainScreen:
    await settle(pilot, lambda: app.accounts[0].book is not None and app.settled)
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(app.screen, MainScreen) and app.settled)
    return app.main


async def back_to_the_fleet(app: FleetApp, pilot: Pilot[int]) -> None:
    await pilot.press("escape")
    await settle(pilot, lambda: isinstance(app.screen, FleetScreen))


async def test_a_stop_confirmed_mid_run_counts_on_the_fleet_row_as_on_the_screen() -> None:
    backend = HeldAfterTheStop()

    async def connect() -> HeldAfterTheStop:
        return backend

    app = FleetApp({"alpha": connect})
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_the_account(app, pilot)
        before = screen_says(screen)
        await pilot.press("r")
        await settle(pilot, backend.confirmed.is_set)
        mid_run = screen_says(screen)
        await back_to_the_fleet(app, pilot)
        row_mid_run = fleet_row(app, "alpha")["protected"]
        backend.let_go.set()
        await settle(pilot, lambda: app.accounts[0].last_run is not None and app.settled)
    assert before == ("1 of 2", ["PROTECTED", "UNPROTECTED"])
    # The run has not read the broker again yet: only the confirmation says NVDA is covered.
    assert mid_run == ("2 of 2", ["PROTECTED", "PROTECTED"])
    assert row_mid_run == "2 of 2"


async def test_after_a_run_that_placed_a_stop_the_fleet_row_and_the_account_agree(
    tmp_path: Path,
) -> None:
    with fleet_console_app(tmp_path, {"alpha": small_day()}) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_the_account(app, pilot)
            before = screen_says(screen)
            row_before = fleet_row(app, "alpha")["protected"]
            await pilot.press("r")
            await settle(pilot, lambda: app.screen is not screen)  # the orphans' question
            await pilot.press("a")
            await settle(pilot, lambda: isinstance(app.screen, SummaryScreen) and app.settled)
            await pilot.press("escape")
            await settle(pilot, lambda: app.screen is screen and app.settled)
            after = screen_says(screen)
            await back_to_the_fleet(app, pilot)
            row_after = fleet_row(app, "alpha")["protected"]
            run = app.accounts[0].last_run
    assert before == ("1 of 2", ["PROTECTED", "UNPROTECTED"])
    assert row_before == "1 of 2"
    assert run is not None and run.report is not None
    stops = [r for r in run.report.results if r.action.kind is ActionKind.EMERGENCY_STOP]
    assert [(r.action.symbol, r.outcome) for r in stops] == [("NVDA", Outcome.SUCCEEDED)]
    assert after == ("2 of 2", ["PROTECTED", "PROTECTED"])
    assert row_after == "2 of 2"
