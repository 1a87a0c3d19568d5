"""The broker's rate-limit queue as a run's events: the limiter speaks at every request it holds
or lets go, the operator hears of it at most a few times a second, and last of all that nothing
waits any more."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from engine.broker.protocol import Broker
from engine.broker.rate_limit import RateQueue
from engine.clock import SYSTEM_CLOCK, Clock, Scheduled, call_later
from engine.reconcile.events import Listener, RateLimitWaiting

# A 300-stop run changes the queue 300 times in a blink, then once per request for a minute.
REPORT_INTERVAL_SECONDS = 0.25


@contextmanager
def reporting_rate_limit(
    broker: Broker, emit: Listener, clock: Clock = SYSTEM_CLOCK
) -> Iterator[None]:
    """While inside, the broker's queue reaches `emit` as `RateLimitWaiting` events."""
    reporter = RateLimitReporter(emit, clock=clock)
    try:
        with broker.reporting_rate_queue(reporter.heard):
            yield
    finally:
        reporter.close()


class RateLimitReporter:
    """Tells the latest queue it has heard, no sooner than `interval` after the last telling: a
    burst of reports in one turn of the loop is told once, with its last count."""

    def __init__(
        self,
        emit: Listener,
        interval: float = REPORT_INTERVAL_SECONDS,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._emit = emit
        self._interval = interval
        self._clock = clock
        self._heard: RateQueue | None = None  # not yet told
        self._told_waiting = 0
        self._told_at = float("-inf")
        self._telling: Scheduled | None = None

    def heard(self, queue: RateQueue) -> None:
        self._heard = queue
        if self._telling is None:
            # At the loop's next turn at the soonest, once the burst that began with this
            # report is in.
            wait = self._told_at + self._interval - self._clock.monotonic()
            self._telling = call_later(self._clock, wait, self._tell)

    def close(self) -> None:
        """Tell what is left to tell: a run ends with its queue drained, and says so."""
        if self._telling is not None:
            self._telling.cancel()
            self._tell()

    def _tell(self) -> None:
        self._telling = None
        queue, self._heard = self._heard, None
        if queue is None or queue.waiting == self._told_waiting:
            return  # held and let go between two tellings: nothing the operator needs
        self._told_waiting = queue.waiting
        self._told_at = self._clock.monotonic()
        self._emit(RateLimitWaiting(queue.waiting, queue.last_goes_at if queue.waiting else None))
