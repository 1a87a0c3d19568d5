"""Console benchmarks: the first frame of `recon demo` in a real pseudo-terminal, and the
longest pause in the event loop while a large book streams a run's events or is scrolled
through."""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from textual.pilot import Pilot

from benchmarks.books import large_snapshot
from benchmarks.side import CURRENT, NotMeasurable, Side
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
from engine.reconcile.result import AccountSummary, GuardOutcome, RunResult
from engine.store.journal import JournaledAction
from tests.factories import SETTINGS

FIRST_FRAME_MARKER = b"Loading"
EVENTS_STREAMED = 5_000
RUNS = 5  # each stall figure is the worst of this many runs
HEARTBEAT_SECONDS = 0.002
IN_SIDE = Path(__file__).with_name("in_side.py")


def first_frame_seconds() -> float:
    """The slowest of `RUNS` starts of `recon demo`, each from spawning the process to its
    first screen arriving on the terminal."""
    return max(one_first_frame_seconds(CURRENT) for _ in range(RUNS))


def one_first_frame_seconds(side: Side) -> float:
    """One start of `side`'s `recon demo`, from spawning the process to its first screen."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    env = side.environment({**os.environ, "TERM": "xterm-256color"})
    start = time.perf_counter()
    process = subprocess.Popen(
        side.command("demo"),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=side.root,
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
    operator: str = "bench"

    async def preview(self, emit: Listener) -> RunResult:
        return self.result

    async def guard(
        self,
        decide: DecisionCallback,
        emit: Listener,
        settings: GuardSettings,
        stopping: asyncio.Event,
        *,
        after: RunResult | None = None,
        ran: Callable[[RunResult], None] = lambda result: None,
    ) -> GuardOutcome:
        """The run's events, then a quiet book: the guard reads nothing until stopped."""
        first = after or await self._run(emit)
        if after is None:
            ran(first)
        await stopping.wait()
        return GuardOutcome(first, covered=True, guard_runs=())

    async def _run(self, emit: Listener) -> RunResult:
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

    async def history(self) -> list[RunHistoryEntry]:
        return []

    async def run_actions(self, run_id: str) -> list[JournaledAction]:
        return []

    async def symbol_history(self, symbol: str) -> list[OrderEvent]:
        return []


def worst_stalls(orders: int) -> tuple[float, float]:
    """The longest stall of `RUNS` streaming runs, and of `RUNS` scrolls, over a book of
    `orders` local orders (half as many at the broker, one position for every five)."""
    result = _large_result(orders)
    streaming = max(
        asyncio.run(_measure_gaps(StreamingBackend(result), _stream_a_run)) for _ in range(RUNS)
    )
    scrolling = max(
        asyncio.run(_measure_gaps(StreamingBackend(result), _scroll_the_orders))
        for _ in range(RUNS)
    )
    return streaming, scrolling


def streaming_stall_seconds(side: Side, orders: int) -> float:
    """The longest stall of one streaming run over a book of `orders` local orders, measured in
    a process of `side`'s own Python by this tree's code (benchmarks/in_side.py) against
    `side`'s console and engine. NotMeasurable, with the error's last line, if it fails there."""
    done = subprocess.run(
        [str(side.python), "-P", str(IN_SIDE), str(side.root), str(orders)],
        cwd=side.root,
        env=side.environment(),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise NotMeasurable((done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1])
    return float(done.stdout.split()[-1])


def one_streaming_stall_seconds(orders: int) -> float:
    """The longest stall of one streaming run over a book of `orders` local orders, here."""
    return asyncio.run(_measure_gaps(StreamingBackend(_large_result(orders)), _stream_a_run))


def _large_result(orders: int) -> RunResult:
    snapshot = large_snapshot(
        local_orders=orders, broker_orders=orders // 2, positions=max(2_000, orders // 5)
    )
    the_diff = diff(snapshot)
    return RunResult(
        run_id="bench",
        dry_run=True,
        account=AccountSummary("PA3SIMRECON1", "PK…7Q", paper=True),
        diff=the_diff,
        plan=plan(snapshot, the_diff, SETTINGS),
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
    """The longest stall of the event loop while `work` drives the app: the longest time
    between two wakeups of a task that sleeps `HEARTBEAT_SECONDS`, less that sleep.

    A Textual timer would not do: it skips ticks it is late for, so a 21 ms stall under a
    10 ms timer reads as 30 ms."""

    async def connect() -> StreamingBackend:
        return backend

    app = ReconApp(connect)
    wakeups: list[float] = []

    async def heartbeat() -> None:
        while True:
            wakeups.append(time.perf_counter())
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async with app.run_test(size=(160, 50)) as pilot:
        while app.main.diff is None or not app.settled:
            await pilot.pause(0.05)
        beating = asyncio.create_task(heartbeat())
        await pilot.pause(0.1)
        await work(app, pilot)
        await pilot.pause(0.2)
        beating.cancel()
    gaps = (later - earlier for earlier, later in itertools.pairwise(wakeups))
    return max(gaps) - HEARTBEAT_SECONDS
