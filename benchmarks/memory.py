"""The console over a long session: a 10,000-order book drawn again and again, as a guard's
reads redraw it all day, with quiet pauses between. Two figures: the resident memory after the
last round over the memory after the first (a console that holds steady reads 1.0), and the
longest stall of the event loop over the whole session, the collector's periodic reclaim of
what the drawings set aside included (console/collector.py).

The session runs in a process of its own, as a console does: in the benchmarks' process, the
reclaim would collect whatever the figures before it left behind, and the memory would count
it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot

from benchmarks.console import StreamingBackend, _large_result, _measure_gaps
from console.app import ReconApp

ORDERS = 10_000
ROUNDS = 6
DRAWINGS_PER_ROUND = 40
QUIET_SECONDS = 0.3


@dataclass(frozen=True)
class LongSession:
    memory_growth: float  # resident memory after the last round over after the first
    longest_stall: float  # seconds


def long_session() -> LongSession:
    """The session in a fresh Python process of this tree's."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"the long console session failed: {done.stderr.strip()[-2000:]}")
    growth, stall = done.stdout.split()[-2:]
    return LongSession(float(growth), float(stall))


async def _session() -> LongSession:
    after_round: list[int] = []

    async def redraw_all_day(app: ReconApp, pilot: Pilot[int]) -> None:
        for _ in range(ROUNDS):
            for _ in range(DRAWINGS_PER_ROUND):
                # As an operator filters the book and clears the filter: the whole book again.
                for wanted in ("S0", ""):
                    app.main.filter_text = wanted
                    await pilot.pause(0)
                    while app.main.drawing:
                        await pilot.pause(0.01)
            await pilot.pause(QUIET_SECONDS * 2)
            after_round.append(_resident_kib())

    stall = await _measure_gaps(StreamingBackend(_large_result(ORDERS)), redraw_all_day)
    return LongSession(after_round[-1] / after_round[0], stall)


def _resident_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("this system does not say a process's resident memory")


if __name__ == "__main__":
    session = asyncio.run(_session())
    print(session.memory_growth, session.longest_stall)
