"""The clock the engine's waiting parts keep time by — the guard's grace and sweeps, its stream's
reconnects, a run's confirmations and write retries, the rate limit and its reports. One clock
is handed to all of them, so a test can move time for the whole engine at once instead of
waiting on the wall clock."""

from __future__ import annotations

import asyncio
import time
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
