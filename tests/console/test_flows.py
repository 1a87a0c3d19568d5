"""The console's flows under the pilot, against the real engine and simulator."""

import fcntl
import stat
from datetime import timedelta
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

import console.app
from console.app import Backend, ReconApp
from console.messages import RunFinished
from console.screens.confirm import ConfirmScreen
from console.screens.decision import DecisionScreen
from console.screens.history import HistoryScreen, RunScreen
from console.screens.live_gate import LiveGateScreen
from console.screens.position import PositionScreen
from console.screens.summary import SummaryScreen
from console.widgets.diff_tables import OrdersTable, PositionsTable
from engine.reconcile.diff import Match, Protection
from engine.simulator.demo import demo_service
from engine.simulator.faults import Fault, FaultKind
from engine.simulator.runner import Simulator, SimulatorThread
from tests.console.harness import (
    CRASH_TIME,
    FAST_GUARD,
    LIVE_ACCOUNT_NUMBER,
    SIZE,
    LabelledBackend,
    console_app,
    open_stop,
    seeded_backend,
    settle,
    small_day,
)

ORPHANS = {"mobile-googl-dip-buy": "GOOGL", "phone-qqq-dip": "QQQ"}


def ready(app: ReconApp) -> bool:
    return app.main.diff is not None and app.settled


def open_orphans(simulator: Simulator) -> set[str]:
    return {
        ORPHANS[order.client_order_id]
        for order in simulator.broker.orders.values()
        if order.is_open and order.client_order_id in ORPHANS
    }


async def until_asked(app: ReconApp, pilot: Pilot[int]) -> None:
    await settle(pilot, lambda: isinstance(app.screen, DecisionScreen))


async def start_run(app: ReconApp, pilot: Pilot[int]) -> None:
    await settle(pilot, lambda: ready(app))
    await pilot.press("r")


async def until_finished(app: ReconApp, pilot: Pilot[int]) -> None:
    await settle(pilot, lambda: isinstance(app.screen, SummaryScreen))


async def run_then_guard(app: ReconApp, pilot: Pilot[int]) -> None:
    """The small day run with every decision confirmed, then the console guarding it."""
    await start_run(app, pilot)
    await until_asked(app, pilot)
    await pilot.press("a")
    await until_finished(app, pilot)
    await settle(pilot, lambda: "stream up" in app.main.guard_status)
    await pilot.press("escape")


async def test_confirming_cancels_the_orphan(tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, simulator):
        async with app.run_test(size=SIZE) as pilot:
            await start_run(app, pilot)
            await until_asked(app, pilot)
            assert str(app.screen.query_one("#decision-title").render()).startswith(
                "Cancel orphan order"
            )
            await pilot.press("y")
            await until_asked(app, pilot)
            await pilot.press("y")
            await until_finished(app, pilot)
    assert open_orphans(simulator) == set()


async def test_declining_keeps_the_orphan(tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, simulator):
        async with app.run_test(size=SIZE) as pilot:
            await start_run(app, pilot)
            for _ in ORPHANS:
                await until_asked(app, pilot)
                await pilot.press("n")
            await until_finished(app, pilot)
    assert open_orphans(simulator) == {"GOOGL", "QQQ"}
    assert app.last_run is not None
    assert app.last_run.to_json()["orphan_orders_kept"] == 2


async def test_confirm_all_answers_the_remaining_orphans_of_that_kind(tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, simulator):
        async with app.run_test(size=SIZE) as pilot:
            await start_run(app, pilot)
            await until_asked(app, pilot)
            await pilot.press("a")
            await until_finished(app, pilot)
    assert open_orphans(simulator) == set()
    assert app.last_run is not None
    assert app.last_run.to_json()["orphan_orders_canceled"] == 2


async def test_quit_during_a_run_asks_first(tmp_path: Path) -> None:
    with console_app(tmp_path, small_day(), accept_delay=timedelta(hours=1)) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await start_run(app, pilot)
            await until_asked(app, pilot)
            await pilot.press("a")
            await settle(pilot, lambda: not isinstance(app.screen, DecisionScreen))
            assert app.running
            await pilot.press("q")
            await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")
            await settle(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            assert app.is_running and app.running
            await pilot.press("q")
            await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await pilot.pause()
        assert app.return_value == 1


async def test_live_account_requires_typing_the_account_number(tmp_path: Path) -> None:
    """The simulator answers on loopback; its account, numbered as a live one, makes it live."""
    with console_app(tmp_path, small_day(), paper=False) as (app, simulator):
        async with app.run_test(size=SIZE) as pilot:
            await start_run(app, pilot)
            await settle(pilot, lambda: isinstance(app.screen, LiveGateScreen))
            gate = app.screen
            gate.query_one(Input).value = "912345670"
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, LiveGateScreen)
            assert not app.running
            assert simulator.requests.count("POST") == simulator.requests.count("DELETE") == 0
            gate.query_one(Input).value = LIVE_ACCOUNT_NUMBER
            await pilot.press("enter")
            await until_asked(app, pilot)
            assert app.running


