"""What the console cannot do it says in one line and stays up; the log keeps the traceback
behind that line, so a bug is never reduced to it."""

from dataclasses import dataclass
from pathlib import Path

from structlog.testing import capture_logs
from textual.widgets import Static

from console.app import Backend, ReconApp
from engine.reconcile.events import Listener
from engine.reconcile.result import RunResult
from engine.simulator.demo import demo_service
from engine.simulator.runner import SimulatorThread
from tests.console.harness import SIZE, LabelledBackend, settle


def status_of(app: ReconApp) -> str:
    return str(app.main.query_one("#status", Static).render())


async def test_a_console_that_cannot_start_logs_the_traceback_behind_its_line() -> None:
    async def connect() -> Backend:
        raise RuntimeError("a bug while connecting")

    app = ReconApp(connect)
    with capture_logs() as logs:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: "could not start" in status_of(app))
            assert app.is_running
    [logged] = [entry for entry in logs if entry["event"] == "account_start_failed"]
    assert logged["exc_info"] is True and logged["log_level"] == "error"


@dataclass(frozen=True)
class PreviewWithABug(LabelledBackend):
    async def preview(self, emit: Listener) -> RunResult:
        raise KeyError("a bug in the preview")


async def test_a_preview_that_fails_logs_the_traceback_behind_its_line(tmp_path: Path) -> None:
    with SimulatorThread("crashed_day") as simulator:
        service = demo_service(simulator, f"sqlite:///{tmp_path / 'engine.db'}")

        async def connect() -> Backend:
            return PreviewWithABug(service)

        app = ReconApp(connect)
        with capture_logs() as logs:
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot, lambda: "could not read the book" in status_of(app))
    [logged] = [entry for entry in logs if entry["event"] == "preview_failed"]
    assert logged["exc_info"] is True
