"""The console's resident memory over a long session: a 10,000-order book drawn again and again,
as a guard's reads redraw it all day, with quiet pauses between. The figure is the memory after
the last round over the memory after the first: a console that holds steady reads 1.0."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchmarks.console import StreamingBackend, _large_result
from console.app import ReconApp

ORDERS = 10_000
ROUNDS = 6
DRAWINGS_PER_ROUND = 40
QUIET_SECONDS = 0.3


def resident_memory_growth() -> float:
    return asyncio.run(_session())


async def _session() -> float:
    backend = StreamingBackend(_large_result(ORDERS))

    async def connect() -> StreamingBackend:
        return backend

    app = ReconApp(connect)
    after_round: list[int] = []
    async with app.run_test(size=(160, 50)) as pilot:
        while app.main.diff is None or not app.settled:
            await pilot.pause(0.05)
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
    return after_round[-1] / after_round[0]


def _resident_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("this system does not say a process's resident memory")