async def test_filter_shows_only_matching_symbols(tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: ready(app))
            await pilot.press("slash", "n", "v", "d", "a", "enter")
            await settle(pilot, lambda: ready(app))
            orders = app.query_one(OrdersTable)
            positions = app.query_one(PositionsTable)
            assert orders.keys == ["NVDA-stop"]
            assert positions.keys == ["NVDA"]
            await pilot.press("escape")
            await settle(pilot, lambda: ready(app))
            assert positions.row_count == 13


async def test_help_lists_every_key(tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            assert type(app.screen).__name__ == "HelpScreen"
            text = " ".join(str(s.render()) for s in app.screen.query("Static"))
            for key in ("r", "p", "/", "y / n", "a", "?", "q"):
                assert key in text


async def test_the_palette_reaches_every_screen_and_a_position_from_it(tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: ready(app))
            commands = {command.title: command for command in app.get_system_commands(app.main)}
            assert {"Run history", "Position detail", "Zoom", "Show plan", "Help"} <= set(commands)
            app.query_one(PositionsTable).move_cursor(1)
            commands["Position detail"].callback()
            await settle(pilot, lambda: isinstance(app.screen, PositionScreen))
            assert str(app.screen.query_one("#position-title").render()).startswith("AMD ")


async def test_after_the_run_the_tables_show_the_brokers_state_whole(tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await start_run(app, pilot)
            await until_asked(app, pilot)
            await pilot.press("a")
            await settle(pilot, lambda: isinstance(app.screen, SummaryScreen) and app.settled)
            positions = app.query_one(PositionsTable)
            covers = positions.column("stops")
            shown = positions.render_line(1 + covers.index("1,000 of 1,000")).text
            main = app.main
    assert main.diff is not None
    assert {row.match for row in main.diff.orders} == {Match.MATCHED}
    assert set(main.protection.by_symbol.values()) == {Protection.PROTECTED}
    assert "1,000 of 1,000" in covers  # SNDL, which read "0 of 1,000" before the run
    assert "1,000 of 1,000" in shown  # the column grew with it, nothing cut


async def test_when_the_broker_comes_back_p_tries_again(tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, simulator):
        simulator.faults.add(Fault(FaultKind.STATUS, path="/v2/account", status=503, times=None))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: app.last_result is not None and app.settled)
            assert app.main.diff is None
            assert "p to try again" in str(app.query_one("#status", Static).render())
            await pilot.press("r")  # nothing to run without the broker's side
            await pilot.pause()
            assert not app.running
            simulator.faults.clear()
            await pilot.press("p")
            await settle(pilot, lambda: type(app.screen).__name__ == "PlanScreen")
            assert app.main.diff is not None
    assert simulator.requests.count("POST") == simulator.requests.count("DELETE") == 0


async def test_a_run_while_another_reconciliation_holds_the_database_says_so_and_stays_up(
    tmp_path: Path,
) -> None:
    """`recon guard` running as a service holds the database; the operator presses r."""
    with console_app(tmp_path, small_day()) as (app, simulator):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: ready(app))
            # As `recon guard` would: the database file locked, its pid in the note beside it.
            (tmp_path / "engine.db.recon.lock").write_text("4242")
            with (tmp_path / "engine.db").open("rb") as database:
                fcntl.flock(database, fcntl.LOCK_EX | fcntl.LOCK_NB)
                await pilot.press("r")
                await settle(pilot, lambda: not app.running and app.settled)
                status = str(app.query_one("#status", Static).render())
            assert app.is_running and app.last_run is None
    assert status.startswith("the run stopped: another reconciliation (pid 4242) is running on")
    assert simulator.requests.count("POST") == simulator.requests.count("DELETE") == 0


async def test_a_database_recon_has_not_set_up_says_what_to_run(tmp_path: Path) -> None:
    with SimulatorThread("crashed_day") as simulator:
        service = demo_service(simulator, f"sqlite:///{tmp_path / 'empty.db'}")

        async def connect() -> Backend:
            return LabelledBackend(service)

        app = ReconApp(connect)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: "could not read" in status_of(app))
            assert app.is_running and app.main.diff is None
            shown = status_of(app)
    assert shown.startswith("could not read the book: ")
    assert "recon db init" in shown


