"""`recon fleet reconcile` as a desk runs it after an outage: a real process over three real
simulators, two accounts on PostgreSQL and one on SQLite, each account on its own."""

import asyncio
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import pytest

from engine.simulator.faults import Fault, FaultKind
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, SimulatorThread
from tests.integration.database import table_rows
from tests.integration.reconcile_harness import stop_cover
from tests.postgres import new_database

NAMES = ("alpha", "bravo", "charlie")
ENGINE_TABLES = ("order_state", "order_event", "trade")


@pytest.fixture
def desk() -> Iterator[dict[str, Simulator]]:
    """Each account's broker: the crashed day on three simulators of their own."""
    with ExitStack() as stack:
        yield {name: stack.enter_context(SimulatorThread("crashed_day")) for name in NAMES}


def fleet_file(folder: Path, desk: dict[str, Simulator], dbs: dict[str, str]) -> Path:
    path = folder / "fleet.toml"
    path.write_text(
        "".join(
            f'[[account]]\nname = "{name}"\nkey_id_env = "{name.upper()}_KEY_ID"\n'
            f'secret_key_env = "{name.upper()}_SECRET_KEY"\nbase_url = "{simulator.url}"\n'
            f'db = "{dbs[name]}"\n\n'
            for name, simulator in desk.items()
        )
    )
    path.chmod(0o600)  # whatever the umask: a file others can write is refused
    return path


def keys(desk: dict[str, Simulator]) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "RECON_"))}
    for name, simulator in desk.items():
        clean[f"{name.upper()}_KEY_ID"] = simulator.key_id
        clean[f"{name.upper()}_SECRET_KEY"] = simulator.secret_key
    return clean


def fleet(path: Path, desk: dict[str, Simulator], *flags: str) -> list[str]:
    return [sys.executable, "-m", "recon", "fleet", "reconcile", "--accounts", str(path),
            *flags]  # fmt: skip


