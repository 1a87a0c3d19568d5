"""The layers stay apart: the engine never loads the console or Textual, whichever of its
modules is imported; only the `recon` command sits above both."""

import subprocess
import sys

# Every engine module but Alembic's migration scripts, which run only under Alembic.
IMPORT_THE_ENGINE = """
import importlib, pkgutil, sys
import engine
for module in pkgutil.walk_packages(engine.__path__, "engine."):
    if not module.name.startswith("engine.store.migrations"):
        importlib.import_module(module.name)
print(sorted({name.split(".")[0] for name in sys.modules} & {"textual", "console", "recon"}))
"""


def test_the_engine_never_loads_the_console_or_textual() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_ENGINE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
