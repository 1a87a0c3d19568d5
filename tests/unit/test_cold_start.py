"""A reconcile loads nothing its first broker request does not need: not alpaca-py's trading
client (which brings pandas), not the stream's client (websockets, loaded on a thread while the
run reads the book), not the simulator's server (aiohttp), not the console."""

import subprocess
import sys

LOAD_A_RECONCILE = """
import sys
import recon.cli, engine.reconcile.command
loaded = {name.split(".")[0] for name in sys.modules} | set(sys.modules)
print(sorted(loaded & {"pandas", "numpy", "aiohttp", "websockets", "textual", "alpaca.trading"}))
"""


def test_a_reconcile_loads_only_what_its_first_request_needs() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_A_RECONCILE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