async def test_trouble_stays_on_the_status_line_while_the_guard_reports(tmp_path: Path) -> None:
    """A refused run restarts the guard, whose next word must not wipe out why the run stopped."""
    with console_app(tmp_path, small_day()) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: ready(app))
            app.main.show_trouble("the run stopped: another reconciliation (pid 4242) is running")
            app.main.show_guard("starting")
            shown = status_of(app)
    assert "the run stopped: another reconciliation (pid 4242) is running" in shown
    assert "Guarding starting" in shown


def status_of(app: ReconApp) -> str:
    return str(app.main.query_one("#status", Static).render())


async def test_a_blocking_order_dialog_says_why_it_blocks_and_keeping_it_leaves_the_stop_out(
    tmp_path: Path,
) -> None:
    with console_app(tmp_path, "wash_trade") as (app, simulator):
        async with app.run_test(size=SIZE) as pilot:
            await start_run(app, pilot)
            await until_asked(app, pilot)
            title = str(app.screen.query_one("#decision-title").render())
            reason = str(app.screen.query_one("#decision-reason").render())
            assert title.startswith("Cancel blocking order")
            assert "blocks AAPL's stop: Alpaca refuses a stop while this buy is open" in reason
            await pilot.press("n")
            await until_finished(app, pilot)
            assert app.main.protection.by_symbol == {"AAPL": Protection.UNPROTECTED}
    # The kept buy limit is all that works: no stop the broker would refuse, no market exit.
    open_orders = [o for o in simulator.broker.orders.values() if o.is_open]
    assert [(o.side, o.type) for o in open_orders] == [("buy", "limit")]


async def test_a_bracket_placed_by_hand_reads_as_one_protection(tmp_path: Path) -> None:
    with console_app(tmp_path, "bracket_by_hand") as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: ready(app))
            positions = app.query_one(PositionsTable)
            assert positions.column("stops") == ["10 of 10 · bracket tp 540.00"]
            assert app.main.protection.by_symbol == {"NVDA": Protection.PROTECTED}


async def test_after_a_run_a_lost_stop_goes_red_then_yellow_then_green(tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, simulator):
        async with app.run_test(size=SIZE) as pilot:
            await run_then_guard(app, pilot)
            # The broker confirms a new order a second after it came, and its clock stands still
            # until the test moves it on.
            simulator.broker.accept_delay = timedelta(seconds=1)
            seen = [app.main.protection.protection_of("NVDA")]
            simulator.broker.cancel(open_stop(simulator, "NVDA"))
            for _ in range(1000):
                if seen[-1] is not app.main.protection.protection_of("NVDA"):
                    seen.append(app.main.protection.protection_of("NVDA"))
                if seen[-1] is Protection.STOP_PENDING:
                    simulator.broker.now = lambda: CRASH_TIME + timedelta(seconds=2)
                if len(seen) > 1 and seen[-1] is Protection.PROTECTED:
                    break
                await pilot.pause(0.01)
    assert seen == [
        Protection.PROTECTED,
        Protection.UNPROTECTED,
        Protection.STOP_PENDING,
        Protection.PROTECTED,
    ]


async def test_a_decision_the_guard_needs_comes_as_a_dialog(tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, simulator):
        async with app.run_test(size=SIZE) as pilot:
            await run_then_guard(app, pilot)
            simulator.broker.cancel(open_stop(simulator, "AAPL"))
            simulator.broker.submit(
                {"symbol": "AAPL", "qty": "10", "side": "buy", "type": "limit",
                 "time_in_force": "day", "limit_price": "180.00",
                 "client_order_id": "phone-aapl-dip"}
            )  # fmt: skip
            await until_asked(app, pilot)
            reason = str(app.screen.query_one("#decision-reason").render())
            assert "blocks AAPL's stop" in reason
            await pilot.press("y")
            await settle(
                pilot, lambda: app.main.protection.protection_of("AAPL") is Protection.PROTECTED
            )


async def test_h_lists_a_finished_run_and_opens_it(tmp_path: Path) -> None:
    with console_app(tmp_path, small_day(), reports_dir=tmp_path / "reports") as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await run_then_guard(app, pilot)
            await pilot.press("h")
            await settle(pilot, lambda: isinstance(app.screen, HistoryScreen))
            assert str(app.screen.query_one("#history-title").render()) == "Run history"
            history = app.screen.query_one("#history", DataTable)
            assert [str(key.value) for key in history.rows] == ["run-2"]  # type: ignore[attr-defined]
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, RunScreen))
            actions = app.screen.query_one("#run-actions", DataTable)
            kinds = [str(cell) for cell in actions.get_column_at(2)]
            assert kinds == [
                "take broker state",
                "cancel orphan",
                "cancel orphan",
                "emergency stop",
            ]
            decisions = [str(cell) for cell in actions.get_column_at(4)]
            assert decisions[1].startswith("confirmed by ops")
            await pilot.press("w")
            report = tmp_path / "reports" / "recon-run-run-2.json"
            # Account number and positions: the operator's alone on a shared desk machine.
            assert stat.S_IMODE(report.stat().st_mode) == 0o600
            assert stat.S_IMODE(report.parent.stat().st_mode) == 0o700
            await pilot.press("escape", "escape")
            await settle(pilot, lambda: app.screen is app.screen_stack[0])


