"""Alpaca's request budget kept on recon's side: a leaky bucket — a burst of the whole period's
allowance, then a steady drip — that lets requests go strictly in the order they arrive, and
says how many are waiting and when the last of them will go."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.clock import SYSTEM_CLOCK, Clock, Scheduled, call_later

# Timers may fire a hair early and the bucket leaks in floats: a request this close to fitting
# fits, rather than the limiter waking again a nanosecond later.
ROUNDING_ROOM = 1e-6


@dataclass(frozen=True, slots=True)
class RateQueue:
    """Requests the rate limit holds back: how many, and when the last of them will go."""

    waiting: int
    last_goes_at: datetime


RateQueueListener = Callable[[RateQueue], None]


def seconds_until_last_goes(waiting: int, level: float, max_rate: int, per_second: float) -> float:
    """A request goes once the bucket has leaked below `max_rate - 1`; the waiting go one by
    one in order, so the last goes once `level + waiting - max_rate` requests have leaked."""
    return max(level + waiting - max_rate, 0.0) / per_second


class RateLimit:
    """First come, first served. aiolimiter (1.3) wakes its first waiter and lets it look for
    room again when it resumes: a request arriving in between — an answer landing in the same
    turn of the loop — takes the room, and the woken one queues again at the back, behind
    stops planned after it. Here the room is handed to the waiter as it is woken, and a request
    that finds others waiting queues behind them: protection planned riskiest first goes out
    riskiest first."""

    def __init__(
        self,
        max_rate: int,
        period_seconds: float,
        *,
        now: Callable[[], datetime],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._max_rate = max_rate
        self._per_second = max_rate / period_seconds
        self._now = now
        self._clock = clock
        self._level = 0.0
        self._leaked_at = clock.monotonic()
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._next_turn: Scheduled | None = None
        self._listeners: list[RateQueueListener] = []

    @contextlib.contextmanager
    def reporting_to(self, listener: RateQueueListener) -> Iterator[None]:
        """While inside, `listener` hears the queue each time the number waiting changes."""
        self._listeners.append(listener)
        try:
            yield
        finally:
            self._listeners.remove(listener)

    async def __aenter__(self) -> None:
        self._leak()
        if not self._waiting and self._has_room():
            self._level += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        self._report()
        self._schedule()
        try:
            await turn
        except asyncio.CancelledError:
            # Given up while waiting; had its turn already come, the room it took is spent.
            with contextlib.suppress(ValueError):
                self._waiting.remove(turn)
                self._report()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def _let_go(self) -> None:
        """The bucket has leaked room for the first waiter: hand it over, and to as many after
        it as fit."""
        self._next_turn = None
        self._leak()
        waiting = len(self._waiting)
        while self._waiting and self._has_room():
            turn = self._waiting.popleft()
            if not turn.done():  # not given up in the meantime
                self._level += 1
                turn.set_result(None)
        if len(self._waiting) != waiting:
            self._report()
        self._schedule()

    def _schedule(self) -> None:
        if self._next_turn is None and self._waiting:
            seconds = seconds_until_last_goes(1, self._level, self._max_rate, self._per_second)
            self._next_turn = call_later(self._clock, seconds, self._let_go)

    def _has_room(self) -> bool:
        return self._level + 1 <= self._max_rate + ROUNDING_ROOM

    def _leak(self) -> None:
        at = self._clock.monotonic()
        self._level = max(self._level - (at - self._leaked_at) * self._per_second, 0.0)
        self._leaked_at = at

    def _report(self) -> None:
        if not self._listeners:
            return
        self._leak()
        waiting = len(self._waiting)
        seconds = seconds_until_last_goes(waiting, self._level, self._max_rate, self._per_second)
        queue = RateQueue(waiting, self._now() + timedelta(seconds=seconds))
        for listener in list(self._listeners):
            listener(queue)
