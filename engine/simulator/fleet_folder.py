"""A folder to run `recon fleet reconcile` from against the simulator's accounts, as `recon sim
--fleet-dir` writes it: the fleet file (SPEC §1) and, beside it, each account's database seeded
with that account's local rows. The key pairs stay out of the file, in the environment
variables it names."""

from __future__ import annotations

import json
import shlex
from collections.abc import Collection
from pathlib import Path

from engine.errors import UsageError
from engine.private_files import PRIVATE_FOLDER, write_private
from engine.simulator.accounts import SimulatedAccount
from engine.simulator.local_seed import seed_local_database

FLEET_FILE = "fleet.toml"


class FleetFolderUnusable(UsageError):
    """The folder named for the fleet cannot be made or written."""


async def write_fleet_folder(
    path: Path, base_url: str, accounts: Collection[SimulatedAccount]
) -> list[str]:
    """Make the folder, seed each account's database, write the fleet file; returns what to
    tell the operator."""
    folder = _open_folder(path)
    await seed_databases(folder, accounts)
    fleet_file = write_fleet_file(folder, base_url, accounts)
    return [
        f"fleet file written: {fleet_file}, each account's local rows beside it in <name>.db; "
        "to reconcile them all:",
        *_fleet_commands(fleet_file, accounts),
    ]


def key_environment(accounts: Collection[SimulatedAccount]) -> dict[str, str]:
    """Every account's key pair under the variables its fleet file names."""
    environment = {}
    for account in accounts:
        key_id_env, secret_key_env = _key_variables(account)
        environment[key_id_env] = account.key_id
        environment[secret_key_env] = account.secret_key
    return environment


async def seed_databases(folder: Path, accounts: Collection[SimulatedAccount]) -> None:
    """Each account's local rows in its own database, which must hold no orders yet."""
    for account in accounts:
        await seed_local_database(account_database_url(folder, account.name), account.local_book)


def write_fleet_file(folder: Path, base_url: str, accounts: Collection[SimulatedAccount]) -> Path:
    tables = []
    for account in accounts:
        key_id_env, secret_key_env = _key_variables(account)
        keys = {
            "name": account.name,
            "key_id_env": key_id_env,
            "secret_key_env": secret_key_env,
            "base_url": base_url,
            "db": account_database_url(folder, account.name),
        }
        # A JSON string is a TOML basic string: a folder with quotes in its name stays readable.
        lines = [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
        tables.append("\n".join(["[[account]]", *lines]) + "\n")
    path = folder / FLEET_FILE
    try:
        write_private(path, "\n".join(tables))
    except OSError as exc:
        raise FleetFolderUnusable(f"{path}: cannot write the fleet file: {exc.strerror}") from None
    return path


def _open_folder(path: Path) -> Path:
    """The folder, made readable by its owner alone if missing; one that exists is the
    operator's and keeps its mode, since it may hold far more than the fleet."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    except OSError as exc:
        raise FleetFolderUnusable(
            f"--fleet-dir {path}: cannot make the folder: {exc.strerror}"
        ) from None
    return path.resolve()


def _key_variables(account: SimulatedAccount) -> tuple[str, str]:
    """The environment variables that hold the account's key id and secret: ALPHA_KEY_ID,
    ALPHA_SECRET_KEY."""
    prefix = account.name.upper().replace("-", "_")
    return f"{prefix}_KEY_ID", f"{prefix}_SECRET_KEY"


def account_database_url(folder: Path, name: str) -> str:
    """The account's own SQLite database in the folder, named for it."""
    return f"sqlite:///{folder / name}.db"


def _fleet_commands(fleet_file: Path, accounts: Collection[SimulatedAccount]) -> list[str]:
    """What an operator pastes into another shell: each account's key pair exported, then the
    command that reconciles them all."""
    exports = []
    for account in accounts:
        key_id_env, secret_key_env = _key_variables(account)
        exports.append(
            f"export {key_id_env}={shlex.quote(account.key_id)} "
            f"{secret_key_env}={shlex.quote(account.secret_key)}"
        )
    return [*exports, f"recon fleet reconcile --accounts {shlex.quote(str(fleet_file))}"]
