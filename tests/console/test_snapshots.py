"""The console's key states, pinned as SVG snapshots: a fixed clock, fixed ids, nothing that
moves in frame."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable

from console.app import ReconApp
from console.screens.decision import DecisionScreen
from console.screens.history import HistoryScreen, RunScreen
from console.screens.position import PositionScreen
from console.screens.summary import SummaryScreen
from console.widgets.diff_tables import PositionsTable
from engine.reconcile.diff import Protection
from engine.simulator.faults import Fault, FaultKind
from engine.simulator.scenarios import load_scenario
from tests.console.harness import (
    SIZE,
    console_app,
    fleet_console_app,
    open_stop,
    settle,
    small_day,
)

SnapCompare = Callable[..., bool]


def ready(app: ReconApp) -> Callable[[], bool]:
    return lambda: app.main.diff is not None and app.settled


def test_before_the_run(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):

        async def loaded(pilot: Pilot[int]) -> None:
            await settle(pilot, ready(app))

        assert snap_compare(app, terminal_size=SIZE, run_before=loaded)


def test_plan_preview(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):

        async def plan_shown(pilot: Pilot[int]) -> None:
            await settle(pilot, ready(app))
            await pilot.press("p")
            await settle(pilot, lambda: type(app.screen).__name__ == "PlanScreen")

        assert snap_compare(app, terminal_size=SIZE, run_before=plan_shown)


def test_orphan_dialog(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):

        async def asked(pilot: Pilot[int]) -> None:
            await settle(pilot, ready(app))
            await pilot.press("r")
            await settle(pilot, lambda: isinstance(app.screen, DecisionScreen))

        assert snap_compare(app, terminal_size=SIZE, run_before=asked)


def test_mid_run_with_a_stop_pending(snap_compare: SnapCompare, tmp_path: Path) -> None:
    # The simulator's clock stands still, so the broker never confirms the stop.
    with console_app(tmp_path, small_day(), accept_delay=timedelta(hours=1)) as (app, _):

        async def pending(pilot: Pilot[int]) -> None:
            await settle(pilot, ready(app))
            await pilot.press("r")
            for _ in range(2):
                await settle(pilot, lambda: isinstance(app.screen, DecisionScreen))
                await pilot.press("y")
            await settle(
                pilot, lambda: app.main.protection.protection_of("NVDA") is Protection.STOP_PENDING
            )

        assert snap_compare(app, terminal_size=SIZE, run_before=pending)


def test_finished_with_every_position_protected(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, _):

        async def finished(pilot: Pilot[int]) -> None:
            # Finished, the tables refreshed from the broker, and the guard has read the book.
            await run_until_guarding(app, pilot)
            assert set(app.main.protection.by_symbol.values()) == {Protection.PROTECTED}

        assert snap_compare(app, terminal_size=SIZE, run_before=finished)


def test_guarding_after_a_stop_was_lost_and_covered_again(
    snap_compare: SnapCompare, tmp_path: Path
) -> None:
    with console_app(tmp_path, small_day()) as (app, simulator):

        async def covered_again(pilot: Pilot[int]) -> None:
            await run_until_guarding(app, pilot)
            await pilot.press("escape")
            simulator.broker.cancel(open_stop(simulator, "NVDA"))
            await settle(
                pilot, lambda: app.main.protection.protection_of("NVDA") is Protection.UNPROTECTED
            )
            await settle(
                pilot, lambda: app.main.protection.protection_of("NVDA") is Protection.PROTECTED
            )
            await settle(pilot, lambda: app.settled and guarding(app))

        assert snap_compare(app, terminal_size=SIZE, run_before=covered_again)


async def run_until_guarding(app: ReconApp, pilot: Pilot[int]) -> None:
    """The small day run with every decision confirmed: its summary up, the guard reading."""
    await settle(pilot, ready(app))
    await pilot.press("r")
    await settle(pilot, lambda: isinstance(app.screen, DecisionScreen))
    await pilot.press("a")
    await settle(pilot, lambda: isinstance(app.screen, SummaryScreen) and guarding(app))


def guarding(app: ReconApp) -> bool:
    return app.settled and "stream up · book read" in app.main.guard_status


def test_broker_unreachable(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, simulator):
        simulator.faults.add(Fault(FaultKind.STATUS, path="/v2/account", status=503, times=None))

        async def refused(pilot: Pilot[int]) -> None:
            await settle(pilot, lambda: app.last_result is not None and app.settled)

        assert snap_compare(app, terminal_size=SIZE, run_before=refused)


async def _run_and_open_history(app: ReconApp, pilot: Pilot[int]) -> None:
    await run_until_guarding(app, pilot)
    await pilot.press("escape", "h")
    await settle(pilot, lambda: isinstance(app.screen, HistoryScreen))


def test_run_history(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, _):

        async def history(pilot: Pilot[int]) -> None:
            await _run_and_open_history(app, pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=history)


def test_a_run_opened_from_the_history(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, _):

        async def opened(pilot: Pilot[int]) -> None:
            await _run_and_open_history(app, pilot)
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, RunScreen))

        assert snap_compare(app, terminal_size=SIZE, run_before=opened)


def test_before_the_run_at_80_by_24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):

        async def loaded(pilot: Pilot[int]) -> None:
            await settle(pilot, ready(app))

        assert snap_compare(app, terminal_size=(80, 24), run_before=loaded)


def test_before_the_run_at_100_by_30(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):

        async def loaded(pilot: Pilot[int]) -> None:
            await settle(pilot, ready(app))

        assert snap_compare(app, terminal_size=(100, 30), run_before=loaded)


def test_finished_at_100_by_30(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):

        async def finished(pilot: Pilot[int]) -> None:
            await run_until_guarding(app, pilot)
            await pilot.press("escape")
            await settle(pilot, lambda: guarding(app))

        assert snap_compare(app, terminal_size=(100, 30), run_before=finished)


def test_a_positions_detail(snap_compare: SnapCompare, tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, _):

        async def detail(pilot: Pilot[int]) -> None:
            await _run_and_open_history(app, pilot)
            await pilot.press("escape")
            app.query_one(PositionsTable).focus()
            await pilot.press("down", "enter")
            await settle(pilot, lambda: isinstance(app.screen, PositionScreen))
            events = app.screen.query_one("#position-events", DataTable)
            await settle(pilot, lambda: events.row_count > 0)

        assert snap_compare(app, terminal_size=SIZE, run_before=detail)


def test_the_fleet_before_the_run(snap_compare: SnapCompare, tmp_path: Path) -> None:
    scenarios = {"alpha": small_day(), "bravo": load_scenario("protected_book")}
    with fleet_console_app(tmp_path, scenarios, live=frozenset({"bravo"})) as (app, _):

        async def read(pilot: Pilot[int]) -> None:
            await settle(
                pilot,
                lambda: all(a.state().positions is not None for a in app.accounts) and app.settled,
            )

        assert snap_compare(app, terminal_size=SIZE, run_before=read)
