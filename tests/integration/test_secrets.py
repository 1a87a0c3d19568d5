"""The secret key never leaves recon (SPEC §1): a key pair with a stray carriage return, line
break, space or non-ASCII character is refused when read, naming the variable and not the value;
and a secret that does find its way into an error — here the broker quotes it back — is scrubbed
from every channel: stdout, stderr, the `--json` object and the journal."""

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.simulator.faults import Fault, FaultKind
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, SimulatorThread
from recon.cli import main
from tests.integration.recon_process import recon_environment
from tests.integration.test_cli import closed_port

KEY_ID = "PKSECRETTEST0007Q"
# What every spelling of the malformed secrets below holds: none of it may be shown.
CORE = "SECRET123"
MALFORMED = {
    "carriage-return": ("TOP" + CORE + "\r", "a carriage return"),
    "line-break": ("TOP" + CORE + "\nXYZ", "a line break"),
    "space": ("TOP " + CORE, "a space"),
    "non-ascii": ("TOPÉ" + CORE, "not ASCII"),
}
# A secret the simulator accepts, and which the broker then quotes back in its refusals.
VALID_SECRET = "V4lid-S3cret-quoted-back-0123456789"
REDACTED = "[redacted]"


def recon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "RECON_"))}
    return subprocess.run(
        [sys.executable, "-m", "recon", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
    )


def fleet_file(folder: Path, base_url: str, db_url: str) -> Path:
    path = folder / "fleet.toml"
    path.write_text(
        '[[account]]\nname = "alpha"\nkey_id_env = "ALPHA_KEY_ID"\n'
        f'secret_key_env = "ALPHA_SECRET_KEY"\nbase_url = "{base_url}"\ndb = "{db_url}"\n'
    )
    path.chmod(0o600)  # a fleet file others can write is refused before its URLs are read
    return path


def recon_in_process(
    args: list[str],
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    """`recon` called as its console script calls it, in this process: a refusal happens before
    anything slow, so the whole matrix runs in a second. Logging and the umask are left alone."""
    for name in os.environ:
        if name.startswith(("APCA_", "RECON_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("recon.cli.keep_private", lambda: None)
    monkeypatch.setattr("engine.logging.configure_logging", lambda **_: None)
    code = main(args)
    said = capsys.readouterr()
    return code, said.out + said.err


def malformed_environment(
    command: list[str], secret: str, folder: Path
) -> tuple[list[str], dict[str, str], str]:
    """The command, its environment with `secret` where the key pair's secret goes, and the
    variable that holds it."""
    broker_url = f"http://127.0.0.1:{closed_port()}"
    db_url = f"sqlite:///{folder}/engine.db"
    if command[0] == "fleet":
        accounts = fleet_file(folder, broker_url, db_url)
        env = {"ALPHA_KEY_ID": KEY_ID, "ALPHA_SECRET_KEY": secret}
        return [*command, "--accounts", str(accounts)], env, "ALPHA_SECRET_KEY"
    env = {
        "APCA_API_KEY_ID": KEY_ID,
        "APCA_API_SECRET_KEY": secret,
        "APCA_API_BASE_URL": broker_url,
        "RECON_DB_URL": db_url,
    }
    return command, env, "APCA_API_SECRET_KEY"


@pytest.mark.parametrize("kind", MALFORMED)
@pytest.mark.parametrize(
    "command",
    [
        ["reconcile"],
        ["reconcile", "--json"],
        ["reconcile", "--dry-run"],
        ["guard"],
        ["fleet", "reconcile"],
        ["fleet", "reconcile", "--json"],
    ],
    ids=" ".join,
)
def test_a_key_pair_with_a_stray_character_is_refused_naming_the_variable_never_the_value(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    kind: str,
) -> None:
    secret, complaint = MALFORMED[kind]
    args, env, variable = malformed_environment(command, secret, tmp_path)
    code, said = recon_in_process(args, env, monkeypatch, capsys)
    assert code == 64, said
    assert f"{variable} contains" in said and complaint in said
    assert "copy the key again" in said
    assert CORE not in said


@pytest.mark.parametrize(
    "command", [["reconcile", "--json"], ["fleet", "reconcile", "--json"]], ids=" ".join
)
def test_a_secret_read_from_a_windows_env_file_is_refused_by_the_recon_process(
    tmp_path: Path, command: list[str]
) -> None:
    """The report's own reproduction: `APCA_API_SECRET_KEY=$'TOPSECRET123\\r' recon reconcile
    --json` exited 2 with the secret, repr and all, in its `aborted` field."""
    args, env, variable = malformed_environment(command, MALFORMED["carriage-return"][0], tmp_path)
    done = recon(*args, env=env)
    assert done.returncode == 64
    assert f"{variable} contains a carriage return" in done.stdout + done.stderr
    assert CORE not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    if command[0] == "reconcile":
        assert done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("kind", ["carriage-return", "non-ascii"])
def test_a_key_id_with_a_stray_character_is_refused_too(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    args, env, _ = malformed_environment(["reconcile"], VALID_SECRET, tmp_path)
    env["APCA_API_KEY_ID"] = MALFORMED[kind][0].replace("TOP", "PK")
    code, said = recon_in_process(args, env, monkeypatch, capsys)
    assert code == 64
    assert "APCA_API_KEY_ID contains" in said
    assert CORE not in said


def test_plain_http_to_another_machine_is_refused() -> None:
    done = recon(
        "reconcile",
        "--broker-url",
        "http://paper-api.alpaca.markets",
        env={"APCA_API_KEY_ID": KEY_ID, "APCA_API_SECRET_KEY": VALID_SECRET},
    )
    assert done.returncode == 64
    assert "APCA_API_BASE_URL (--broker-url) must use https://" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert VALID_SECRET not in done.stdout + done.stderr


def test_plain_http_in_a_fleet_file_is_refused_for_another_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = fleet_file(tmp_path, "http://broker.example.com", f"sqlite:///{tmp_path}/e.db")
    code, said = recon_in_process(
        ["fleet", "reconcile", "--accounts", str(accounts)], {}, monkeypatch, capsys
    )
    assert code == 64
    assert "base_url must use https://" in said


# The broker quotes the secret back ---------------------------------------------------------


@pytest.fixture
def quoting_broker(tmp_path: Path) -> Iterator[tuple[Simulator, str]]:
    """The crashed day, its local rows in a SQLite file, behind a broker that knows recon's
    secret and says it back."""
    db_url = f"sqlite:///{tmp_path / 'engine.db'}"
    with SimulatorThread("crashed_day", key_id=KEY_ID, secret_key=VALID_SECRET) as simulator:
        asyncio.run(seed_local_database(db_url, simulator.local_book))
        yield simulator, db_url


def quoting_the_secret(secret: str, path: str, method: str) -> Fault:
    """Every request to `path` refused, the refusal quoting `secret` as it is and as its repr."""
    return Fault(
        kind=FaultKind.STATUS,
        path=path,
        method=method,
        status=403,
        times=None,
        exact=path == "/v2/account",
        message=f"request forbidden for secret {secret} (repr {secret!r})",
    )


def journal_text(db: Path) -> str:
    """What the journal says of its runs and their actions."""
    with sqlite3.connect(db) as connection:
        rows = [
            *connection.execute("SELECT summary_json FROM recon_run"),
            *connection.execute("SELECT outcome_detail FROM recon_action"),
        ]
    return "\n".join(row[0] or "" for row in rows)


@pytest.mark.parametrize(
    "command",
    [["reconcile"], ["reconcile", "--json"], ["reconcile", "--dry-run"], ["guard"]],
    ids=" ".join,
)
def test_a_secret_the_broker_quotes_back_in_an_abort_is_scrubbed(
    quoting_broker: tuple[Simulator, str], command: list[str]
) -> None:
    simulator, db_url = quoting_broker
    simulator.faults.add(quoting_the_secret(VALID_SECRET, "/v2/account", "GET"))
    done = recon(*command, env=recon_environment(simulator, db_url))
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert VALID_SECRET not in said
    assert f"request forbidden for secret {REDACTED}" in said
    if "--json" in command:
        assert VALID_SECRET not in json.loads(done.stdout)["aborted"]


@pytest.mark.parametrize("flags", [["--json"], []], ids=["json", "plain"])
def test_a_secret_the_broker_quotes_back_in_refusals_is_kept_out_of_output_and_journal(
    quoting_broker: tuple[Simulator, str], flags: list[str]
) -> None:
    simulator, db_url = quoting_broker
    simulator.faults.add(quoting_the_secret(VALID_SECRET, "/v2/orders", "POST"))
    done = recon("reconcile", "--yes", *flags, env=recon_environment(simulator, db_url))
    assert done.returncode == 1, done.stdout + done.stderr
    assert VALID_SECRET not in done.stdout + done.stderr
    assert REDACTED in done.stdout and REDACTED in done.stderr
    if flags:
        report = json.loads(done.stdout)
        assert any(REDACTED in error for error in report["errors"])
    journal = journal_text(Path(db_url.removeprefix("sqlite:///")))
    assert REDACTED in journal
    assert VALID_SECRET not in journal


@pytest.mark.parametrize("flags", [["--json"], []], ids=["json", "plain"])
def test_a_fleet_accounts_secret_quoted_back_is_scrubbed(
    quoting_broker: tuple[Simulator, str], tmp_path: Path, flags: list[str]
) -> None:
    simulator, db_url = quoting_broker
    simulator.faults.add(quoting_the_secret(VALID_SECRET, "/v2/account", "GET"))
    accounts = fleet_file(tmp_path, simulator.url, db_url)
    done = recon(
        "fleet",
        "reconcile",
        "--accounts",
        str(accounts),
        *flags,
        env={"ALPHA_KEY_ID": simulator.key_id, "ALPHA_SECRET_KEY": simulator.secret_key},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert VALID_SECRET not in done.stdout + done.stderr
    assert REDACTED in done.stdout
    if flags:
        [account] = json.loads(done.stdout)["accounts"]
        assert REDACTED in account["aborted"]
