"""What the console shows of asset classes and of an account that refuses orders: a crypto pair
and an option named for what they are, the account bar in red while the broker refuses orders,
a run that stops before its first change, and the guard covering the book once it clears."""

from pathlib import Path

from console.app import ReconApp
from console.widgets.account_bar import AccountBar
from console.widgets.diff_tables import PositionsTable
from engine.reconcile.diff import Protection
from tests.console.harness import SIZE, console_app, settle
from tests.console.test_flows import ready, start_run, until_finished


def account_bar(app: ReconApp) -> str:
    return str(app.query_one(AccountBar).render())


async def test_a_crypto_pair_and_an_option_are_named_for_what_they_are(tmp_path: Path) -> None:
    with console_app(tmp_path, "mixed_assets") as (app, _):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: ready(app))
            symbols = app.query_one(PositionsTable).column("symbol")
    assert "BTC/USD crypto" in symbols
    assert "AAPL 2026-12-18 200 call" in symbols
    assert "AAPL" in symbols


async def test_a_suspended_account_is_red_refuses_the_run_and_is_covered_once_it_clears(
    tmp_path: Path,
) -> None:
    with console_app(tmp_path, "suspended_account") as (app, simulator):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: ready(app))
            assert "ORDERS REFUSED: trade_suspended_by_user" in account_bar(app)
            await start_run(app, pilot)
            await until_finished(app, pilot)
            assert app.last_run is not None and app.last_run.exit_code == 2
            assert simulator.requests.count("POST") == 0
            await pilot.press("escape")
            simulator.broker.set_account_state(trade_suspended_by_user=False)
            await settle(
                pilot,
                lambda: set(app.main.protection.by_symbol.values()) == {Protection.PROTECTED},
            )
            assert "ORDERS REFUSED" not in account_bar(app)
