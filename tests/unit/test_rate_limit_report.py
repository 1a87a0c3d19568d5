"""What the operator hears of the rate limit: a burst told once, a drain told a few times a
second and ended by nothing waiting; the headless log a line when requests start waiting and
one when they have all gone."""

import asyncio
from datetime import UTC, datetime, timedelta

from structlog.testing import capture_logs

from engine.broker.rate_limit import RateQueue
from engine.reconcile.events import Event, RateLimitWaiting
from engine.reconcile.headless import HeadlessLog
from engine.reconcile.rate_limit_report import RateLimitReporter
from tests.clock import FakeClock

NOW = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)


def queue(waiting: int) -> RateQueue:
    return RateQueue(waiting, NOW + timedelta(seconds=0.3 * waiting))


async def test_three_hundred_stops_queued_at_once_are_told_once() -> None:
    clock = FakeClock()
    told: list[Event] = []
    reporter = RateLimitReporter(told.append, clock=clock)
    for waiting in range(1, 301):
        reporter.heard(queue(waiting))
    await clock.advance(0)
    assert told == [RateLimitWaiting(300, NOW + timedelta(seconds=90))]


async def test_a_draining_queue_is_told_once_an_interval_and_ends_with_nothing_waiting() -> None:
    clock = FakeClock()
    told: list[Event] = []
    reporter = RateLimitReporter(told.append, interval=0.05, clock=clock)
    for waiting in range(40, -1, -1):  # one request let go every 7 ms: 0.28 s
        reporter.heard(queue(waiting))
        await clock.advance(0.007)
    await clock.advance(0.05)
    # The first at once, then one each 50 ms with the count heard last: not one per request.
    assert [event.waiting for event in told if isinstance(event, RateLimitWaiting)] == [
        40, 33, 26, 19, 12, 5, 0,
    ]  # fmt: skip
    assert told[0] == RateLimitWaiting(40, NOW + timedelta(seconds=12))
    assert told[-1] == RateLimitWaiting(0, None)


async def test_a_run_ending_before_the_next_telling_still_says_nothing_waits() -> None:
    clock = FakeClock()
    told: list[Event] = []
    reporter = RateLimitReporter(told.append, interval=10, clock=clock)
    reporter.heard(queue(5))
    await clock.advance(1)
    reporter.heard(queue(0))
    reporter.close()
    assert told == [RateLimitWaiting(5, NOW + timedelta(seconds=1.5)), RateLimitWaiting(0, None)]


async def test_a_request_held_and_let_go_between_two_tellings_is_not_told() -> None:
    told: list[Event] = []
    reporter = RateLimitReporter(told.append, clock=FakeClock())
    reporter.heard(queue(1))
    reporter.heard(queue(0))
    await asyncio.sleep(0)
    reporter.close()
    assert told == []


def test_the_headless_log_says_when_requests_start_waiting_and_when_they_have_gone() -> None:
    log = HeadlessLog()
    with capture_logs() as lines:
        for waiting in (105, 104, 90, 12, 0):
            log(RateLimitWaiting(waiting, NOW + timedelta(seconds=31.5) if waiting else None))
    assert [(line["event"], line["detail"]) for line in lines] == [
        ("rate_limit_waiting", "105 requests waiting for the rate limit, the last at 15:31:31 UTC"),
        ("rate_limit_drained", "no request waits for the rate limit any more"),
    ]
