"""Emergency stops in bulk: `recon reconcile` over positions that have none, against the
simulator on a thread of this process, timed from starting the process to its exit."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.books import unprotected_positions
from benchmarks.recon_process import seeded_environment
from benchmarks.side import Side
from engine.simulator.runner import SimulatorThread

LATENCY_SECONDS = 0.05


def stops_seconds(side: Side, positions: int, rate_limit_per_minute: int | None = None) -> float:
    """Wall time of `side`'s `recon reconcile --yes` placing a stop for each of `positions`
    unprotected positions, the broker answering after 50 ms; recon's own rate limit unless
    `rate_limit_per_minute` is given."""
    with (
        tempfile.TemporaryDirectory() as folder,
        SimulatorThread(unprotected_positions(positions)) as simulator,
    ):
        _, env = seeded_environment(simulator, Path(folder))
        if rate_limit_per_minute is not None:
            env["RECON_RATE_LIMIT_PER_MINUTE"] = str(rate_limit_per_minute)
        simulator.latency = LATENCY_SECONDS
        start = time.perf_counter()
        done = subprocess.run(
            side.command("reconcile", "--yes", "--json"),
            cwd=side.root,
            env=side.environment(env),
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
        placed = simulator.requests.count("POST")
    if done.returncode != 0 or placed != positions:
        print(done.stderr[-2000:], file=sys.stderr)
        raise SystemExit(
            f"the {positions}-stop run of {side.name} failed (exit {done.returncode}, "
            f"{placed} stops)"
        )
    return elapsed
