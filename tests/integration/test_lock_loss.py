"""A PostgreSQL server restarted under a running guard (SPEC §3, the local database's faults):
the advisory lock goes with the cut connection, and the guard takes it back before anything
else can, keeps covering the book, and a reconciliation started beside it still finds the
database locked."""

import asyncio
import signal
import sys
from datetime import UTC, datetime

from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, SimulatorThread, running_simulator
from tests.integration.recon_process import recon_environment
from tests.integration.reconcile_harness import guarding, until
from tests.integration.test_guard_command import (
    exactly_covered,
    recon,
    runs_finished,
    stop_of,
    within,
)
from tests.postgres import new_database, private_cluster

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
EXIT_LOCKED = 3


async def reconcile_beside(simulator: Simulator, db_url: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recon", "reconcile", "--yes",
        env=recon_environment(simulator, db_url),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return await process.wait()


async def test_a_guard_keeps_its_lock_and_the_book_covered_through_a_server_restart() -> None:
    with private_cluster() as cluster:
        db_url = new_database(cluster.url)
        async with running_simulator("protected_book", now=lambda: CRASH_TIME) as simulator:
            await seed_local_database(db_url, simulator.local_book)
            async with guarding(simulator, db_url, grace=0.2, sweep=0.5) as book:
                await until(lambda: exactly_covered(simulator), seconds=10)
                await asyncio.to_thread(cluster.restart)
                stop = next(
                    order.id
                    for order in simulator.broker.orders.values()
                    if order.is_open and order.type == "stop"
                )
                simulator.broker.cancel(stop)
                await until(lambda: exactly_covered(simulator), seconds=20)
                assert await reconcile_beside(simulator, db_url) == EXIT_LOCKED
            assert not book.watching.cancelled()
        assert book.covered_at_stop is True


def test_recon_guard_stopped_after_a_server_restart_exits_0_without_a_traceback() -> None:
    with private_cluster() as cluster, SimulatorThread("protected_book") as simulator:
        db_url = new_database(cluster.url)
        asyncio.run(seed_local_database(db_url, simulator.local_book))
        guard = recon(simulator, db_url, "guard", "--yes", "--grace", "0", "--sweep", "1")
        try:
            within(lambda: runs_finished(db_url) == 1, guard)
            cluster.restart()
            simulator.broker.cancel(stop_of(simulator, "MSFT"))
            within(lambda: exactly_covered(simulator), guard)  # after the restart
        finally:
            guard.send_signal(signal.SIGTERM)
            _, err = guard.communicate(timeout=30)
        assert guard.returncode == 0, err
        assert "Traceback" not in err
