"""Starting and stopping the simulator: in the test's loop, on its own thread, and in the
foreground as `recon sim` runs it, quiet on Ctrl-C."""

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests
from alpaca.trading.client import TradingClient

from engine.simulator.faults import Fault, FaultKind
from engine.simulator.runner import (
    DEMO_KEY_ID,
    DEMO_SECRET_KEY,
    Simulator,
    SimulatorThread,
    running_simulator,
)
from engine.simulator.scenarios import CRASH_TIME, load_scenario
from tests.integration.simulator_harness import recon_sim, seeded_rows


async def test_running_simulator_starts_in_the_loop_on_a_free_port() -> None:
    async with running_simulator("crashed_day", now=lambda: CRASH_TIME) as sim:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sim.url)
        assert sim.stream_url == sim.url.replace("http://", "ws://") + "/stream"
        trading = TradingClient(DEMO_KEY_ID, DEMO_SECRET_KEY, url_override=sim.url)
        account = await asyncio.to_thread(trading.get_account)
    assert account.account_number == "PA3SIMRECON1"


def test_simulator_thread_takes_its_own_keys() -> None:
    with SimulatorThread("empty", key_id="PKOTHER", secret_key="other-secret") as sim:
        assert TradingClient("PKOTHER", "other-secret", url_override=sim.url).get_clock()
        assert requests.get(f"{sim.url}/v2/clock", timeout=5).status_code == 401


def test_serve_prints_its_url_and_stops_quietly_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from engine.simulator.runner import serve; serve('crashed_day')"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        match = re.fullmatch(r"recon simulator listening on (http://127\.0\.0\.1:\d+)", first)
        assert match, first
        trading = TradingClient(DEMO_KEY_ID, DEMO_SECRET_KEY, url_override=match.group(1))
        assert trading.get_clock().is_open
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0
    assert out.splitlines()[-1] == "recon simulator stopped"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert DEMO_SECRET_KEY not in first


async def test_stopping_does_not_wait_for_a_delayed_request() -> None:
    """The request is held for an hour; the simulator stops long before that."""
    async with asyncio.timeout(60), running_simulator("empty") as sim:
        sim.faults.add(Fault(FaultKind.DELAY, path="/v2/clock", delay=3600))
        trading = TradingClient(DEMO_KEY_ID, DEMO_SECRET_KEY, url_override=sim.url)
        waiting = asyncio.create_task(asyncio.to_thread(trading.get_clock))
        for _ in range(1000):
            if sim.requests.count("GET"):
                break
            await asyncio.sleep(0.01)
    with contextlib.suppress(requests.ConnectionError):
        await waiting


def test_recon_sim_seed_db_writes_the_days_local_rows_before_serving(tmp_path: Path) -> None:
    db = tmp_path / "day.db"
    with recon_sim("--seed-db", f"sqlite:///{db}") as process:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(3)]
        # Serving means seeded: the rows are there before the URL is printed.
        orders, trades = seeded_rows(db)
    expected = Simulator(load_scenario("crashed_day")).local_book
    assert lines[0].startswith("recon simulator listening on http://127.0.0.1:")
    assert lines[2] == (
        f"local rows written: {len(expected.orders)} orders, {len(expected.trades)} trades; "
        f"RECON_DB_URL=sqlite:///{db}"
    )
    assert orders == {order.local_id for order in expected.orders}
    assert trades == len(expected.trades) > 0


def test_recon_sim_seeds_only_a_database_without_orders(tmp_path: Path) -> None:
    db = tmp_path / "day.db"
    with recon_sim("--seed-db", f"sqlite:///{db}") as first:
        assert first.stdout is not None
        first.stdout.readline()
    before = seeded_rows(db)
    with recon_sim("--seed-db", f"sqlite:///{db}") as second:
        _, err = second.communicate(timeout=30)
    assert second.returncode == 1
    assert err.strip() == (
        f"recon: {db} already holds {len(before[0])} orders; a scenario's local rows are "
        "written only into a database with none"
    )
    assert seeded_rows(db) == before


def test_recon_sim_names_a_bad_seed_db_url_in_one_line() -> None:
    with recon_sim("--seed-db", "::nonsense::") as process:
        out, err = process.communicate(timeout=30)
    assert process.returncode == 64
    assert err.startswith("recon: --seed-db is not a database URL")
    assert len(err.strip().splitlines()) == 1
    assert out == ""
