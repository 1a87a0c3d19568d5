"""Two guards on one book (SPEC §1, `recon guard --standby`): the second stands by while the
first holds the database's lock, takes over the moment the first is killed outright, covers a
stop lost after that within grace + sweep + 10 s, and exits 0 on SIGTERM — on PostgreSQL, as
two hosts would, and on SQLite, between processes of one host."""

import signal
import subprocess
import threading
import time
from collections.abc import Callable

from engine.simulator.runner import Simulator
from tests.integration.test_guard_command import (
    exactly_covered,
    protected_book,  # noqa: F401  (the fixture)
    recon,
    runs_finished,
    stop_of,
    stopped,
)

GRACE, SWEEP = 1, 2
TAKEOVER_SECONDS = GRACE + SWEEP + 10


class Lines:
    """A process's stderr, read as it comes, so a test waits on what it says."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        assert process.stderr is not None
        stream = process.stderr
        self._reader = threading.Thread(
            target=lambda: self.seen.extend(iter(stream.readline, "")), daemon=True
        )
        self._reader.start()

    def said(self, event: str) -> bool:
        return any(event in line for line in list(self.seen))

    def all_of(self) -> list[str]:
        """Everything, once the process has ended."""
        self._reader.join(timeout=30)
        return self.seen


def terminated(process: subprocess.Popen[str]) -> int:
    """SIGTERM, as a service manager stops it; its exit code."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def within(seconds: float, condition: Callable[[], bool]) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - start


def test_a_standby_takes_over_from_a_killed_guard_and_covers_what_is_lost_after(
    protected_book: Simulator,  # noqa: F811
    db_url: str,
) -> None:
    simulator = protected_book
    timings = ("--grace", str(GRACE), "--sweep", str(SWEEP))
    first = recon(simulator, db_url, "guard", "--yes", *timings)
    standby = None
    try:
        within(30, lambda: runs_finished(db_url) == 1)  # the first guard's reconciliation
        standby = recon(simulator, db_url, "guard", "--yes", "--standby", *timings)
        heard = Lines(standby)
        within(30, lambda: heard.said("guard_standing_by"))
        assert standby.poll() is None
        first.kill()  # kill -9: its lock goes with it, and nothing is released cleanly
        first.wait()
        within(30, lambda: runs_finished(db_url) == 2)  # the standby's full reconciliation
        simulator.broker.cancel(stop_of(simulator, "MSFT"))
        took = within(TAKEOVER_SECONDS, lambda: exactly_covered(simulator))
    finally:
        if first.poll() is None:
            first.kill()
        code = terminated(standby) if standby is not None else None
    assert code == 0
    assert took < TAKEOVER_SECONDS
    assert not [line for line in heard.all_of() if "Traceback" in line]


def test_a_standby_stopped_before_the_lock_comes_free_exits_0(
    protected_book: Simulator,  # noqa: F811
    db_url: str,
) -> None:
    simulator = protected_book
    first = recon(simulator, db_url, "guard", "--yes")
    try:
        within(30, lambda: runs_finished(db_url) == 1)
        standby = recon(simulator, db_url, "guard", "--yes", "--standby")
        heard = Lines(standby)
        within(30, lambda: heard.said("guard_standing_by"))
        assert terminated(standby) == 0
        # Read to its end: the process may be gone before its last line is.
        assert [line for line in heard.all_of() if "guard_stopped_standing_by" in line]
        assert runs_finished(db_url) == 1  # it never ran
    finally:
        assert stopped(first) == 0
