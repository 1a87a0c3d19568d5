"""`recon` in a process of its own, as an operator starts it: its environment pointed at the
simulator's account and a database, and none of the APCA_ or RECON_ settings of the process
that starts it (a developer's own keys, the suite's PostgreSQL server)."""

import os

from engine.simulator.runner import Simulator


def recon_environment(simulator: Simulator, db_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "RECON_"))},
        "APCA_API_KEY_ID": simulator.key_id,
        "APCA_API_SECRET_KEY": simulator.secret_key,
        "APCA_API_BASE_URL": simulator.url,
        "RECON_DB_URL": db_url,
    }
