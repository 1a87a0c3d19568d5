"""What recon writes is the operator's alone — reports, the default database, lock files:
files 0600, folders 0700, whatever the umask. Desk machines are shared, and a run's report
holds the account number and every position."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
# Cleared from the mode of everything this process creates: no access for group or others.
OTHERS = 0o077


def keep_private() -> None:
    """Every file and folder this process creates from now on is its operator's alone, the
    database's journal and lock files included, whatever umask the shell had."""
    os.umask(OTHERS)


def private_folder(path: Path) -> Path:
    """One of recon's own folders, made if missing and closed to others if it was open."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    path.chmod(PRIVATE_FOLDER)
    return path


def close_to_others(path: Path) -> None:
    """One of recon's own files, closed to others if an older recon left it open."""
    if path.exists():
        path.chmod(PRIVATE_FILE)


def write_private(path: Path, text: str) -> None:
    """`text` into `path`, readable by its owner alone, even where an open copy was there."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(handle, PRIVATE_FILE)
    with os.fdopen(handle, "w") as file:
        file.write(text)
