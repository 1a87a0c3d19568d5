"""The guard's figures, each from a real `recon guard` process against the simulator on its own
thread: how soon a canceled stop is replaced and confirmed, with the stream up and with it
refused, and what watching 500 positions costs between events."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.recon_process import seeded_environment
from engine.simulator.runner import Simulator, SimulatorThread
from engine.simulator.scenarios import Scenario, load_scenario, protected_positions

GRACE_SECONDS = 1.0
SWEEP_SECONDS = 2.0
IDLE_SWEEP_SECONDS = 15.0
IDLE_MEASURED_SECONDS = 30.0
PATIENCE_SECONDS = 60.0


@contextmanager
def guard_process(
    scenario: Scenario, *, sweep: float, refuse_stream: bool = False
) -> Iterator[tuple[Simulator, subprocess.Popen[bytes]]]:
    """`recon guard --yes` over `scenario`, returned once its first reconciliation is done;
    stopped by SIGTERM on leaving."""
    with tempfile.TemporaryDirectory() as folder, SimulatorThread(scenario) as simulator:
        db_url, env = seeded_environment(simulator, Path(folder))
        simulator.streams.refuse(refuse_stream)
        process = subprocess.Popen(
            [sys.executable, "-m", "recon", "guard", "--yes",
             "--grace", str(GRACE_SECONDS), "--sweep", str(sweep)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_for(lambda: _runs_finished(db_url) >= 1, process)
            time.sleep(0.5)  # the reads that connecting to the stream asked for
            yield simulator, process
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=PATIENCE_SECONDS)


def stop_replaced_seconds(*, refuse_stream: bool) -> float:
    """From a stop canceled on the broker to its replacement confirmed working."""
    with guard_process(
        load_scenario("protected_book"), sweep=SWEEP_SECONDS, refuse_stream=refuse_stream
    ) as (simulator, process):
        book = simulator.broker
        (stop,) = [o for o in book.orders.values() if o.symbol == "NVDA" and o.is_open]
        start = time.perf_counter()
        book.cancel(stop.id)
        _wait_for(
            lambda: any(
                o.symbol == "NVDA" and o.status == "new" and o.id != stop.id
                for o in list(book.orders.values())
            ),
            process,
        )
        return time.perf_counter() - start


def idle_cpu_share(positions: int) -> float:
    """The guard's CPU over a quiet spell with the stream up, as a share of one core."""
    with guard_process(protected_positions(positions), sweep=IDLE_SWEEP_SECONDS) as (_, process):
        before = _cpu_seconds(process.pid)
        time.sleep(IDLE_MEASURED_SECONDS)
        return (_cpu_seconds(process.pid) - before) / IDLE_MEASURED_SECONDS


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])  # utime and stime, in clock ticks
    return (user + system) / os.sysconf("SC_CLK_TCK")


def _runs_finished(db_url: str) -> int:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM recon_run WHERE finished_at IS NOT NULL"
        ).fetchone()
    return int(count)


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        if process.poll() is not None:
            raise SystemExit(f"recon guard ended early (exit {process.returncode})")
        if time.monotonic() > deadline:
            raise SystemExit("recon guard did not get there in a minute")
        time.sleep(0.01)