def refused(path: Path, command: str) -> subprocess.CompletedProcess[str]:
    """`recon fleet COMMAND` on a fleet file it should refuse before reading any account."""
    return subprocess.run(
        [sys.executable, "-m", "recon", "fleet", command, "--accounts", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def seeded(desk: dict[str, Simulator], dbs: dict[str, str]) -> None:
    for name, simulator in desk.items():
        asyncio.run(seed_local_database(dbs[name], simulator.local_book))


def covered(simulator: Simulator) -> bool:
    held = {symbol: abs(p.qty) for symbol, p in simulator.broker.positions.items()}
    return stop_cover(simulator) == held and all(qty > Decimal(0) for qty in held.values())


def test_one_broker_down_leaves_its_account_untouched_and_the_others_converge(
    desk: dict[str, Simulator], tmp_path: Path, postgres_server_url: str
) -> None:
    dbs = {
        "alpha": new_database(postgres_server_url),
        "bravo": new_database(postgres_server_url),
        "charlie": f"sqlite:///{tmp_path / 'charlie.db'}",
    }
    seeded(desk, dbs)
    desk["bravo"].faults.add(Fault(FaultKind.STATUS, path="/v2/account", status=503, times=None))
    bravo_before = {table: table_rows(dbs["bravo"], table) for table in ENGINE_TABLES}
    done = subprocess.run(
        fleet(fleet_file(tmp_path, desk, dbs), desk, "--yes", "--json"),
        capture_output=True,
        text=True,
        env=keys(desk),
        timeout=120,
    )
    report = json.loads(done.stdout)
    codes = {account["name"]: account["exit_code"] for account in report["accounts"]}
    assert done.returncode == report["exit_code"] == 2
    assert codes == {"alpha": 0, "bravo": 2, "charlie": 0}
    bravo = next(account for account in report["accounts"] if account["name"] == "bravo")
    assert "broker unreachable" in bravo["aborted"]
    assert covered(desk["alpha"]) and covered(desk["charlie"])
    assert desk["bravo"].requests.count("POST") == desk["bravo"].requests.count("DELETE") == 0
    assert {table: table_rows(dbs["bravo"], table) for table in ENGINE_TABLES} == bravo_before
    for name in NAMES:
        assert desk[name].secret_key not in done.stdout + done.stderr


def test_a_fleet_run_finds_every_account_another_reconciliation_holds_locked(
    desk: dict[str, Simulator], tmp_path: Path
) -> None:
    dbs = {name: f"sqlite:///{tmp_path / name}.db" for name in NAMES}
    seeded(desk, dbs)
    path = fleet_file(tmp_path, desk, dbs)
    # Another reconciliation of each database, held here rather than raced: recon's lock is an
    # exclusive flock on the database file itself.
    with ExitStack() as held:
        for name in NAMES:
            descriptor = os.open(tmp_path / f"{name}.db", os.O_RDONLY)
            held.callback(os.close, descriptor)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        second = subprocess.run(
            fleet(path, desk, "--yes", "--json"),
            capture_output=True,
            text=True,
            env=keys(desk),
            timeout=60,
        )
    report = json.loads(second.stdout)
    assert second.returncode == 3
    assert {account["exit_code"] for account in report["accounts"]} == {3}
    assert all("another reconciliation" in account["error"] for account in report["accounts"])
    assert all(simulator.requests.count("POST") == 0 for simulator in desk.values())
    # Let go, the same run goes through.
    done = subprocess.run(
        fleet(path, desk, "--yes", "--json"), capture_output=True, text=True, env=keys(desk)
    )
    assert done.returncode == 0, done.stdout
    assert all(covered(simulator) for simulator in desk.values())


def test_without_json_each_account_reads_under_its_name_and_the_fleet_sums_up(
    desk: dict[str, Simulator], tmp_path: Path
) -> None:
    dbs = {name: f"sqlite:///{tmp_path / name}.db" for name in NAMES}
    seeded(desk, dbs)
    del dbs["charlie"]  # its key pair is missing too: only its own account fails
    env = {k: v for k, v in keys(desk).items() if not k.startswith("CHARLIE_")}
    path = fleet_file(tmp_path, {name: desk[name] for name in dbs}, dbs)
    path.write_text(
        path.read_text() + f'[[account]]\nname = "charlie"\nkey_id_env = "CHARLIE_KEY_ID"\n'
        f'secret_key_env = "CHARLIE_SECRET_KEY"\nbase_url = "{desk["charlie"].url}"\n'
        f'db = "sqlite:///{tmp_path / "charlie.db"}"\n'
    )
    done = subprocess.run(
        fleet(path, desk, "--yes"), capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 64
    lines = done.stdout.splitlines()
    assert lines[0] == "== alpha: exit 0"
    assert "== bravo: exit 0" in lines
    charlie = lines.index("== charlie: exit 64")
    assert lines[charlie + 1] == (
        "recon: CHARLIE_KEY_ID and CHARLIE_SECRET_KEY must be set for account charlie"
    )
    assert lines[-1] == "fleet: exit 64 — alpha 0 · bravo 0 · charlie 64"
    assert covered(desk["alpha"]) and covered(desk["bravo"])
    assert desk["charlie"].requests.count("POST") == 0


@pytest.mark.parametrize("command", ["reconcile", "console"])
def test_a_fleet_file_holding_a_secret_is_refused_with_its_line(
    tmp_path: Path, command: str
) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(
        '[[account]]\nname = "alpha"\nkey_id_env = "PKABCDEFGHIJKLMNOPQR"\n'
        'secret_key_env = "ALPHA_SECRET"\nbase_url = "https://paper-api.alpaca.markets"\n'
        'db = "sqlite:///alpha.db"\n'
    )
    path.chmod(0o600)
    done = refused(path, command)
    assert done.returncode == 64
    assert done.stderr.strip() == (
        f"recon: {path}:3: key_id_env must name an environment variable, not hold the key: "
        "a fleet file never holds a secret"
    )
    assert "PKABCDEFGHIJKLMNOPQR" not in done.stderr


@pytest.mark.parametrize("command", ["reconcile", "console"])
@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666], ids=oct)
def test_a_fleet_file_others_can_write_is_refused_naming_its_mode(
    tmp_path: Path, command: str, mode: int
) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(
        '[[account]]\nname = "alpha"\nkey_id_env = "ALPHA_KEY_ID"\n'
        'secret_key_env = "ALPHA_SECRET_KEY"\nbase_url = "https://paper-api.alpaca.markets"\n'
        'db = "sqlite:///alpha.db"\n'
    )
    path.chmod(mode)
    done = refused(path, command)
    assert done.returncode == 64
    [line] = done.stderr.splitlines()
    assert line.startswith(f"recon: {path}: writable by group or others (mode 0{mode:o});")
    assert "Traceback" not in done.stderr


def test_a_fleet_file_that_is_not_utf8_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_bytes(b'[[account]]\nname = "al\xffpha"\n')
    path.chmod(0o600)
    done = refused(path, "reconcile")
    assert done.returncode == 64
    assert done.stderr.splitlines() == [f"recon: {path}:2: not UTF-8 text (TOML is UTF-8)"]
