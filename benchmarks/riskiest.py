"""More stops than the rate limit lets go at once: `recon reconcile` over 300 uncovered positions
on one account at Alpaca's 200 requests a minute, timed until the broker holds a working stop
for each of the 100 riskiest — and checked that none of the 100 least risky was covered before
them. The rest of the run only waits its turn for half a minute, so it is not waited for."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.books import riskiest_first, unprotected_at_risk
from benchmarks.recon_process import seeded_environment
from engine.simulator.runner import Simulator, SimulatorThread

POSITIONS = 300
RISKIEST = 100
RATE_LIMIT_PER_MINUTE = 200  # Alpaca's, and recon's default
LATENCY_SECONDS = 0.05
# Far beyond the figure's bound: a run that has not covered the riskiest by then is broken.
GIVE_UP_SECONDS = 30.0
POLL_SECONDS = 0.01


def riskiest_covered_seconds() -> float:
    """Seconds from starting `recon reconcile` until the broker holds working stops for the
    100 riskiest positions; the run is stopped there."""
    symbols = riskiest_first(POSITIONS)
    riskiest, least_risky = set(symbols[:RISKIEST]), set(symbols[-RISKIEST:])
    with (
        tempfile.TemporaryDirectory() as folder,
        SimulatorThread(unprotected_at_risk(POSITIONS)) as simulator,
    ):
        _, env = seeded_environment(simulator, Path(folder))
        env["RECON_RATE_LIMIT_PER_MINUTE"] = str(RATE_LIMIT_PER_MINUTE)
        simulator.latency = LATENCY_SECONDS
        with (Path(folder) / "recon.log").open("w+") as log:
            started = datetime.now(UTC)
            recon = subprocess.Popen(
                [sys.executable, "-m", "recon", "reconcile", "--yes", "--json"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            try:
                covered = _until_decided(simulator, riskiest, least_risky, recon)
            finally:
                recon.terminate()
                recon.wait()
            if covered is None:
                log.seek(0)
                print(log.read()[-2000:], file=sys.stderr)
                raise SystemExit(
                    f"the {POSITIONS}-stop run covered neither the {RISKIEST} riskiest positions "
                    f"nor any of the least risky (exit {recon.returncode})"
                )
    early = _covered_too_early(covered, riskiest, least_risky)
    if early:
        raise SystemExit(
            f"riskiest first broken: {len(early)} of the {RISKIEST} least risky positions "
            f"({', '.join(early[:5])}…) were covered before the last of the {RISKIEST} riskiest"
        )
    return (max(covered[symbol] for symbol in riskiest) - started).total_seconds()


def _until_decided(
    simulator: Simulator, riskiest: set[str], least_risky: set[str], recon: subprocess.Popen[bytes]
) -> dict[str, datetime] | None:
    """When the broker took each working stop so far, once the riskiest all have one or any of
    the least risky has: either settles the figure. None if recon ended, or we gave up, first."""
    give_up = time.monotonic() + GIVE_UP_SECONDS
    while True:
        covered = _stops_taken(simulator)
        if riskiest <= covered.keys() or least_risky & covered.keys():
            return covered
        if recon.poll() is not None or time.monotonic() > give_up:
            return None
        time.sleep(POLL_SECONDS)


def _covered_too_early(
    covered: dict[str, datetime], riskiest: set[str], least_risky: set[str]
) -> list[str]:
    """The least risky positions covered before the last of the riskiest was — every one
    covered, while a riskiest one is still bare."""
    early = sorted(least_risky & covered.keys())
    if riskiest <= covered.keys():
        last_riskiest = max(covered[symbol] for symbol in riskiest)
        return [symbol for symbol in early if covered[symbol] <= last_riskiest]
    return early


def _stops_taken(simulator: Simulator) -> dict[str, datetime]:
    # A copy in one step: the simulator's thread adds orders while this one reads them.
    orders = simulator.broker.orders.copy().values()
    return {
        order.symbol: order.submitted_at
        for order in orders
        if order.client_order_id.startswith("recon-stop-") and order.status == "new"
    }
