"""The trade stream a run hears its stops confirmed on: opened while the book is read, so that
its handshake costs the run nothing; never by a preview; never left open behind a run, however
the run ends."""

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal

from engine.broker.alpaca import AlpacaBroker
from engine.reconcile.result import EXIT_ABORTED, EXIT_COMPLETED
from engine.simulator.faults import Fault, FaultKind
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, running_simulator
from tests.integration.conftest import make_broker
from tests.integration.reconcile_harness import held, run_reconcile, stop_cover, until

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
PATIENCE_SECONDS = 10.0
D = Decimal


@asynccontextmanager
async def unprotected_book(db_url: str) -> AsyncIterator[Simulator]:
    async with running_simulator("empty", now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        simulator.broker.prices["AAPL"] = D("189.50")
        simulator.broker.seed_position("AAPL", D(100), D("187.20"))
        yield simulator


def patient_broker(simulator: Simulator) -> AlpacaBroker:
    """One whose held read outlasts the stream's opening however loaded the machine: the
    test's own patience, not the suite's half-second timeout, bounds it."""
    return make_broker(simulator, timeout_seconds=2 * PATIENCE_SECONDS)


async def test_a_run_opens_its_stream_while_the_broker_is_still_answering_its_reads(
    db_url: str,
) -> None:
    async with unprotected_book(db_url) as simulator:
        released = threading.Event()
        # Every try of the account read waits until the stream is seen open.
        simulator.faults.add(
            Fault(FaultKind.HOLD, path="/v2/account", times=None, released=released)
        )
        run = asyncio.create_task(run_reconcile(simulator, db_url, broker_for=patient_broker))
        try:
            await until(lambda: simulator.streams.open_connections == 1, seconds=PATIENCE_SECONDS)
        finally:
            released.set()
        result = await run
        assert result.exit_code == EXIT_COMPLETED, result.errors
        assert stop_cover(simulator) == held(simulator)
        assert simulator.streams.connections_served == 1
        await until(lambda: simulator.streams.open_connections == 0, seconds=PATIENCE_SECONDS)


async def test_a_preview_opens_no_stream(db_url: str) -> None:
    async with unprotected_book(db_url) as simulator:
        result = await run_reconcile(simulator, db_url, dry_run=True)
        assert result.exit_code == EXIT_COMPLETED, result.errors
        assert simulator.streams.connections_served == 0


async def test_a_run_whose_read_fails_leaves_no_stream_open(db_url: str) -> None:
    async with unprotected_book(db_url) as simulator:
        simulator.faults.add(Fault(FaultKind.STATUS, path="/v2/positions", status=403))
        result = await run_reconcile(simulator, db_url)
        assert result.exit_code == EXIT_ABORTED
        assert simulator.requests.count("POST") == 0
        await until(lambda: simulator.streams.open_connections == 0, seconds=PATIENCE_SECONDS)
