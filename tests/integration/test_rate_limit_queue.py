"""A book whose stops the rate limit cannot send at once, over real HTTP: the stops reach the
broker riskiest first, and the run tells how many requests wait and when the last will go,
down to nothing waiting."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from functools import partial

import pytest

from engine.broker.alpaca import AlpacaBroker
from engine.broker.rate_limit import RateQueue
from engine.domain import Side
from engine.reconcile.actions import ActionKind
from engine.reconcile.events import Event, RateLimitWaiting, SnapshotReady
from engine.reconcile.result import EXIT_COMPLETED
from engine.simulator.book import SimulatedBroker
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, running_simulator
from engine.simulator.scenarios import CRASH_TIME, LocalBookSeed, Scenario
from tests.clock import FakeClock
from tests.factories import make_filled_entry
from tests.integration.conftest import make_broker
from tests.integration.reconcile_harness import (
    guarding,
    held,
    resting,
    run_reconcile,
    stop_cover,
    until,
)

D = Decimal

# Bought (or, for a negative qty, sold short) at 100.00; the emergency stop level is 2% away
# (98.00 for a long, 102.00 for a short). Riskiest first: nearest its level as a fraction of
# the price, then the largest exposure — neither alphabetical nor the order they were opened.
RISKIEST_FIRST = (
    ("YANKEE", 30, "98.20"),  # 0.20% above its level
    ("MIKE", -50, "101.60"),  # a short, 0.39% below its level
    ("ZETA", 10, "98.50"),  # 0.51%
    ("ECHO", 20, "99.00"),  # 1.01%
    ("GOLF", 70, "99.50"),  # 1.51%
    ("KILO", 50, "100.00"),  # 2.00%, and 5,000 exposed
    ("ALFA", 10, "100.00"),  # 2.00%, and 1,000 exposed
    ("DELTA", 40, "101.00"),  # 2.97%
    ("BRAVO", 100, "103.00"),  # 4.85%
    ("HOTEL", 60, "105.00"),  # 6.67%
)
# One request a tenth of a second, no burst: the snapshot's reads queue, then every stop does,
# and each reaches the simulator alone, in the order the limit lets it go.
ONE_REQUEST_PER_TENTH = partial(make_broker, rate_limit_per_minute=1, rate_limit_period_seconds=0.1)


def _seed(broker: SimulatedBroker) -> LocalBookSeed:
    entries = []
    for symbol, qty, current in sorted(RISKIEST_FIRST):
        broker.prices[symbol] = D(current)
        broker.seed_position(symbol, D(qty), D("100.00"))
        side = Side.BUY if qty > 0 else Side.SELL
        entry = make_filled_entry(symbol, str(abs(qty)), side, price="100.00")
        entries.append(replace(entry, broker_id=None))
    return LocalBookSeed(orders=tuple(entries))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def uncovered_book(db_url: str, clock: FakeClock) -> AsyncIterator[Simulator]:
    """The book, its time kept by `clock` from the crash on: when the simulator says a stop
    reached it is when, on that clock, the rate limit let it go."""
    scenario = Scenario("riskiest-first", "ten uncovered positions at ten risks", _seed)
    started = clock.monotonic()
    async with running_simulator(
        scenario, now=lambda: CRASH_TIME + timedelta(seconds=clock.monotonic() - started)
    ) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        yield simulator


async def test_stops_held_by_the_rate_limit_reach_the_broker_riskiest_first(
    uncovered_book: Simulator, db_url: str
) -> None:
    events: list[Event] = []
    result = await run_reconcile(
        uncovered_book, db_url, events=events, broker_for=ONE_REQUEST_PER_TENTH
    )
    assert result.exit_code == EXIT_COMPLETED
    riskiest_first = [symbol for symbol, _, _ in RISKIEST_FIRST]
    planned = next(event.plan for event in events if isinstance(event, SnapshotReady))
    stops = [a.symbol for a in planned.actions if a.kind is ActionKind.EMERGENCY_STOP]
    assert stops == riskiest_first
    placed = [
        order.symbol
        for order in uncovered_book.broker.orders.values()
        if order.client_order_id.startswith("recon-stop-")
    ]
    assert placed == riskiest_first


# In a run, the book's five reads fill a bucket that leaks one each eighth of a second of the
# run's clock: sooner than the quarter second between two tellings, so the queue is told fewer
# times than its requests go.
RUN_TURN_SECONDS = 1 / 8


async def test_the_run_tells_how_many_requests_wait_and_when_the_last_goes(
    uncovered_book: Simulator, db_url: str, clock: FakeClock
) -> None:
    """The run's clock stands still while it plans its stops: all ten queue behind the book's
    reads and are told, all ten, with the moment the last of them reaches the broker; the
    queue is told fewer times than its requests go, and at last that nothing waits."""
    broker = make_broker(
        uncovered_book,
        rate_limit_per_minute=READS_OF_A_CHECK,
        rate_limit_period_seconds=READS_OF_A_CHECK * RUN_TURN_SECONDS,
        clock=clock,
    )
    events: list[Event] = []
    async with clock_moving_while_requests_wait(clock, broker):
        await run_reconcile(
            uncovered_book, db_url, events=events, broker_for=lambda _: broker, clock=clock
        )
    told = [event for event in events if isinstance(event, RateLimitWaiting)]
    last_stop = max(
        order.submitted_at
        for order in uncovered_book.broker.orders.values()
        if order.client_order_id.startswith("recon-stop-")
    )
    assert told[0] == RateLimitWaiting(len(RISKIEST_FIRST), last_stop)
    assert len(told) < len(RISKIEST_FIRST)
    assert told[-1] == RateLimitWaiting(0, None)


# The guard's rate limit on the guard's clock, a bucket of five requests a minute: a check's five
# reads of the book (account, clock, positions, open and recent orders) fill it, and nothing
# after them goes until the clock has moved on a request's turn.
READS_OF_A_CHECK = 5
GRACE = 60.0  # the time the bucket takes to leak the first check's reads
SWEEP = 3_600.0  # more than all the time the test moves the clock: no sweep comes between


async def test_the_guard_covering_a_bare_book_tells_its_queue_too(
    uncovered_book: Simulator, db_url: str, clock: FakeClock
) -> None:
    """The clock stands still while the guard plans its stops: all ten queue behind the rate
    limit together and are told, all ten, before any of them goes — however slowly the machine
    runs — then the clock moves a turn at a time and the queue is told down to nothing."""
    # A stream coming up would have the book read again at a moment of its own; without it,
    # the guard reads the book once, then once more when its grace is over.
    uncovered_book.streams.refuse()
    broker = make_broker(uncovered_book, rate_limit_per_minute=READS_OF_A_CHECK, clock=clock)
    events: list[Event] = []
    async with (
        clock_moving_while_requests_wait(clock, broker),
        guarding(uncovered_book, db_url, grace=GRACE, sweep=SWEEP, events=events,
                 broker_for=lambda _: broker, clock=clock),
    ):  # fmt: skip
        await until(lambda: resting(clock, GRACE), seconds=10)  # the bare book read
        await clock.advance(GRACE)  # its grace over, and the bucket empty again
        await until(lambda: stop_cover(uncovered_book) == held(uncovered_book), seconds=10)
    told = [event for event in events if isinstance(event, RateLimitWaiting)]
    stops_told = [event.waiting for event in told[: len(RISKIEST_FIRST) + 1]]
    assert stops_told == list(range(len(RISKIEST_FIRST), -1, -1))  # 10, then one fewer a turn
    assert told[-1] == RateLimitWaiting(0, None)


@asynccontextmanager
async def clock_moving_while_requests_wait(
    clock: FakeClock, broker: AlpacaBroker
) -> AsyncIterator[None]:
    """While the rate limit holds requests back, the clock moved on to the next moment anything
    sleeps until — the next request's turn at the latest — and never while it holds none: the
    queue drains without the test waiting on the wall clock, and time stands where the last
    request held back went."""
    held_back = asyncio.Event()

    def heard(queue: RateQueue) -> None:
        if queue.waiting:
            held_back.set()
        else:
            held_back.clear()

    async def move_on() -> None:
        while True:
            await held_back.wait()
            await clock.advance(0)  # what was about to go to sleep does so first
            if clock.sleeping:
                await clock.advance(clock.sleeping[0])

    with broker.reporting_rate_queue(heard):
        moving = asyncio.create_task(move_on())
        try:
            yield
        finally:
            moving.cancel()
            with suppress(asyncio.CancelledError):
                await moving
