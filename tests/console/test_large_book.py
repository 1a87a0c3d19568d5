"""A large book in the console is drawn a slice at a time, every row of it."""

from console.app import ReconApp
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
