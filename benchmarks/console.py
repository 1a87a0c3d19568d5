"""Console benchmarks: the first frame of `recon demo` in a real pseudo-terminal, and the
longest pause in the event loop while a 10,000-order book streams a run's events or is
scrolled through."""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from textual.pilot import Pilot

from benchmarks.books import large_snapshot
from console.app import ReconApp
from console.widgets.diff_tables import OrdersTable
from engine.domain import OrderEvent
from engine.reconcile.actions import ActionKind, Phase
from engine.reconcile.diff import diff
from engine.reconcile.events import (
    ActionStarted,
    ActionSucceeded,
    DecisionCallback,
    Listener,
    PhaseFinished,
    PhaseProgress,
    PhaseStarted,
    SnapshotReady,
    StopConfirmed,
    StopSubmitted,
)
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.history import RunHistoryEntry
from engine.reconcile.plan import plan
from engine.reconcile.result import RunResult
from engine.store.journal import JournaledAction
from tests.factories import SETTINGS

FIRST_FRAME_MARKER = b"Loading"
EVENTS_STREAMED = 5_000


def first_frame_seconds() -> float:
    """From spawning `recon demo` to its first screen arriving on the terminal."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color"}
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "demo"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    seen = b""
    try:
        while FIRST_FRAME_MARKER not in seen:
            ready, _, _ = select.select([controller], [], [], 10)
            if not ready:
                raise SystemExit("recon demo drew nothing within 10 s")
            seen += os.read(controller, 65536)
        return time.perf_counter() - start
    finally:
        process.kill()
        process.wait()
        os.close(controller)


@dataclass(frozen=True)
class StreamingBackend:
    """Replays a large run's events as fast as the engine could publish them."""

    result: RunResult
    database: str = "bench.db"
    masked_key_id: str = "PK…7Q"
    paper: bool = True
    operator: str = "bench"

    async def preview(self, emit: Listener) -> RunResult:
        return self.result

    async def run(self, decide: DecisionCallback, emit: Listener) -> RunResult:
        assert self.result.diff is not None and self.result.plan is not None
        emit(SnapshotReady(self.result.diff, self.result.plan))
        emit(PhaseStarted(Phase.POSITIONS, total=EVENTS_STREAMED))
        stops = [a for a in self.result.plan.actions if a.kind is ActionKind.EMERGENCY_STOP]
        for n in range(EVENTS_STREAMED):
            action = stops[n % len(stops)]
            emit(ActionStarted(action))
            emit(StopSubmitted(action.symbol, f"order-{n}", action.exposure))
            emit(StopConfirmed(action.symbol, f"order-{n}", action.exposure))
            emit(ActionSucceeded(action, f"stop order-{n} confirmed"))
            emit(PhaseProgress(Phase.POSITIONS, n + 1, EVENTS_STREAMED, action.reason))
            await asyncio.sleep(0)  # the engine yields whenever it awaits the broker
        emit(PhaseFinished(Phase.POSITIONS, EVENTS_STREAMED, EVENTS_STREAMED, 0))
        return replace(self.result, dry_run=False)

    async def keep_covered(
        self,
        decide: DecisionCallback,
        emit: Listener,
        settings: GuardSettings,
        stopping: asyncio.Event,
        after: RunResult,
    ) -> bool:
        """A quiet book: the guard reads nothing until stopped."""
        await stopping.wait()
        return True

    async def history(self) -> list[RunHistoryEntry]:
        return []

    async def run_actions(self, run_id: str) -> list[JournaledAction]:
        return []

    async def symbol_history(self, symbol: str) -> list[OrderEvent]:
        return []


def longest_frame_gap_seconds() -> float:
    return asyncio.run(_measure_gaps(StreamingBackend(_large_result()), _stream_a_run))


def longest_scroll_stall_seconds() -> float:
    return asyncio.run(_measure_gaps(StreamingBackend(_large_result()), _scroll_the_orders))


def _large_result() -> RunResult:
    snapshot = large_snapshot(local_orders=10_000, broker_orders=5_000, positions=2_000)
    the_diff = diff(snapshot)
    return RunResult(
        run_id="bench", dry_run=True, diff=the_diff, plan=plan(snapshot, the_diff, SETTINGS)
    )


async def _stream_a_run(app: ReconApp, pilot: Pilot[int]) -> None:
    await pilot.press("r")
    await pilot.pause(0.1)
    while app.running:
        await pilot.pause(0.05)


async def _scroll_the_orders(app: ReconApp, pilot: Pilot[int]) -> None:
    app.query_one(OrdersTable).focus()
    for keys in (["pagedown"] * 40, ["ctrl+end"], ["pageup"] * 40, ["ctrl+home"], ["down"] * 60):
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.01)


async def _measure_gaps(
    backend: StreamingBackend, work: Callable[[ReconApp, Pilot[int]], Awaitable[None]]
) -> float:
    """The longest time between two ticks of a 10 ms timer while `work` drives the app."""

    async def connect() -> StreamingBackend:
        return backend

    app = ReconApp(connect)
    ticks: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        while app.diff is None or not app.settled:
            await pilot.pause(0.05)
        app.set_interval(0.01, lambda: ticks.append(time.perf_counter()))
        await pilot.pause(0.1)
        await work(app, pilot)
        await pilot.pause(0.2)
    return max(later - earlier for earlier, later in itertools.pairwise(ticks))
