"""Running a whole reconciliation in the test's process: the real adapter over HTTP to the
simulator, the real store on a SQLite file, events and decisions captured."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from engine.broker.alpaca import AlpacaBroker
from engine.broker.status_map import meaning_of
from engine.clock import SYSTEM_CLOCK, Clock
from engine.domain import BrokerOrderStatus
from engine.reconcile.actions import PlanAction, PlanSettings
from engine.reconcile.events import Decision, DecisionAnswer, DecisionCallback, Event
from engine.reconcile.guard import Guard
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.lock import reconciliation_lock
from engine.reconcile.result import RunResult
from engine.reconcile.run import RunRequest, reconcile
from engine.simulator.book import STOP_TYPES
from engine.simulator.runner import Simulator
from engine.store import create_engine, require_current_schema, session_factory
from tests.clock import FakeClock
from tests.integration.conftest import make_broker

SETTINGS = PlanSettings(
    emergency_stop_pct=Decimal("0.02"),
    max_daily_loss_pct=Decimal("0.03"),
    consecutive_loss_pause=3,
)


@dataclass
class Operator:
    """Answers every decision the same way and remembers what it was asked."""

    answer: Decision = Decision.CONFIRMED
    asked: list[PlanAction] = field(default_factory=list)

    async def __call__(self, action: PlanAction) -> DecisionAnswer:
        self.asked.append(action)
        return DecisionAnswer(self.answer, "test-operator")


async def run_reconcile(
    simulator: Simulator,
    db_url: str,
    *,
    operator: DecisionCallback | None = None,
    dry_run: bool = False,
    events: list[Event] | None = None,
    run_id: str = "run-1",
    broker_for: Callable[[Simulator], AlpacaBroker] = make_broker,
    clock: Clock = SYSTEM_CLOCK,
) -> RunResult:
    engine = create_engine(db_url)
    broker = broker_for(simulator)
    captured = events if events is not None else []
    try:
        await require_current_schema(engine)
        return await reconcile(
            RunRequest(
                dry_run=dry_run,
                operator="test-operator",
                masked_key_id="PK…7Q",
                settings=SETTINGS,
            ),
            broker=broker,
            engine=engine,
            decide=operator or Operator(),
            emit=captured.append,
            now=simulator.broker.now,
            run_id=run_id,
            clock=clock,
        )
    finally:
        await broker.close()
        await engine.dispose()


def stop_cover(simulator: Simulator) -> dict[str, Decimal]:
    """Per symbol, the quantity of open closing-side stops the broker holds."""
    cover: dict[str, Decimal] = {}
    for order in simulator.broker.orders.values():
        position = simulator.broker.positions.get(order.symbol)
        if position is None or not order.is_open or order.type not in STOP_TYPES:
            continue
        closing = "sell" if position.qty > 0 else "buy"
        if order.side == closing and meaning_of(BrokerOrderStatus(order.status)).is_open:
            cover[order.symbol] = cover.get(order.symbol, Decimal(0)) + order.remaining_qty
    return cover


def held(simulator: Simulator) -> dict[str, Decimal]:
    return {symbol: abs(p.qty) for symbol, p in simulator.broker.positions.items()}


@asynccontextmanager
async def guarding(
    simulator: Simulator,
    db_url: str,
    *,
    grace: float = 0.2,
    sweep: float = 0.5,
    operator: DecisionCallback | None = None,
    events: list[Event] | None = None,
    asked: frozenset[str] = frozenset(),
    broker_for: Callable[[Simulator], AlpacaBroker] = make_broker,
    clock: Clock = SYSTEM_CLOCK,
) -> AsyncIterator[GuardedBook]:
    """A guard watching the simulator's book in the background, as `recon guard` runs one
    after its first reconciliation; stopped, as SIGTERM would, on leaving."""
    engine = create_engine(db_url)
    broker = broker_for(simulator)
    stopping = asyncio.Event()
    run_ids = (f"{n}" for n in itertools.count(1))
    try:
        async with reconciliation_lock(engine) as lock:
            guard = Guard(
                RunRequest(False, "test-operator", "PK…7Q", SETTINGS),
                GuardSettings(grace_seconds=grace, sweep_seconds=sweep),
                broker=broker,
                sessions=session_factory(engine),
                decide=operator or Operator(),
                emit=(events if events is not None else []).append,
                now=simulator.broker.now,
                new_run_id=lambda: next(run_ids),
                lock=lock,
                asked=asked,
                clock=clock,
            )
            watching = asyncio.create_task(guard.watch(stopping))
            book = GuardedBook(guard, watching)
            try:
                yield book
            finally:
                stopping.set()
                book.covered_at_stop = await watching
    finally:
        await broker.close()
        await engine.dispose()


@dataclass
class GuardedBook:
    guard: Guard
    watching: asyncio.Task[bool]
    covered_at_stop: bool | None = None


async def until(condition: Callable[[], bool], *, seconds: float) -> float:
    """Wait for `condition`, polling the simulator's book; the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not condition():
        if loop.time() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.02)
    return loop.time() - start


def resting(clock: FakeClock, seconds: float) -> bool:
    """Whether the guard sleeps on its clock, due to wake `seconds` from now."""
    return pytest.approx(seconds) in clock.sleeping
