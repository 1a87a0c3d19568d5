"""While the broker's rate limit holds requests back, the console says how many and when the
last will go, on the account's status line and on its fleet row; once they have gone, it stops
saying so."""

import asyncio
from datetime import UTC, datetime

from textual.widgets import Static

from console.app import FleetApp, ReconApp
from engine.reconcile.events import DecisionCallback, Listener, RateLimitWaiting
from engine.reconcile.result import RunResult
from tests.console.harness import SIZE, StandInBackend, settle
from tests.console.test_log import EMPTY

LAST_GOES_AT = datetime(2026, 11, 24, 15, 32, 10, tzinfo=UTC)


class HeldBackend(StandInBackend):
    """A run whose stops wait for the rate limit until the test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = asyncio.Event()
        self.let_go = asyncio.Event()

    async def preview(self, emit: Listener) -> RunResult:
        return EMPTY

    async def run(self, decide: DecisionCallback, emit: Listener) -> RunResult:
        emit(RateLimitWaiting(12, LAST_GOES_AT))
        self.waiting.set()
        await self.let_go.wait()
        emit(RateLimitWaiting(0, None))
        return EMPTY


def status(app: ReconApp) -> str:
    return str(app.main.query_one("#status", Static).render())


async def test_the_status_line_says_how_many_wait_and_when_the_last_goes() -> None:
    backend = HeldBackend()

    async def connect() -> HeldBackend:
        return backend

    app = ReconApp(connect)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.main.diff is not None and app.settled)
        await pilot.press("r")
        await settle(pilot, lambda: backend.waiting.is_set())
        await pilot.pause(0.1)
        held = status(app)
        backend.let_go.set()
        await settle(pilot, lambda: app.last_run is not None and app.settled)
        after = status(app)
    assert "12 requests wait for the broker's rate limit, the last goes at 15:32:10Z" in held
    assert "rate limit" not in after


async def test_the_fleet_row_says_how_many_wait() -> None:
    backend = HeldBackend()

    async def connect() -> HeldBackend:
        return backend

    app = FleetApp({"alpha": connect})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.accounts[0].book is not None and app.settled)
        await pilot.press("r")
        await settle(pilot, lambda: backend.waiting.is_set())
        await pilot.pause(0.1)
        held = app.accounts[0].state().now
        backend.let_go.set()
        await settle(pilot, lambda: app.accounts[0].last_run is not None and app.settled)
        after = app.accounts[0].state().now
    assert held == "running, 12 waiting for the rate limit"
    assert after == "idle"
