"""The clock the engine's waiting parts keep time by — the guard's grace and sweeps, its stream's
reconnects, a run's confirmations and write retries, the rate limit and its reports. One clock
is handed to all of them, so a test can move time for the whole engine at once instead of
waiting on the wall clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on this clock."""
        ...


class SystemClock:
    """The machine's monotonic clock, and asyncio's sleep on it."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()

# What `call_later` hands back: either way, `cancel()` stops the call that has not run yet.
Scheduled = asyncio.Handle | asyncio.Task[None]


def call_later(clock: Clock, seconds: float, callback: Callable[[], None]) -> Scheduled:
    """`callback` once `seconds` have passed on `clock` — at the loop's next turn when none
    need pass, as `loop.call_later` would."""
    loop = asyncio.get_running_loop()
    if seconds <= 0:
        return loop.call_soon(callback)

    async def after() -> None:
        await clock.sleep(seconds)
        callback()

    return loop.create_task(after())
