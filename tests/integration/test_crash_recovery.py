"""Kill `recon reconcile` at several points of its execution, run it again, and prove it
converges: every position covered once, no order sent twice, the killed run reported."""

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from engine.reconcile.lock import reconciliation_lock
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, SimulatorThread
from engine.store import create_engine
from tests.integration.recon_process import recon_environment
from tests.integration.reconcile_harness import held, stop_cover

KILL_DEADLINE_SECONDS = 30


@pytest.fixture
def crashed_day(db_url: str) -> Iterator[Simulator]:
    with SimulatorThread("crashed_day") as simulator:
        asyncio.run(seed_local_database(db_url, simulator.local_book))
        # Slow enough that the kill lands mid-run, fast enough for the suite.
        simulator.latency = 0.05
        yield simulator


def reconcile_command() -> list[str]:
    return [sys.executable, "-m", "recon", "reconcile", "--yes", "--json"]


def kill_when(simulator: Simulator, db_url: str, reached: Callable[[Simulator], bool]) -> None:
    process = subprocess.Popen(
        reconcile_command(),
        env=recon_environment(simulator, db_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + KILL_DEADLINE_SECONDS
    while not reached(simulator) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert reached(simulator), "the run ended before reaching the kill point"


def posts(n: int) -> Callable[[Simulator], bool]:
    return lambda simulator: simulator.requests.count("POST") >= n


def first_cancel(simulator: Simulator) -> bool:
    return simulator.requests.count("DELETE") >= 1


@pytest.mark.parametrize(
    "kill_point",
    [first_cancel, posts(1), posts(6), posts(11)],
    ids=["after-orphan-cancel", "first-stop", "mid-stops", "last-stop"],
)
def test_killed_run_is_reported_and_the_next_converges_without_duplicates(
    crashed_day: Simulator, db_url: str, kill_point: Callable[[Simulator], bool]
) -> None:
    kill_when(crashed_day, db_url, kill_point)
    done = subprocess.run(
        reconcile_command(),
        env=recon_environment(crashed_day, db_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = json.loads(done.stdout)
    assert done.returncode == 0, result["errors"]
    assert len(result["unfinished_previous_runs"]) == 1
    assert stop_cover(crashed_day) == held(crashed_day)
    sent = [o.client_order_id for o in crashed_day.broker.orders.values()]
    assert len(sent) == len(set(sent))
    recon_stops = [cid for cid in sent if cid.startswith("recon-stop-")]
    assert len(recon_stops) == 11
    again = subprocess.run(
        reconcile_command(),
        env=recon_environment(crashed_day, db_url),
        capture_output=True,
        text=True,
    )
    assert json.loads(again.stdout)["actions"] == []


async def test_second_reconciliation_on_the_same_database_exits_3(
    crashed_day: Simulator, db_url: str
) -> None:
    engine = create_engine(db_url)
    try:
        # This test holds the lock as a running reconciliation would, in another process's
        # stead; the real `recon` process must see it and step back.
        async with reconciliation_lock(engine):
            second = await asyncio.create_subprocess_exec(
                *reconcile_command(),
                env=recon_environment(crashed_day, db_url),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            _, stderr = await second.communicate()
    finally:
        await engine.dispose()
    assert second.returncode == 3
    assert b"another reconciliation" in stderr
    assert crashed_day.requests.count("GET") == 0
