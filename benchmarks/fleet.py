"""The fleet benchmark: after an outage every engine restarts at once, and a desk reconciles
all its accounts in one `recon fleet reconcile` process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.books import unprotected_positions
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, SimulatorThread

ACCOUNTS = 20
POSITIONS = 25
LATENCY_SECONDS = 0.05
FLEET_RECONCILE = (sys.executable, "-m", "engine.cli", "fleet", "reconcile", "--accounts")


def fleet_seconds(accounts: int = ACCOUNTS) -> float:
    """Wall time of the whole `recon fleet reconcile --yes` process over `accounts` accounts of
    `POSITIONS` unprotected positions each, every broker answering after 50 ms."""
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        desk = {
            f"account-{n:02d}": stack.enter_context(
                SimulatorThread(unprotected_positions(POSITIONS))
            )
            for n in range(accounts)
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "RECON_"))}
        tables = []
        for name, simulator in desk.items():
            db_url = f"sqlite:///{Path(folder) / name}.db"
            asyncio.run(seed_local_database(db_url, simulator.local_book))
            simulator.latency = LATENCY_SECONDS
            variable = name.upper().replace("-", "_")
            env[f"{variable}_KEY_ID"] = simulator.key_id
            env[f"{variable}_SECRET_KEY"] = simulator.secret_key
            tables.append(
                f'[[account]]\nname = "{name}"\nkey_id_env = "{variable}_KEY_ID"\n'
                f'secret_key_env = "{variable}_SECRET_KEY"\nbase_url = "{simulator.url}"\n'
                f'db = "{db_url}"\n'
            )
        path = Path(folder) / "fleet.toml"
        path.write_text("\n".join(tables))
        start = time.perf_counter()
        done = subprocess.run(
            [*FLEET_RECONCILE, str(path), "--yes", "--json"],
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - start
        _check(done, desk)
    return elapsed


def _check(done: subprocess.CompletedProcess[str], desk: dict[str, Simulator]) -> None:
    stops = [simulator.requests.count("POST") for simulator in desk.values()]
    if done.returncode != 0 or any(placed != POSITIONS for placed in stops):
        print(done.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"the fleet run failed (exit {done.returncode}, stops {stops})")
