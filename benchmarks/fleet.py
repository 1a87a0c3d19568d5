"""The fleet benchmark: after an outage every engine restarts at once, and a desk reconciles
all its accounts in one `recon fleet reconcile` process. The brokers are one simulator serving
every account, as Alpaca serves them at one URL, in a process of its own: brokers sharing a GIL
with each other would answer slower than any real broker and inflate the figure."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from benchmarks.books import unprotected_positions
from benchmarks.side import CURRENT, Side
from engine.simulator.accounts import ACCOUNT_NAMES
from engine.simulator.fleet_folder import key_environment, seed_databases, write_fleet_file
from engine.simulator.runner import SimulatorThread

ACCOUNTS = 20
POSITIONS = 25
LATENCY_SECONDS = 0.05
# Long enough for the brokers' process to stop its server once asked for its counts.
BROKERS_EXIT_SECONDS = 10.0


def fleet_seconds(accounts: int = ACCOUNTS, side: Side = CURRENT) -> float:
    """Wall time of `side`'s whole `recon fleet reconcile --yes` process over `accounts` accounts
    of `POSITIONS` unprotected positions each, every broker answering after 50 ms."""
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        ours, theirs = spawn.Pipe()
        brokers = spawn.Process(target=serve_brokers, args=(Path(folder), accounts, theirs))
        brokers.start()
        theirs.close()  # so that `recv` fails, rather than waits, if the brokers' process dies
        try:
            fleet_file, keys = ours.recv()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "RECON_"))}
            start = time.perf_counter()
            done = subprocess.run(
                side.command(
                    "fleet", "reconcile", "--accounts", str(fleet_file), "--yes", "--json"
                ),
                cwd=side.root,
                env=side.environment({**env, **keys}),
                capture_output=True,
                text=True,
            )
            elapsed = time.perf_counter() - start
            ours.send("stops received?")
            received = ours.recv()
        finally:
            ours.close()
            brokers.join(timeout=BROKERS_EXIT_SECONDS)
            if brokers.is_alive():
                brokers.kill()
    _check(done, received)
    return elapsed


def serve_brokers(folder: Path, accounts: int, desk: Connection) -> None:
    """The brokers' process: one simulator serving `accounts` accounts, each account's local
    rows seeded in `folder` beside the fleet file. Sends the fleet file and the key pairs, then,
    once asked, how many orders each account received."""
    book = unprotected_positions(POSITIONS)
    with SimulatorThread(book) as simulator:
        for name in ACCOUNT_NAMES[1:accounts]:
            simulator.add_account(name, book)
        simulator.latency = LATENCY_SECONDS
        served = list(simulator.accounts.values())
        asyncio.run(seed_databases(folder, served))
        desk.send((write_fleet_file(folder, simulator.url, served), key_environment(served)))
        desk.recv()
        desk.send({account.name: account.requests.count("POST") for account in served})


def _check(done: subprocess.CompletedProcess[str], received: dict[str, int]) -> None:
    """The figure stands only for a run that covered every account: exit 0, and each account's
    `POSITIONS` stops both reported placed and received by its broker."""
    try:
        report = json.loads(done.stdout)
        placed = {a["name"]: a["emergency_stops_placed"] for a in report["accounts"]}
    except (ValueError, KeyError, TypeError):
        placed = {}
    every_account = dict.fromkeys(received, POSITIONS)
    if done.returncode != 0 or placed != every_account or received != every_account:
        print(done.stderr[-2000:], file=sys.stderr)
        raise SystemExit(
            f"the fleet run failed (exit {done.returncode}, stops placed {placed}, "
            f"received {received})"
        )
