"""`recon fleet console` under the pilot: the fleet screen over real simulators and databases,
an account opened and left, a run of every account with its decisions named by account, and
the live gate asked per live account."""

from functools import partial
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Log

from console.app import Backend, FleetApp
from console.screens.decision import DecisionScreen
from console.screens.fleet import COLUMNS, FleetScreen
from console.screens.help import HelpScreen
from console.screens.live_gate import LiveGateScreen
from console.screens.main import MainScreen
from engine.config import ConfigError
from engine.simulator.demo import DemoEnvironment
from engine.simulator.runner import SimulatorThread
from engine.simulator.scenarios import load_scenario
from tests.console.harness import (
    CRASH_TIME,
    SIZE,
    fleet_console_app,
    seeded_backend,
    settle,
    small_day,
)

PROTECTED_BOOK = load_scenario("protected_book")


def row(app: FleetApp, name: str) -> dict[str, str]:
    table = app.screen_stack[0].query_one("#fleet", DataTable)
    cells = table.get_row(name)
    return {column: cell.plain.strip() for column, cell in zip(COLUMNS, cells, strict=True)}


def read(app: FleetApp) -> bool:
    return all(a.state().positions is not None for a in app.accounts) and app.settled


async def fleet_read(app: FleetApp, pilot: Pilot[int]) -> None:
    await settle(pilot, lambda: read(app))


async def test_the_fleet_screen_has_a_row_per_account_as_its_broker_stands(
    tmp_path: Path,
) -> None:
    scenarios = {"alpha": small_day(), "bravo": PROTECTED_BOOK}
    with fleet_console_app(tmp_path, scenarios) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await fleet_read(app, pilot)
            assert isinstance(app.screen, FleetScreen)
            alpha, bravo = row(app, "alpha"), row(app, "bravo")
    assert alpha["mode"] == bravo["mode"] == "paper"
    assert alpha["positions"] == "2" and alpha["protected"] == "1 of 2"
    assert bravo["positions"] == "5" and bravo["protected"] == "5 of 5"
    assert alpha["last run"] == bravo["last run"] == "—"
    assert alpha["now"] == bravo["now"] == "idle"


async def test_enter_opens_an_account_and_escape_comes_back_to_the_fleet(
    tmp_path: Path,
) -> None:
    scenarios = {"alpha": small_day(), "bravo": PROTECTED_BOOK}
    with fleet_console_app(tmp_path, scenarios) as (app, desk):
        async with app.run_test(size=SIZE) as pilot:
            await fleet_read(app, pilot)
            await pilot.press("down", "enter")
            await settle(pilot, lambda: isinstance(app.screen, MainScreen))
            assert app.front is app.accounts[1]
            await settle(pilot, lambda: app.main.diff is not None and app.settled)
            # What bravo's screen missed while closed is drawn when it opens.
            shown = {row.symbol for row in app.main.diff.positions}
            assert shown == set(desk["bravo"].broker.positions)
            await pilot.press("question_mark")
            await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
            keys = " ".join(str(s.render()) for s in app.screen.query("Static"))
            assert "back to the fleet" in keys
            await pilot.press("escape")  # the help closes; the account stays open
            await settle(pilot, lambda: isinstance(app.screen, MainScreen))
            await pilot.press("escape")
            await settle(pilot, lambda: isinstance(app.screen, FleetScreen))
            assert app.front is None


