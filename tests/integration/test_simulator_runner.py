"""Starting and stopping the simulator: in the test's loop, on its own thread, and in the
foreground as `recon sim` runs it, quiet on Ctrl-C."""

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
import time

import requests
from alpaca.trading.client import TradingClient

from engine.simulator.faults import Fault, FaultKind
from engine.simulator.runner import (
    DEMO_KEY_ID,
    DEMO_SECRET_KEY,
    SimulatorThread,
    running_simulator,
)
from engine.simulator.scenarios import CRASH_TIME


async def test_running_simulator_starts_in_the_loop_on_a_free_port_in_milliseconds() -> None:
    started = time.monotonic()
    async with running_simulator("crashed_day", now=lambda: CRASH_TIME) as sim:
        elapsed = time.monotonic() - started
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sim.url)
        assert sim.stream_url == sim.url.replace("http://", "ws://") + "/stream"
        trading = TradingClient(DEMO_KEY_ID, DEMO_SECRET_KEY, url_override=sim.url)
        account = await asyncio.to_thread(trading.get_account)
    assert account.account_number == "PA3SIMRECON1"
    assert elapsed < 0.5


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
    async with running_simulator("empty") as sim:
        sim.faults.add(Fault(FaultKind.DELAY, path="/v2/clock", delay=5))
        trading = TradingClient(DEMO_KEY_ID, DEMO_SECRET_KEY, url_override=sim.url)
        waiting = asyncio.create_task(asyncio.to_thread(trading.get_clock))
        for _ in range(100):
            if sim.requests.count("GET"):
                break
            await asyncio.sleep(0.01)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 1
    with contextlib.suppress(requests.ConnectionError):
        await waiting
