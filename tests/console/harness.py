"""The console against the real engine: the simulator on its own thread with a fixed clock,
a real SQLite file, and a backend whose database label is fixed so snapshots do not depend on
where pytest put the file."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from textual.pilot import Pilot

from console.app import Backend, BackendFactory, FleetApp, ReconApp
from console.screens.main import TALLY_SECONDS
from engine.broker.retry import RetryPolicy
from engine.domain import OrderEvent
from engine.reconcile.events import DecisionCallback, Listener
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.history import RunHistoryEntry
from engine.reconcile.result import AccountSummary, GuardOutcome, RunResult
from engine.reconcile.service import ReconcileService
from engine.simulator.book import SimulatedBroker
from engine.simulator.demo import demo_service
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, SimulatorThread
from engine.simulator.scenarios import LocalBookSeed, Scenario, load_scenario
from engine.store.journal import JournaledAction

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
SIZE = (160, 50)
FAST_RETRIES = RetryPolicy(delays=(0.01, 0.01, 0.01), jitter=0.0)
# Alpaca numbers paper accounts `PA…`; a live account's number is any other.
LIVE_ACCOUNT_NUMBER = "912345678"
# How a stand-in's preview names its account: paper, so no live gate stands before its run.
PAPER_ACCOUNT = AccountSummary("PA3SIMRECON1", "PK…7Q", paper=True)
FAST_GUARD = GuardSettings(grace_seconds=0.3, sweep_seconds=1.0)
D = Decimal


@dataclass(frozen=True)
class LabelledBackend:
    """The real service, shown under a fixed database name."""

    service: ReconcileService
    database: str = "engine.db"

    @property
    def masked_key_id(self) -> str:
        return self.service.masked_key_id

    @property
    def operator(self) -> str:
        return "ops"

    async def preview(self, emit: Listener) -> RunResult:
        return await self.service.preview(emit)

    async def guard(
        self,
        decide: DecisionCallback,
        emit: Listener,
        settings: GuardSettings,
        stopping: asyncio.Event,
        *,
        after: RunResult | None = None,
        ran: Callable[[RunResult], None] = lambda result: None,
    ) -> GuardOutcome:
        return await self.service.guard(decide, emit, settings, stopping, after=after, ran=ran)

    async def history(self) -> list[RunHistoryEntry]:
        return await self.service.history()

    async def run_actions(self, run_id: str) -> list[JournaledAction]:
        return await self.service.run_actions(run_id)

    async def symbol_history(self, symbol: str) -> list[OrderEvent]:
        return await self.service.symbol_history(symbol)


@dataclass(frozen=True)
class StandInBackend:
    """Who is at the keys, for a test backend that stands in for the engine; a stand-in's
    run is its `run`, and the guard after it watches a quiet book until stopped."""

    database: str = "stand-in.db"
    masked_key_id: str = "PK…7Q"
    operator: str = "ops"

    async def run(self, decide: DecisionCallback, emit: Listener) -> RunResult:
        raise NotImplementedError(f"{type(self).__name__} runs nothing")

    async def guard(
        self,
        decide: DecisionCallback,
        emit: Listener,
        settings: GuardSettings,
        stopping: asyncio.Event,
        *,
        after: RunResult | None = None,
        ran: Callable[[RunResult], None] = lambda result: None,
    ) -> GuardOutcome:
        first = after
        if first is None:
            first = await self.run(decide, emit)
            ran(first)
        await stopping.wait()
        return GuardOutcome(first, covered=True, guard_runs=())


def small_day() -> Scenario:
    """Part of the crashed day: AAPL protected, NVDA's stop canceled, and two orphan limit
    orders (GOOGL, QQQ) — one stop to place, so the log reads the same every time."""

    def seed(broker: SimulatedBroker) -> LocalBookSeed:
        crashed = load_scenario("crashed_day").seed(broker)
        keep = {"AAPL", "NVDA", "GOOGL"}
        for symbol in list(broker.positions):
            if symbol not in keep:
                del broker.positions[symbol]
        for order_id, order in list(broker.orders.items()):
            if order.symbol not in keep:
                del broker.orders[order_id]
        broker.prices["QQQ"] = D("510.00")
        broker.seed_order(
            symbol="QQQ", side="buy", type="limit", qty=D(5), limit_price=D("490.00"),
            client_order_id="phone-qqq-dip", submitted_at=broker.now() - timedelta(minutes=5),
        )  # fmt: skip
        return LocalBookSeed(
            orders=tuple(o for o in crashed.orders if o.symbol in keep), trades=crashed.trades
        )

    return Scenario("small_day", "three symbols, two orphans", seed)


@contextmanager
def console_app(
    tmp_path: Path,
    scenario: str | Scenario = "crashed_day",
    *,
    paper: bool = True,
    accept_delay: timedelta = timedelta(0),
    reports_dir: Path | None = None,
) -> Iterator[tuple[ReconApp, Simulator]]:
    """The app, ready to run under the pilot or the snapshot plugin."""
    chosen = load_scenario(scenario) if isinstance(scenario, str) else scenario
    with SimulatorThread(chosen, now=lambda: CRASH_TIME) as simulator:
        simulator.broker.accept_delay = accept_delay
        connect = seeded_backend(simulator, tmp_path / "engine.db", paper=paper)
        app = ReconApp(
            connect, clock=lambda: 0.0, guard_settings=FAST_GUARD, reports_dir=reports_dir
        )
        yield app, simulator


@contextmanager
def fleet_console_app(
    tmp_path: Path, scenarios: Mapping[str, Scenario], *, live: frozenset[str] = frozenset()
) -> Iterator[tuple[FleetApp, dict[str, Simulator]]]:
    """The fleet console over one simulator and one database per account; the accounts named
    in `live` say they are live."""
    with ExitStack() as stack:
        desk = {
            name: stack.enter_context(SimulatorThread(scenario, now=lambda: CRASH_TIME))
            for name, scenario in scenarios.items()
        }
        accounts = {
            name: seeded_backend(simulator, tmp_path / f"{name}.db", paper=name not in live)
            for name, simulator in desk.items()
        }
        yield FleetApp(accounts, clock=lambda: 0.0, guard_settings=FAST_GUARD), desk


def seeded_backend(simulator: Simulator, db_path: Path, *, paper: bool) -> BackendFactory:
    """A database seeded with the scenario's local rows, and the real service over it and the
    simulator, with fast retries and run ids that read the same every time. Not `paper`, the
    simulated account is numbered as a live one is, which is what makes it live to recon."""
    if not paper:
        simulator.broker.account.account_number = LIVE_ACCOUNT_NUMBER
    db_url = f"sqlite:///{db_path}"
    # Its own thread and loop: the pilot's tests already run inside one.
    with ThreadPoolExecutor(max_workers=1) as seeder:
        seeder.submit(asyncio.run, seed_local_database(db_url, simulator.local_book)).result()
    run_ids = (f"run-{n}" for n in itertools.count(1))
    service = replace(
        demo_service(simulator, db_url),
        operator="ops",
        now=lambda: CRASH_TIME,
        new_run_id=lambda: next(run_ids),
        broker=replace(
            demo_service(simulator, db_url).broker,
            retry_policy=FAST_RETRIES,
            timeout_seconds=2.0,
        ),
    )

    async def connect() -> Backend:
        return LabelledBackend(service, database=db_path.name)

    return connect


async def settle(pilot: Pilot[int], until: Callable[[], bool], *, seconds: float = 20) -> None:
    """Let the app work until `until()` holds; fail loudly if it never does."""
    for _ in range(int(seconds / 0.05)):
        if until():
            # The log and tallies catch up on a timer; let one tick pass so the frame is whole.
            await pilot.pause(TALLY_SECONDS * 2)
            return
        await pilot.pause(0.05)
    raise AssertionError("the console never reached the expected state")


def open_stop(simulator: Simulator, symbol: str) -> str:
    """The id of the stop working on `symbol` at the broker."""
    return next(
        o.id
        for o in simulator.broker.orders.values()
        if o.symbol == symbol and o.is_open and o.type == "stop"
    )
