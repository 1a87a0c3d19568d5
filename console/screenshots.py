"""`make screenshots`: drive `recon demo` by its keys and save an SVG of each state the README
shows into the given folder."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot

from console.app import FleetApp, ReconApp
from console.screens.decision import DecisionScreen
from console.screens.history import HistoryScreen
from console.screens.main import TALLY_SECONDS
from console.screens.plan_preview import PlanScreen
from console.screens.summary import SummaryScreen
from engine.reconcile.diff import Protection
from engine.simulator.demo import DemoEnvironment

SIZE = (160, 50)
LAPTOP_SIZE = (100, 30)  # the operator paged at night, over SSH from a laptop
PATIENCE_SECONDS = 60


async def capture(folder: Path) -> list[Path]:
    return [*await _one_account(folder), *await _fleet(folder)]


class _Camera:
    """Waits for the state to capture, then saves the screen as it is."""

    def __init__(self, app: App[int], pilot: Pilot[int], folder: Path) -> None:
        self.app, self.pilot, self.folder = app, pilot, folder
        self.written: list[Path] = []

    async def until(self, condition: Callable[[], bool]) -> None:
        for _ in range(PATIENCE_SECONDS * 20):
            if condition():
                await self.pilot.pause(TALLY_SECONDS * 2)  # let the log catch up
                return
            await self.pilot.pause(0.05)
        raise SystemExit("the demo never reached the state to capture")

    def save(self, name: str) -> None:
        saved = self.app.save_screenshot(f"{name}.svg", path=str(self.folder))
        self.written.append(Path(saved))


async def _one_account(folder: Path) -> list[Path]:
    demo = DemoEnvironment()
    app = ReconApp(demo.start, reports_dir=demo.reports_dir)
    try:
        async with app.run_test(size=SIZE) as pilot:
            camera = _Camera(app, pilot, folder)
            await camera.until(lambda: app.main.diff is not None and app.settled)
            camera.save("1-before-the-run")
            await pilot.press("p")
            await camera.until(lambda: isinstance(app.screen, PlanScreen))
            camera.save("2-plan-preview")
            await pilot.press("escape")
            await pilot.press("r")
            await camera.until(lambda: isinstance(app.screen, DecisionScreen))
            camera.save("3-orphan-decision")
            await pilot.press("y")
            await camera.until(
                lambda: Protection.STOP_PENDING in app.main.protection.by_symbol.values()
            )
            camera.save("4-stops-pending")
            # Finished, and the tables refreshed from the broker behind the summary.
            await camera.until(lambda: isinstance(app.screen, SummaryScreen) and app.settled)
            camera.save("5-finished-summary")
            await pilot.press("escape")
            await camera.until(lambda: not isinstance(app.screen, SummaryScreen))
            camera.save("6-every-position-protected")
            await pilot.resize_terminal(*LAPTOP_SIZE)
            await camera.until(lambda: "book read" in app.main.guard_status)
            camera.save("7-guarding-at-100x30")
            await pilot.press("h")
            await camera.until(lambda: isinstance(app.screen, HistoryScreen))
            camera.save("8-run-history")
    finally:
        demo.close()
    return camera.written


async def _fleet(folder: Path) -> list[Path]:
    demo = DemoEnvironment(fleet=True)
    accounts = {name: partial(demo.connect, name) for name in demo.accounts}
    app = FleetApp(accounts, reports_dir=demo.reports_dir)
    try:
        async with app.run_test(size=SIZE) as pilot:
            camera = _Camera(app, pilot, folder)
            await camera.until(
                lambda: all(a.book is not None for a in app.accounts) and app.settled
            )
            camera.save("9-fleet-of-three")
            await pilot.press("r")
            await camera.until(lambda: isinstance(app.screen, DecisionScreen))
            camera.save("10-fleet-decision-named")
            await pilot.press("a")
            await camera.until(
                lambda: all("stream up" in a.state().guard for a in app.accounts) and app.settled
            )
            camera.save("11-fleet-after-the-run")
    finally:
        demo.close()
    return camera.written


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(capture(folder)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
