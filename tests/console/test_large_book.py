"""A large book in the console is drawn a slice at a time, every row of it, and drawn again as
often as it changes without the console growing."""

import gc
import weakref

import pytest

from console.app import ReconApp
from console.screens import main as main_screen
from console.widgets.diff_tables import OrdersTable
from engine.reconcile.diff import diff
from engine.reconcile.events import DecisionCallback, Listener
from engine.reconcile.plan import plan
from engine.reconcile.result import RunResult
from tests.console.harness import PAPER_ACCOUNT, SIZE, StandInBackend, settle
from tests.factories import SETTINGS, make_local_order, make_snapshot

ORDERS = 5_000  # ten slices of lines, and ten more of measuring them
LARGE = make_snapshot(
    local_open=tuple(make_local_order(f"L{n}", f"S{n % 500:03d}") for n in range(ORDERS))
)
LARGE_DIFF = diff(LARGE)
PREVIEW = RunResult(
    run_id="large",
    dry_run=True,
    account=PAPER_ACCOUNT,
    diff=LARGE_DIFF,
    plan=plan(LARGE, LARGE_DIFF, SETTINGS),
)


class LargeBookBackend(StandInBackend):
    async def preview(self, emit: Listener) -> RunResult:
        return PREVIEW

    async def run(self, decide: DecisionCallback, emit: Listener) -> RunResult:
        raise AssertionError("nothing here runs")


async def connect() -> LargeBookBackend:
    return LargeBookBackend()


async def test_the_whole_book_is_drawn() -> None:
    app = ReconApp(connect)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.main.diff is not None and app.settled)
        assert app.main.query_one(OrdersTable).row_count == ORDERS


class Cycle:
    """Garbage only the cycle collector can free, as Textual's render caches leave behind."""

    def __init__(self) -> None:
        self.itself = self


async def test_garbage_a_drawing_froze_is_collected_once_the_screen_is_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A drawing freezes everything alive as it ends, garbage in cycles too: left so, a console
    that redraws all day would only grow. Once the screen is quiet, that garbage is collected."""
    monkeypatch.setattr(main_screen, "QUIET_BEFORE_COLLECTING_SECONDS", 2.0)
    app = ReconApp(connect)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.main.diff is not None and app.settled)
        gc.disable()  # the drawing turns it back on as it freezes
        garbage = weakref.ref(Cycle())
        app.main.filter_text = "S00"
        await settle(pilot, lambda: not app.main.drawing)
        gc.collect()
        frozen_with_the_drawing = garbage() is not None
        await pilot.pause(2.5)
    assert frozen_with_the_drawing
    assert garbage() is None
