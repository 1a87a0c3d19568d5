"""A clock whose time moves only when the test moves it, for the engine's waiting parts: the
test says how far, and whoever was sleeping until then wakes, in order, as it passes."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # sleepers due at the same moment wake as they slept

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), woken))
        await woken

    @property
    def sleeping(self) -> list[float]:
        """Seconds from now until each sleeper wakes, soonest first."""
        return sorted(at - self._now for at, _, woken in self._sleepers if not woken.done())

    async def advance(self, seconds: float) -> None:
        """Move time on by `seconds`, waking the sleepers due on the way at their moment — those
        due at the same moment in the same turn of the loop, as its timers are — and letting
        what they do then run (up to its next await on the loop) before going on. What was
        about to go to sleep is let do so first."""
        until = self._now + seconds
        await _let_others_run()
        while self._sleepers and self._sleepers[0][0] <= until:
            self._now = max(self._now, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, woken = heapq.heappop(self._sleepers)
                if not woken.done():  # not cancelled meanwhile
                    woken.set_result(None)
            await _let_others_run()
        self._now = until


async def _let_others_run() -> None:
    # A woken task runs at the loop's next turn, and whatever it wakes in turn at the one after.
    for _ in range(5):
        await asyncio.sleep(0)
