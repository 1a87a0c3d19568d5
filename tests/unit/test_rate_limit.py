"""The client-side rate limit: requests go in the order they arrived, however busy the loop, and
the queue it reports says how many wait and when the last will go."""

import asyncio
from datetime import UTC, datetime

import pytest

from engine.broker.rate_limit import RateLimit, RateQueue, seconds_until_last_goes
from tests.clock import FakeClock

NOW = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)


def test_a_full_minute_of_alpaca_lets_the_hundredth_waiting_request_go_in_thirty_seconds() -> None:
    assert seconds_until_last_goes(100, level=200, max_rate=200, per_second=200 / 60) == 30


def test_room_left_in_the_bucket_brings_the_last_request_forward() -> None:
    assert seconds_until_last_goes(1, level=199.5, max_rate=200, per_second=200 / 60) == (
        pytest.approx(0.15)
    )


def test_requests_that_fit_in_the_bucket_wait_for_nothing() -> None:
    assert seconds_until_last_goes(5, level=10, max_rate=200, per_second=200 / 60) == 0


async def test_a_request_arriving_as_the_first_waiter_goes_queues_behind_every_waiter() -> None:
    """An answer lands in the very turn of the loop that lets the first waiter go, and its task
    asks again at once (aiolimiter 1.3 lets it in first, and the woken waiter falls behind the
    next): it still goes last."""
    clock = FakeClock()
    limit = RateLimit(1, 0.02, now=lambda: NOW, clock=clock)
    went: list[str] = []

    async def request(name: str, after: float = 0.0) -> None:
        await clock.sleep(after)
        async with limit:
            went.append(name)

    await request("first")  # the bucket is now full
    waiters = [asyncio.create_task(request(name)) for name in ("riskiest", "next")]
    await asyncio.sleep(0)
    # An answer due at the very moment the riskiest's turn comes.
    late = asyncio.create_task(request("late", after=0.02))
    await asyncio.sleep(0)
    await clock.advance(0.06)
    await asyncio.gather(*waiters, late)
    assert went == ["first", "riskiest", "next", "late"]


async def test_the_queue_is_reported_at_each_change_with_when_its_last_request_goes() -> None:
    clock = FakeClock()
    limit = RateLimit(2, 0.1, now=lambda: NOW, clock=clock)  # 20 a second after a burst of 2
    heard: list[RateQueue] = []
    with limit.reporting_to(heard.append):
        async with limit, limit:
            pass
        entering = asyncio.gather(*(_enter(limit) for _ in range(3)))
        await asyncio.sleep(0)
        await clock.advance(0.15)
        await entering
    assert [queue.waiting for queue in heard] == [1, 2, 3, 2, 1, 0]
    assert _seconds_to_last(heard[2]) == pytest.approx(0.15)
    assert _seconds_to_last(heard[-1]) == 0


async def test_a_request_given_up_while_waiting_leaves_the_queue() -> None:
    clock = FakeClock()
    limit = RateLimit(1, 0.05, now=lambda: NOW, clock=clock)
    heard: list[int] = []
    with limit.reporting_to(lambda queue: heard.append(queue.waiting)):
        await _enter(limit)
        given_up = asyncio.create_task(_enter(limit))
        kept = asyncio.create_task(_enter(limit))
        await asyncio.sleep(0)
        given_up.cancel()
        await clock.advance(0.05)
        await kept
    assert given_up.cancelled()
    assert heard == [1, 2, 1, 0]


async def test_nobody_hears_the_queue_once_out_of_reporting() -> None:
    clock = FakeClock()
    limit = RateLimit(1, 0.02, now=lambda: NOW, clock=clock)
    heard: list[RateQueue] = []
    with limit.reporting_to(heard.append):
        pass
    entering = asyncio.gather(*(_enter(limit) for _ in range(3)))
    await asyncio.sleep(0)
    await clock.advance(0.04)
    await entering
    assert heard == []


async def _enter(limit: RateLimit) -> None:
    async with limit:
        pass


def _seconds_to_last(queue: RateQueue) -> float:
    return (queue.last_goes_at - NOW).total_seconds()
