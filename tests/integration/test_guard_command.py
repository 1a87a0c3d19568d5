"""`recon guard` as a service manager runs it: a real process against the simulator on its own
thread, changed under it, stopped by SIGTERM."""

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from engine.simulator.local_seed import seed_local_database
from engine.simulator.orders import STOP_TYPES
from engine.simulator.runner import Simulator, SimulatorThread
from tests.integration.database import sql
from tests.integration.recon_process import recon_environment
from tests.integration.reconcile_harness import held, stop_cover

D = Decimal
PATIENCE_SECONDS = 20


@pytest.fixture
def protected_book(db_url: str) -> Iterator[Simulator]:
    with SimulatorThread("protected_book") as simulator:
        asyncio.run(seed_local_database(db_url, simulator.local_book))
        yield simulator


def recon(simulator: Simulator, db_url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "recon", *args],
        env=recon_environment(simulator, db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def within(condition: Callable[[], bool], process: subprocess.Popen[str]) -> float:
    start = time.monotonic()
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() - start < PATIENCE_SECONDS, "not covered in time"
        time.sleep(0.02)
    return time.monotonic() - start


def runs_finished(db_url: str) -> int:
    [(count,)] = sql(db_url, "SELECT count(*) FROM recon_run WHERE finished_at IS NOT NULL")
    return int(count)


def exactly_covered(simulator: Simulator) -> bool:
    return stop_cover(simulator) == held(simulator)


def stop_of(simulator: Simulator, symbol: str) -> str:
    return next(
        order.id
        for order in simulator.broker.orders.values()
        if order.symbol == symbol and order.is_open and order.type in STOP_TYPES
    )


def stopped(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=PATIENCE_SECONDS)
    return process.returncode


def test_guard_with_the_stream_refused_covers_each_change_and_exits_0_on_sigterm(
    protected_book: Simulator, db_url: str
) -> None:
    simulator = protected_book
    simulator.streams.refuse()
    guard = recon(simulator, db_url, "guard", "--yes", "--grace", "1", "--sweep", "2")
    try:
        within(lambda: runs_finished(db_url) == 1, guard)  # the first reconciliation
        simulator.broker.cancel(stop_of(simulator, "MSFT"))
        took = [within(lambda: exactly_covered(simulator), guard)]
        simulator.broker.fill_by_hand("UBER", "buy", D(10), price=D("78.00"))
        took.append(within(lambda: exactly_covered(simulator), guard))
        simulator.broker.fill_by_hand("AAPL", "buy", D(5))
        took.append(within(lambda: exactly_covered(simulator), guard))
    finally:
        code = stopped(guard)
    assert code == 0
    assert all(seconds < 1 + 2 + 1.5 for seconds in took), took
    assert not [o for o in simulator.broker.orders.values() if o.type == "market"
                and o.client_order_id.startswith("recon")]  # fmt: skip
    tracked = {
        broker_id
        for (broker_id,) in sql(
            db_url,
            "SELECT broker_id FROM order_state WHERE order_role = 'stop_loss' "
            "AND state NOT IN ('canceled', 'expired', 'filled', 'rejected')",
        )
    }
    working = {o.id for o in simulator.broker.orders.values() if o.is_open and o.type == "stop"}
    assert tracked == working


def test_sigterm_mid_cover_leaves_nothing_the_next_reconcile_cannot_finish(
    protected_book: Simulator, db_url: str
) -> None:
    simulator = protected_book
    guard = recon(simulator, db_url, "guard", "--yes", "--grace", "0", "--sweep", "1")
    try:
        within(lambda: runs_finished(db_url) == 1, guard)
        simulator.latency = 0.1  # a cover slow enough to be caught in the middle
        posts_before = simulator.requests.count("POST")
        for symbol in ("AAPL", "MSFT", "NVDA"):
            simulator.broker.cancel(stop_of(simulator, symbol))
        within(lambda: simulator.requests.count("POST") > posts_before, guard)
    finally:
        stopped(guard)
    simulator.latency = 0.0
    again = recon(simulator, db_url, "reconcile", "--yes", "--json")
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0, out
    assert json.loads(out)["exit_code"] == 0
    assert exactly_covered(simulator)
    client_ids = [order.client_order_id for order in simulator.broker.orders.values()]
    assert len(client_ids) == len(set(client_ids))