async def test_small_screens_keep_the_positions_and_their_protection_in_view(
    tmp_path: Path,
) -> None:
    with console_app(tmp_path) as (app, _):
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot, lambda: ready(app))
            positions = app.query_one(PositionsTable)
            # the header aside, every row shown, and its symbol and protection beside each other
            assert positions.size.height - 1 >= 9
            assert positions.labels[:2] == ["symbol", "protection"]
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert positions.size.height - 1 >= 5
            assert app.screen.has_class("-short")
            positions.move_cursor(3)
            await pilot.resize_terminal(160, 50)
            await pilot.pause()
            assert positions.cursor_row == 3 and positions.row_count == 13
            assert not app.screen.has_class("-short")


async def test_a_resize_mid_run_keeps_the_rows_and_the_selection(tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: ready(app))
            positions, orders = app.query_one(PositionsTable), app.query_one(OrdersTable)
            positions.move_cursor(3)
            chosen = positions.cursor_key
            assert not orders.compact
            await pilot.press("r")
            await until_asked(app, pilot)
            await pilot.resize_terminal(100, 30)
            await pilot.press("a")
            await until_finished(app, pilot)
            await settle(pilot, lambda: app.settled)
            assert app.main.has_class("-short")
            # Too narrow for side by side: each pair on one line, nothing cut to fit a column.
            assert orders.compact and positions.compact
            assert positions.row_count == 13 and positions.cursor_key == chosen
            assert set(app.main.protection.by_symbol.values()) == {Protection.PROTECTED}


async def test_z_zooms_the_focused_table_and_back(tmp_path: Path) -> None:
    with console_app(tmp_path) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: ready(app))
            positions = app.query_one(PositionsTable)
            positions.focus()
            await pilot.press("z")
            assert app.screen.maximized is positions
            await pilot.press("z")
            assert app.screen.maximized is None


async def test_enter_on_a_position_opens_its_detail(tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await run_then_guard(app, pilot)
            positions = app.query_one(PositionsTable)
            positions.focus()
            positions.move_cursor(1)  # NVDA, whose stop the run replaced
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, PositionScreen))
            title = str(app.screen.query_one("#position-title").render())
            assert title == "NVDA — position detail"
            await settle(
                pilot, lambda: app.screen.query_one("#position-events", DataTable).row_count > 0
            )
            events = app.screen.query_one("#position-events", DataTable)
            orders_of_rows = {str(cell) for cell in events.get_column_at(1)}
            assert {"NVDA-stop", "recon-stop-NVDA-sell-gtc-20261124-1"} <= orders_of_rows
            actions = app.screen.query_one("#position-actions", DataTable)
            assert [str(c) for c in actions.get_column_at(1)] == [
                "take broker state",
                "emergency stop",
            ]
            await pilot.press("escape")
            await settle(pilot, lambda: not isinstance(app.screen, PositionScreen))


class LockWatchingApp(ReconApp):
    """The console, noting whether the database's lock is held as it hears its run ended."""

    CSS_PATH = Path(console.app.__file__).with_name("app.tcss")
    database: Path
    locked_as_the_run_ended: bool | None = None

    def on_run_finished(self, message: RunFinished) -> None:
        with self.database.open("rb") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.locked_as_the_run_ended = True
            else:
                fcntl.flock(lock, fcntl.LOCK_UN)
                self.locked_as_the_run_ended = False
        super().on_run_finished(message)


async def test_no_other_reconciliation_slips_in_between_the_run_and_its_guard(
    tmp_path: Path,
) -> None:
    with SimulatorThread(small_day(), now=lambda: CRASH_TIME) as simulator:
        connect = seeded_backend(simulator, tmp_path / "engine.db", paper=True)
        app = LockWatchingApp(connect, clock=lambda: 0.0, guard_settings=FAST_GUARD)
        app.database = tmp_path / "engine.db"
        async with app.run_test(size=SIZE) as pilot:
            await run_then_guard(app, pilot)
    assert app.locked_as_the_run_ended is True
