"""`recon guard` as a service manager runs it: a real process against the simulator on its own
thread, changed under it, stopped by SIGTERM."""

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    return stopped_with_log(process)[0]


def stopped_with_log(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Sent SIGTERM, as a service manager stops it: its exit code, and its log."""
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=PATIENCE_SECONDS)
    return process.returncode, log


@dataclass(frozen=True)
class LogLine:
    at: datetime
    event: str
    fields: str


# `2026-11-24T15:31:00.123456Z [warning  ] guard_uncovered    MSFT='covering in 1s'`
LOG_LINE = re.compile(r"(?P<at>\S+) \[\w+\s*\] (?P<event>\S+)\s*(?P<fields>.*)")


def log_lines(log: str) -> list[LogLine]:
    """The guard's log lines, each with the time its own clock gave it."""
    lines = []
    for text in log.splitlines():
        if line := LOG_LINE.fullmatch(text):
            at = datetime.fromisoformat(line["at"])
            lines.append(LogLine(at, line["event"], line["fields"]))
    return lines


def said_of(symbol: str, lines: list[LogLine]) -> list[tuple[datetime, str]]:
    """What the guard said of `symbol`'s cover, and when: each check that found it bare, with
    the wait it had left, and the covering."""
    said = []
    for line in lines:
        if line.event == "guard_uncovered":
            if found := re.search(rf"\b{symbol}='(covering in \d+s)'", line.fields):
                said.append((line.at, found[1]))
        elif line.event == "guard_covering" and f"'{symbol}'" in line.fields:
            said.append((line.at, "covering"))
    return said


GRACE_SECONDS = 1


def test_guard_with_the_stream_refused_covers_each_change_and_exits_0_on_sigterm(
    protected_book: Simulator, db_url: str
) -> None:
    """No stream to hear a change by, the guard finds each one by reading the book itself, and
    covers it at its first read once the grace is over: so its own log says, by its own clock,
    however slowly this machine ran it."""
    simulator = protected_book
    simulator.streams.refuse()
    grace = str(GRACE_SECONDS)
    guard = recon(simulator, db_url, "guard", "--yes", "--grace", grace, "--sweep", "2")
    try:
        within(lambda: runs_finished(db_url) == 1, guard)  # the first reconciliation
        simulator.broker.cancel(stop_of(simulator, "MSFT"))
        within(lambda: exactly_covered(simulator), guard)
        simulator.broker.fill_by_hand("UBER", "buy", D(10), price=D("78.00"))
        within(lambda: exactly_covered(simulator), guard)
        simulator.broker.fill_by_hand("AAPL", "buy", D(5))
        within(lambda: exactly_covered(simulator), guard)
    finally:
        code, log = stopped_with_log(guard)
    assert code == 0, log
    lines = log_lines(log)
    assert [line for line in lines if line.event == "guard_stream"], log
    assert not [line for line in lines if line.event == "guard_stream" and "up=True" in line.fields]
    for symbol in ("MSFT", "UBER", "AAPL"):
        said = said_of(symbol, lines)
        # Found bare with the whole grace ahead, found again once it had run out, covered then.
        assert [what for _, what in said] == [
            f"covering in {GRACE_SECONDS}s", "covering in 0s", "covering",
        ], (symbol, log)  # fmt: skip
        (found, _), _, (covered, _) = said
        assert covered - found >= timedelta(seconds=GRACE_SECONDS), (symbol, log)
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
