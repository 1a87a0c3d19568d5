"""The local database's faults (SPEC §3): a SQLite file another writer holds as a run starts —
waited out when it is let go within the busy timeout, one line and exit 2 with nothing sent when
it is not — and a database that stops taking writes after the broker took a change: nothing
more is changed, the change is reported by its ids, and the next run adopts it."""

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.reconcile.actions import ActionKind, Phase, PlanAction
from engine.reconcile.events import DecisionAnswer, Event, SnapshotReady
from engine.reconcile.execute import Executor
from engine.reconcile.ledger import StoreLedger
from engine.reconcile.outcomes import JournalEntry
from engine.reconcile.result import EXIT_ABORTED, EXIT_COMPLETED
from engine.simulator.book import SimulatedBroker
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import SimulatorThread, running_simulator
from engine.simulator.scenarios import LocalBookSeed, Scenario
from engine.store import DatabaseLocked, create_engine, journal, session_factory
from tests.clock import FakeClock
from tests.integration.conftest import make_broker
from tests.integration.reconcile_harness import held, run_reconcile, stop_cover
from tests.integration.test_guard_command import recon

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
D = Decimal


def _two_bare_positions(broker: SimulatedBroker) -> LocalBookSeed:
    for symbol, price in (("AAPL", "189.50"), ("MSFT", "417.10")):
        broker.prices[symbol] = D(price)
        broker.seed_position(symbol, D(10), D(price))
    return LocalBookSeed()


TWO_BARE = Scenario("two_bare", "two positions with no stop", _two_bare_positions)


@contextmanager
def writer_holding(database: Path) -> Iterator[sqlite3.Connection]:
    """Another writer — the trading engine — in a write transaction on the file until let go
    (by committing) or until the block ends."""
    connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    finally:
        if connection.in_transaction:
            connection.execute("COMMIT")
        connection.close()


async def test_a_lock_let_go_while_the_run_waits_on_it_is_waited_out(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'engine.db'}"
    async with running_simulator(TWO_BARE, now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        with writer_holding(tmp_path / "engine.db") as writer:
            events: list[Event] = []
            run = asyncio.create_task(run_reconcile(simulator, db_url, events=events))
            # The run has read the book and is about to journal itself: the engine lets go.
            while not any(isinstance(event, SnapshotReady) for event in events):
                assert not run.done(), run.result()
                await asyncio.sleep(0.01)
            writer.execute("COMMIT")
            result = await run
    assert result.exit_code == EXIT_COMPLETED, result.errors
    assert stop_cover(simulator) == held(simulator)


def test_a_lock_held_past_the_busy_timeout_is_one_line_and_exit_2_with_nothing_sent(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'engine.db'}"
    with SimulatorThread(TWO_BARE, now=lambda: CRASH_TIME) as simulator:
        asyncio.run(seed_local_database(db_url, simulator.local_book))
        with writer_holding(tmp_path / "engine.db"):
            process = recon(simulator, db_url, "reconcile", "--yes")
            out, err = process.communicate(timeout=60)
        assert process.returncode == EXIT_ABORTED
        assert out == ""
        assert "Traceback" not in err
        # The structured log of the fetch, then the one line that says why it stopped.
        assert err.splitlines()[-1] == (
            "recon: aborted before any change: record the run: the database is locked by "
            "another writer (waited 5 s)"
        )
        assert simulator.requests.count("POST") == simulator.requests.count("DELETE") == 0


class WritesRefused:
    """The database refusing every row once its tries are spent, as `StoreLedger` reports it;
    the journal's own lines are taken."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    async def apply_broker_state(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("not reached: this book has no local order to change")

    async def insert_order(self, row: Any, **kwargs: Any) -> None:
        self.refused.append(row.local_id)
        raise DatabaseLocked(
            f"record {row.local_id}: the database is locked by another writer (waited 5 s)"
        )

    async def record_planned(self, actions: Any) -> None:
        pass

    async def record_decision(self, seq: int, answer: DecisionAnswer) -> None:
        raise AssertionError("no decision in this plan")

    async def record_outcome(self, entry: JournalEntry) -> None:
        pass


async def never_asked(action: Any) -> DecisionAnswer:
    raise AssertionError("no decision in this plan")


async def test_a_change_the_database_cannot_record_is_reported_by_its_ids_and_adopted_next(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'engine.db'}"
    async with running_simulator(TWO_BARE, now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        preview = await run_reconcile(simulator, db_url, dry_run=True)
        assert preview.plan is not None
        broker = make_broker(simulator)
        ledger = WritesRefused()
        executor = Executor(
            broker=broker, ledger=ledger, decide=never_asked, emit=lambda _: None,
            now=simulator.broker.now,
        )  # fmt: skip
        try:
            await executor.run(preview.plan)
        finally:
            await broker.close()
        stops = {o.client_order_id: o.id for o in simulator.broker.orders.values()}
        assert len(stops) == 2  # both stops went out together, before either was refused
        for client_order_id, broker_id in stops.items():
            assert any(
                broker_id in error and client_order_id in error for error in executor.report.errors
            ), executor.report.errors
        # Nothing after the refusal: the synthetic entries were never tried.
        assert sorted(ledger.refused) == sorted(stops)
        assert executor.database_failure is not None

        again = await run_reconcile(simulator, db_url, run_id="run-2")
    assert again.exit_code == EXIT_COMPLETED, again.errors
    summary = again.to_json()
    assert summary["orphan_orders_adopted"] == 2
    assert summary["emergency_stops_placed"] == 0


class LettingGo(FakeClock):
    """The trading engine lets its write go while the ledger waits to try again."""

    def __init__(self, writer: sqlite3.Connection) -> None:
        super().__init__()
        self._writer = writer
        self.pauses: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self._writer.execute("COMMIT")


async def test_a_write_refused_while_locked_goes_in_once_the_lock_is_let_go(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'engine.db'}"
    await seed_local_database(db_url, LocalBookSeed())
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    try:
        async with sessions.begin() as session:
            await journal.start_run(
                session, run_id="run-1", operator="ops", account_number="PA3SIMRECON1",
                paper=True, dry_run=False, started_at=CRASH_TIME,
            )  # fmt: skip
        with writer_holding(tmp_path / "engine.db") as writer:
            clock = LettingGo(writer)
            ledger = StoreLedger(sessions, "run-1", lambda: CRASH_TIME, clock=clock)
            await ledger.record_planned(
                [PlanAction(1, Phase.POSITIONS, ActionKind.SYNTHETIC_ENTRY, "AAPL", "x", "held")]
            )
        assert clock.pauses == [0.5]  # refused once, while the engine held the file; then written
        async with sessions() as session:
            (action,) = await journal.load_run_actions(session, "run-1")
        assert action.symbol == "AAPL"
    finally:
        await engine.dispose()