async def test_r_runs_every_account_and_each_decision_names_its_account(tmp_path: Path) -> None:
    scenarios = {"alpha": small_day(), "bravo": small_day()}
    with fleet_console_app(tmp_path, scenarios) as (app, desk):
        async with app.run_test(size=SIZE) as pilot:
            await fleet_read(app, pilot)
            await pilot.press("r")
            asked = []
            for _ in scenarios:  # `a` answers the rest of that account's orphans
                await settle(pilot, lambda: isinstance(app.screen, DecisionScreen))
                dialog = app.screen
                assert isinstance(dialog, DecisionScreen)
                assert sum(isinstance(s, DecisionScreen) for s in app.screen_stack) == 1
                asked.append(dialog.account)
                title = dialog.query_one("#decision-title").render()
                assert str(title).startswith(f"{dialog.account}: Cancel orphan order")
                await pilot.press("a")
                await settle(pilot, lambda d=dialog: app.screen is not d)  # type: ignore[misc]
            await settle(pilot, lambda: all(a.last_run for a in app.accounts) and app.settled)
            # A fleet's runs say how they ended on their rows, not in a dialog each.
            assert isinstance(app.screen, FleetScreen)
            await pilot.pause(0.5)
            rows = {name: row(app, name) for name in scenarios}
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, MainScreen) and app.settled)
            await pilot.pause(0.5)
            log = "\n".join(app.main.query_one(Log).lines)
    assert sorted(asked) == ["alpha", "bravo"]
    for name, simulator in desk.items():
        assert rows[name]["last run"] == "exit 0 · run-2", name
        assert rows[name]["protected"] == "2 of 2", name
        orphans_open = [
            o for o in simulator.broker.orders.values() if o.is_open and o.type == "limit"
        ]
        assert orphans_open == [], name
    assert "Run run-2 finished: exit 0" in log  # alpha's log, written before it was opened


async def test_the_live_gate_is_asked_for_each_live_account_and_declining_skips_it_alone(
    tmp_path: Path,
) -> None:
    scenarios = {"alpha": PROTECTED_BOOK, "bravo": PROTECTED_BOOK}
    with fleet_console_app(tmp_path, scenarios, live=frozenset({"bravo"})) as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await fleet_read(app, pilot)
            assert row(app, "bravo")["mode"] == "LIVE"
            await pilot.press("r")
            await settle(pilot, lambda: isinstance(app.screen, LiveGateScreen))
            gate = app.screen
            assert isinstance(gate, LiveGateScreen) and gate.account == "bravo"
            await pilot.press("escape")
            await settle(pilot, lambda: app.accounts[0].last_run is not None and app.settled)
            await pilot.pause(0.5)
            alpha, bravo = row(app, "alpha"), row(app, "bravo")
    assert alpha["last run"] == "exit 0 · run-2"
    assert bravo["last run"] == "—"


async def test_recon_demo_fleet_shows_three_accounts_each_on_its_own_book() -> None:
    demo = DemoEnvironment(fleet=True)
    app = FleetApp({name: partial(demo.connect, name) for name in demo.accounts})
    try:
        async with app.run_test(size=SIZE) as pilot:
            await fleet_read(app, pilot)
            rows = {name: row(app, name) for name in demo.accounts}
    finally:
        demo.close()
    shown = {name: (r["mode"], r["positions"], r["protected"]) for name, r in rows.items()}
    # The crashed day, a bracket placed by hand (protection already), a book fully covered.
    assert shown == {
        "alpha": ("paper", "13", "3 of 13"),
        "bravo": ("paper", "1", "1 of 1"),
        "charlie": ("paper", "5", "5 of 5"),
    }


async def test_an_account_that_cannot_start_says_why_on_its_row_and_the_others_run(
    tmp_path: Path,
) -> None:
    async def no_key_pair() -> Backend:
        raise ConfigError("BRAVO_KEY_ID and BRAVO_SECRET_KEY must be set for account bravo")

    with SimulatorThread(PROTECTED_BOOK, now=lambda: CRASH_TIME) as simulator:
        alpha = seeded_backend(simulator, tmp_path / "alpha.db", paper=True)
        app = FleetApp({"alpha": alpha, "bravo": no_key_pair})
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: app.accounts[0].book is not None and app.settled)
            await pilot.press("r")
            await settle(pilot, lambda: app.accounts[0].last_run is not None and app.settled)
            await pilot.pause(0.5)
            alpha_row, bravo_row = row(app, "alpha"), row(app, "bravo")
    assert bravo_row["now"] == (
        "could not start: BRAVO_KEY_ID and BRAVO_SECRET_KEY must be set for account bravo"
    )
    assert bravo_row["last run"] == "—" and bravo_row["positions"] == "…"
    assert alpha_row["last run"] == "exit 0 · run-2"
