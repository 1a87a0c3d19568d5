"""One reconciliation per SQLite database, however its path is spelled, and a lock that cannot
be turned on the operator: `recon reconcile` as a real process beside a lock this test holds."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.reconcile.lock import reconciliation_lock
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, SimulatorThread
from engine.store import create_engine
from tests.integration.recon_process import recon_environment

VICTIM_TEXT = "the operator's own file\n"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Simulator, Path]]:
    with SimulatorThread("crashed_day") as simulator:
        path = tmp_path / "engine.db"
        asyncio.run(seed_local_database(f"sqlite:///{path}", simulator.local_book))
        yield simulator, path


def reconcile(simulator: Simulator, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recon", "reconcile", "--yes"],
        env=recon_environment(simulator, f"sqlite:///{db}"),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def held_while(
    db: Path, spelling: Path, simulator: Simulator
) -> subprocess.CompletedProcess[str]:
    """`recon reconcile` on `spelling` while this test holds the lock of `db`, as a running
    reconciliation would."""
    engine = create_engine(f"sqlite:///{db}")
    try:
        async with reconciliation_lock(engine):
            return await asyncio.to_thread(reconcile, simulator, spelling)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("spelling", ["symlink", "hard link", "relative"])
async def test_every_spelling_of_one_database_meets_the_same_lock(
    database: tuple[Simulator, Path], spelling: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator, db = database
    other = tmp_path / "elsewhere"
    other.mkdir()
    if spelling == "symlink":
        path = other / "link.db"
        path.symlink_to(db)
    elif spelling == "hard link":
        path = other / "hard.db"
        os.link(db, path)
    else:
        monkeypatch.chdir(other)
        path = Path("..") / db.name
    done = await held_while(db, path, simulator)
    assert done.returncode == 3, done.stderr
    # The holder's pid is noted beside the path it was reached by; a hard link elsewhere is
    # another path, so there the pid may read "unknown".
    holder = "unknown" if spelling == "hard link" else str(os.getpid())
    assert f"another reconciliation (pid {holder})" in done.stderr
    assert simulator.requests.count("POST") == simulator.requests.count("DELETE") == 0


def test_a_symlink_planted_as_the_lock_note_is_refused_and_its_target_untouched(
    database: tuple[Simulator, Path], tmp_path: Path
) -> None:
    simulator, db = database
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    victim.chmod(0o644)
    Path(f"{db}.recon.lock").symlink_to(victim)
    done = reconcile(simulator, db)
    assert done.returncode == 2
    assert "is a symbolic link" in done.stderr
    assert "Traceback" not in done.stderr
    assert victim.read_text() == VICTIM_TEXT
    assert victim.stat().st_mode & 0o777 == 0o644
    assert simulator.requests.count("POST") == simulator.requests.count("DELETE") == 0
