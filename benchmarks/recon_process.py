"""`recon` as a benchmark runs it, in a process of its own: a database seeded with the
simulator's local rows, and the environment that points the command at both."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator
from tests.integration.recon_process import recon_environment


def seeded_environment(simulator: Simulator, folder: Path) -> tuple[str, dict[str, str]]:
    """The database's URL, and this process's environment with recon pointed at the simulator
    and that database."""
    db_url = f"sqlite:///{folder / 'bench.db'}"
    asyncio.run(seed_local_database(db_url, simulator.local_book))
    return db_url, recon_environment(simulator, db_url)
