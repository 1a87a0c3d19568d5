"""`recon` as an operator runs it: a real process, its exit code and its one line."""

import os
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "sEcReT-must-never-show"


def recon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "RECON_"))}
    return subprocess.run(
        [sys.executable, "-m", "recon", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
    )


def test_reconcile_without_a_key_exits_64_with_one_line(tmp_path: Path) -> None:
    done = recon("reconcile", "--db", f"sqlite:///{tmp_path}/r.db")
    assert done.returncode == 64
    assert done.stderr.strip().count("\n") == 0
    assert "APCA_API_KEY_ID" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--stop-pct", "0.5"], "RECON_EMERGENCY_STOP_PCT (--stop-pct) must be between"),
        (["--broker-url", "not a url"], "APCA_API_BASE_URL (--broker-url) must be an http(s) URL"),
        (["--db", "::nonsense::"], "RECON_DB_URL (--db) is not a database URL"),
    ],
)
def test_bad_configuration_exits_64_with_one_clear_line(flags: list[str], complaint: str) -> None:
    done = recon(
        "reconcile",
        *flags,
        env={"APCA_API_KEY_ID": "PKTESTKEY00007Q", "APCA_API_SECRET_KEY": SECRET},
    )
    assert done.returncode == 64
    assert complaint in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert SECRET not in done.stderr + done.stdout


def test_bad_usage_exits_64_not_argparse_2() -> None:
    done = recon("reconcile", "--frobnicate")
    assert done.returncode == 64
    assert "unrecognized arguments" in done.stderr


def test_db_init_twice_exits_0_and_creates_the_tables(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    first = recon("db", "init", "--db", f"sqlite:///{db}")
    second = recon("db", "init", env={"RECON_DB_URL": f"sqlite:///{db}"})
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert "already current" in second.stdout
    with sqlite3.connect(db) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"order_state", "order_event", "trade", "recon_run", "recon_action"} <= tables


def test_reconcile_on_an_uninitialised_database_says_to_run_db_init(tmp_path: Path) -> None:
    done = recon(
        "reconcile",
        "--db",
        f"sqlite:///{tmp_path}/fresh.db",
        env={"APCA_API_KEY_ID": "PKTESTKEY00007Q", "APCA_API_SECRET_KEY": SECRET},
    )
    assert done.returncode == 64
    assert "recon db init" in done.stderr


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--grace", "-1"], "--grace must be between 0 and 3600 s"),
        (["--sweep", "0.5"], "--sweep must be between 1 and 3600 s"),
        (["--sweep", "soon"], "--sweep takes a number of seconds (got 'soon')"),
    ],
)
def test_guard_with_bad_timings_exits_64_with_one_line(flags: list[str], complaint: str) -> None:
    done = recon("guard", *flags)
    assert done.returncode == 64
    assert complaint in done.stderr
    assert done.stderr.strip().count("\n") == 0


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe closes


@pytest.mark.parametrize(
    "command", [["reconcile", "--dry-run"], ["reconcile", "--yes"], ["db", "init"]]
)
def test_a_postgresql_server_that_does_not_answer_is_one_line_and_exit_2(
    command: list[str],
) -> None:
    done = recon(
        *command,
        env={
            "APCA_API_KEY_ID": "PKTESTKEY00007Q",
            "APCA_API_SECRET_KEY": SECRET,
            "APCA_API_BASE_URL": f"http://127.0.0.1:{closed_port()}",
            "RECON_DB_URL": f"postgresql://ops:{SECRET}@127.0.0.1:{closed_port()}/recon",
        },
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "cannot reach the database postgresql+asyncpg://ops:***@127.0.0.1:" in done.stderr
    assert SECRET not in done.stderr + done.stdout


def test_a_postgresql_url_whose_driver_cannot_be_loaded_is_one_line_and_exit_64() -> None:
    without_asyncpg = (
        "import sys; sys.modules['asyncpg'] = None; from recon.cli import main; sys.exit(main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", without_asyncpg, "reconcile", "--dry-run"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "APCA_API_KEY_ID": "PKTESTKEY00007Q",
            "APCA_API_SECRET_KEY": SECRET,
            "RECON_DB_URL": f"postgres://ops:{SECRET}@127.0.0.1:{closed_port()}/recon",
        },
        timeout=60,
    )
    assert done.returncode == 64
    assert done.stderr.strip().count("\n") == 0
    assert "names postgresql, whose driver asyncpg cannot be loaded" in done.stderr
    assert SECRET not in done.stderr + done.stdout


def test_the_default_database_and_its_lock_are_the_operators_alone(tmp_path: Path) -> None:
    """A shared desk machine, a shell whose umask lets everyone read."""
    data = tmp_path / "data"
    (data / "recon").mkdir(parents=True)  # left open by an older recon
    (data / "recon").chmod(0o755)
    env = {
        "XDG_DATA_HOME": str(data),
        "APCA_API_KEY_ID": "PKTESTKEY00007Q",
        "APCA_API_SECRET_KEY": SECRET,
        "APCA_API_BASE_URL": f"http://127.0.0.1:{closed_port()}",
    }
    for command in (["db", "init"], ["reconcile", "--yes"]):
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "RECON_"))}
        subprocess.run(
            [sys.executable, "-m", "recon", *command],
            capture_output=True,
            env={**clean, **env},
            timeout=60,
            preexec_fn=lambda: os.umask(0o022),
        )
    written = sorted(path.name for path in (data / "recon").iterdir())
    assert "recon.db" in written and "recon.db.recon.lock" in written
    assert stat.S_IMODE((data / "recon").stat().st_mode) == 0o700
    for name in written:
        assert stat.S_IMODE((data / "recon" / name).stat().st_mode) == 0o600, name
