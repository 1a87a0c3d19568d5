"""A PostgreSQL server for the suite: the one `RECON_TEST_POSTGRES_URL` names, or a private,
throwaway cluster in a temporary directory on a free local port, stopped when the suite ends.

The private cluster runs Debian's server binaries (the Makefile installs the `postgresql`
package when they are missing). As root, the cluster runs as the `postgres` user the package
creates, since PostgreSQL refuses to run as root. Every test gets a database of its own."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from tests.aside import run_aside

SERVER_URL_VARIABLE = "RECON_TEST_POSTGRES_URL"
SUPERUSER = "recon"
# Durability is worthless in a cluster deleted at exit; without it the suite runs faster.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


class PostgresUnavailable(Exception):
    """No server was given and none can be started here."""


@contextmanager
def postgres_server() -> Iterator[str]:
    """A URL of a server where the URL's user may create databases."""
    given = os.environ.get(SERVER_URL_VARIABLE)
    if given:
        yield given
        return
    with _private_cluster() as url:
        yield url


def new_database(server_url: str) -> str:
    """A fresh, empty database on the server, as a URL recon accepts."""
    name = f"recon_test_{uuid.uuid4().hex[:12]}"
    run_aside(_create_database(server_url, name))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def _create_database(server_url: str, name: str) -> None:
    url = make_url(server_url)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@contextmanager
def _private_cluster() -> Iterator[str]:
    with private_cluster() as cluster:
        yield cluster.url


class PrivateCluster:
    """A throwaway server of this test's own, which it may restart under recon."""

    def __init__(self, folder: Path, owner: pwd.struct_passwd | None) -> None:
        self._binaries = _server_binaries()
        self._owner = owner
        self._folder = folder
        self._data = folder / "data"
        port = _free_port()
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
        self._options = " ".join(
            [f"-p {port}", f"-k {folder}", "-c listen_addresses=127.0.0.1"]
            + [f"-c {setting}" for setting in FAST_SETTINGS]
        )

    def init_and_start(self) -> None:
        _run(self._owner, self._binaries / "initdb", "-D", str(self._data), "-U", SUPERUSER,
             "-A", "trust", "-E", "UTF8", "--no-sync")  # fmt: skip
        self._pg_ctl("-o", self._options, "-l", str(self._folder / "server.log"), "-w", "start")

    def restart(self) -> None:
        """A fast restart, as a service manager does it: every connection is cut."""
        self._pg_ctl(
            "-m", "fast", "-o", self._options, "-l", str(self._folder / "server.log"), "-w",
            "restart",
        )  # fmt: skip

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")

    def _pg_ctl(self, *arguments: str) -> None:
        _run(self._owner, self._binaries / "pg_ctl", "-D", str(self._data), *arguments)


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    owner = _cluster_owner()
    folder = Path(tempfile.mkdtemp(prefix="recon-postgres-"))
    try:
        if owner is not None:
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        cluster = PrivateCluster(folder, owner)
        cluster.init_and_start()
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _server_binaries() -> Path:
    on_path = shutil.which("pg_ctl")
    if on_path is not None and shutil.which("initdb") is not None:
        return Path(on_path).parent
    installed = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda path: int(path.split("/")[4])
    )
    if not installed:
        raise PostgresUnavailable(
            f"no PostgreSQL server binaries (initdb, pg_ctl) here and {SERVER_URL_VARIABLE} "
            "is not set: `make test` installs Debian's postgresql package"
        )
    return Path(installed[-1]).parent


def _cluster_owner() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root, and there is no `postgres` user to run the server as"
        ) from None


def _run(owner: pwd.struct_passwd | None, *command: str | Path) -> None:
    argv = [str(part) for part in command]
    if owner is not None:
        argv = ["runuser", "-u", owner.pw_name, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PostgresUnavailable(
            f"{Path(command[0]).name} failed: {(done.stderr or done.stdout).strip()[-500:]}"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
