"""The console never draws the secret key (SPEC §1), nor writes it to a run's report or the
journal, even when the broker quotes it back in its refusals: the scrubber is the last line of
defence between an error's text and the screen."""

import json
from pathlib import Path

from textual.widgets import Log, Static

from console.app import ReconApp
from console.screens.summary import SummaryScreen
from console.widgets.phase_pane import PhasePane
from tests.console.harness import SIZE, console_app, settle, small_day
from tests.integration.test_secrets import journal_text, quoting_the_secret

REDACTED = "[redacted]"


def drawn(app: ReconApp) -> str:
    """Every word on every screen of the stack, as widgets hold it and as the terminal shows
    it: a long line may be cut where it wraps, so the widgets are read as well."""
    parts = [app.export_screenshot()]
    for screen in app.screen_stack:
        for widget in screen.walk_children(with_self=False):
            if isinstance(widget, Log):
                parts.extend(widget.lines)
            elif isinstance(widget, Static | PhasePane):
                parts.append(str(widget.render()))
    return "\n".join(parts)


async def test_a_secret_quoted_back_by_the_broker_is_on_no_screen_report_or_journal(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    with console_app(tmp_path, small_day(), reports_dir=reports) as (app, simulator):
        secret = simulator.secret_key
        simulator.faults.add(quoting_the_secret(secret, "/v2/orders", "POST"))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: app.main.diff is not None and app.settled)
            await pilot.press("r")
            await settle(pilot, lambda: type(app.screen).__name__ == "DecisionScreen")
            await pilot.press("a")
            await settle(pilot, lambda: isinstance(app.screen, SummaryScreen))
            on_screen = drawn(app)
            await pilot.press("escape")
            await pilot.pause()
            on_screen += drawn(app)
            run = app.last_run
            assert run is not None
            report = reports / f"recon-run-{run.run_id}.json"
            await settle(pilot, report.exists)
    assert REDACTED in on_screen  # the refusal was drawn, without what it quoted
    assert secret not in on_screen
    written = report.read_text()
    assert REDACTED in written and secret not in written
    assert any(REDACTED in error for error in json.loads(written)["errors"])
    journal = journal_text(tmp_path / "engine.db")
    assert REDACTED in journal and secret not in journal


async def test_an_abort_that_quotes_the_secret_is_drawn_without_it(tmp_path: Path) -> None:
    with console_app(tmp_path, small_day()) as (app, simulator):
        secret = simulator.secret_key
        simulator.faults.add(quoting_the_secret(secret, "/v2/account", "GET"))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: app.last_result is not None and app.settled)
            on_screen = drawn(app)
            status = str(app.query_one("#status", Static).render())
    assert "Aborted before any change" in status and REDACTED in status
    assert secret not in on_screen
