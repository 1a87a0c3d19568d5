"""Alerts and metrics as a service manager's operator meets them: a real `recon` process
against the simulator on its own thread, its alerts posted by apprise to a `json://` receiver
running in the test, its metrics scraped over HTTP — and no notify URL's token anywhere in what
it prints."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from engine.reconcile.result import AccountSummary, PositionOutcome, RunResult
from engine.simulator.local_seed import seed_local_database
from engine.simulator.orders import STOP_TYPES
from engine.simulator.runner import Simulator, SimulatorThread
from engine.watch.notify import checked_notify_urls
from engine.watch.watching import watching
from tests.integration.recon_process import recon_environment

PATIENCE_SECONDS = 30.0
GRACE, SWEEP = "1", "1"
TOKEN = "tok-5e7c-ALERTS-9d2f"  # the receiver's basic-auth password: a webhook's secret
DEAD_TOKEN = "tok-0b1d-DEAD-44aa"


@dataclass
class Receiver:
    """A webhook that keeps every JSON body apprise posts to it."""

    port: int
    bodies: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    # Each post is answered only once this is set: a webhook that is slow to answer.
    answering: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, token: str = TOKEN) -> str:
        return f"json://recon:{token}@127.0.0.1:{self.port}/alerts"

    async def until_count(self, count: int, seconds: float = PATIENCE_SECONDS) -> None:
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: len(self.bodies) >= count), seconds
            )

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self.answering.wait()
        async with self.arrived:
            self.bodies.append(body)
            self.arrived.notify_all()
        return web.json_response({})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    hook = Receiver(listening.getsockname()[1])
    hook.answering.set()
    app = web.Application()
    app.router.add_post("/alerts", hook._post)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, listening).start()
    yield hook
    await runner.cleanup()


@pytest.fixture
def protected_book(db_url: str) -> Iterator[Simulator]:
    with SimulatorThread("protected_book") as simulator:
        asyncio.run(seed_local_database(db_url, simulator.local_book))
        yield simulator


@pytest.fixture
def wash_trade(db_url: str) -> Iterator[Simulator]:
    """AAPL held with no stop while a buy limit of the trading engine's rests: without `--yes`
    that buy is kept, and it blocks the stop."""
    with SimulatorThread("wash_trade") as simulator:
        asyncio.run(seed_local_database(db_url, simulator.local_book))
        yield simulator


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def recon(
    simulator: Simulator,
    db_url: str,
    folder: Path,
    *args: str,
    environment: dict[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """`recon ARGS` against the simulator, its stdout and stderr in files of `folder`."""
    env = {**recon_environment(simulator, db_url), **(environment or {})}
    with (folder / "stdout").open("w") as out, (folder / "stderr").open("w") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "recon", *args, env=env, stdout=out, stderr=err
        )


async def until(
    condition: Callable[[], Any], process: asyncio.subprocess.Process, folder: Path
) -> None:
    """Poll `condition` (a coroutine function) until it holds, the process still running."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE_SECONDS
    while not await condition():
        assert process.returncode is None, (folder / "stderr").read_text()
        assert loop.time() < deadline, (folder / "stderr").read_text()[-3000:]
        await asyncio.sleep(0.05)


async def scrape(port: int) -> str:
    """The metrics page, or "" while the server is not listening yet."""
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as answer,
        ):
            return await answer.text()
    except aiohttp.ClientConnectionError:
        return ""


def sample(page: str, name: str, account: str) -> float | None:
    prefix = f'{name}{{account="{account}"}} '
    for line in page.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


def open_stop(simulator: Simulator, symbol: str) -> str:
    return next(
        order.id
        for order in simulator.broker.orders.values()
        if order.symbol == symbol and order.is_open and order.type in STOP_TYPES
    )


async def stopped(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), PATIENCE_SECONDS)


def printed(folder: Path) -> str:
    return (folder / "stdout").read_text() + (folder / "stderr").read_text()


async def test_a_guard_alerts_once_for_a_position_it_cannot_cover_and_once_when_it_clears(
    protected_book: Simulator, db_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    simulator = protected_book
    account = simulator.broker.account.account_number
    port = free_port()
    guard = await recon(
        simulator, db_url, tmp_path, "guard", "--grace", GRACE, "--sweep", SWEEP,
        "--notify", receiver.url(), "--metrics-port", str(port),
    )  # fmt: skip

    async def unprotected_is(value: float) -> bool:
        return sample(await scrape(port), "recon_positions_unprotected", account) == value

    async def swept_after(seconds: float) -> bool:
        swept = sample(await scrape(port), "recon_last_sweep_timestamp_seconds", account)
        return swept is not None and swept >= seconds

    try:
        await until(lambda: unprotected_is(0.0), guard, tmp_path)  # the first run covered all
        # MSFT's stop is canceled and, at once, well inside the grace, a buy for MSFT is placed
        # by hand: kept, since nobody said --yes, it makes Alpaca refuse any new stop as a wash
        # trade.
        simulator.broker.cancel(open_stop(simulator, "MSFT"))
        limit = (simulator.broker.prices["MSFT"] * Decimal("0.8")).quantize(Decimal("0.01"))
        blocking = simulator.broker.submit(
            {"symbol": "MSFT", "qty": "5", "side": "buy", "type": "limit",
             "limit_price": str(limit), "time_in_force": "gtc", "client_order_id": "web-msft"}
        )["id"]  # fmt: skip

        await receiver.until_count(1)
        await until(lambda: unprotected_is(1.0), guard, tmp_path)
        first_alert_at = time.time()
        # Three more sweeps of the book, MSFT bare throughout: nothing more is sent.
        await until(lambda: swept_after(first_alert_at + 3 * float(SWEEP)), guard, tmp_path)
        assert len(receiver.bodies) == 1

        simulator.broker.cancel(blocking)  # the operator lets the stop in
        await receiver.until_count(2)
        await until(lambda: unprotected_is(0.0), guard, tmp_path)
    finally:
        code = await stopped(guard)

    assert code == 0
    raised, cleared = receiver.bodies
    assert raised["type"] == "failure" and cleared["type"] == "success"
    assert raised["title"] == f"recon: positions bare — account {account} (key PK…7Q)"
    assert raised["message"].startswith(
        f"account {account} (key PK…7Q): MSFT bare — no stop the broker reports working covers"
    )
    assert cleared["message"] == (
        f"Cleared on account {account} (key PK…7Q): MSFT covered by working stops again."
    )
    assert TOKEN not in printed(tmp_path)
    assert printed(tmp_path).count("notify_sent") == 2


async def test_a_run_that_ends_with_a_position_bare_alerts_once_and_a_failed_send_is_logged_once(
    wash_trade: Simulator, db_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    simulator = wash_trade
    account = simulator.broker.account.account_number
    dead = f"json://recon:{DEAD_TOKEN}@127.0.0.1:{free_port()}/alerts"
    run = await recon(
        simulator, db_url, tmp_path, "reconcile",
        environment={"RECON_NOTIFY_URLS": f"{receiver.url()}, {dead}"},
    )  # fmt: skip
    code = await asyncio.wait_for(run.wait(), PATIENCE_SECONDS)

    assert code == 1  # AAPL kept bare by the buy nobody said --yes to cancel
    [alert] = receiver.bodies  # the run waited for it before exiting
    assert alert["title"] == f"recon: positions bare — account {account} (key PK…7Q)"
    assert alert["message"].startswith(f"account {account} (key PK…7Q): AAPL bare")
    assert "the run ended with them" in alert["message"]
    said = printed(tmp_path)
    [failed] = [line for line in said.splitlines() if "notify_failed" in line]
    assert "condition=positions_bare" in failed
    assert TOKEN not in said and DEAD_TOKEN not in said


async def test_a_fleet_alerts_for_the_account_it_left_bare_naming_that_account(
    receiver: Receiver, tmp_path: Path
) -> None:
    with (
        SimulatorThread("protected_book") as covered,
        SimulatorThread("wash_trade") as bare,
    ):
        covered.broker.account.account_number = "PA3COVERED01"
        bare.broker.account.account_number = "PA3BARE00001"
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "RECON_"))}
        fleet = ""
        for name, simulator in (("covered", covered), ("bare", bare)):
            db = f"sqlite:///{tmp_path / name}.db"
            await seed_local_database(db, simulator.local_book)
            environment[f"{name.upper()}_KEY_ID"] = simulator.key_id
            environment[f"{name.upper()}_SECRET_KEY"] = simulator.secret_key
            fleet += (
                f'[[account]]\nname = "{name}"\nkey_id_env = "{name.upper()}_KEY_ID"\n'
                f'secret_key_env = "{name.upper()}_SECRET_KEY"\nbase_url = "{simulator.url}"\n'
                f'db = "{db}"\n\n'
            )
        path = tmp_path / "fleet.toml"
        path.write_text(fleet)
        path.chmod(0o600)
        with (tmp_path / "stdout").open("w") as out, (tmp_path / "stderr").open("w") as err:
            run = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "recon", "fleet", "reconcile", "--accounts", str(path),
                "--notify", receiver.url(), env=environment, stdout=out, stderr=err,
            )  # fmt: skip
        code = await asyncio.wait_for(run.wait(), PATIENCE_SECONDS)

    assert code == 1
    [alert] = receiver.bodies
    assert alert["title"] == "recon: positions bare — account PA3BARE00001 (key PK…7Q)"
    assert "AAPL bare" in alert["message"]
    assert TOKEN not in printed(tmp_path)


def test_a_metrics_port_already_taken_stops_the_guard_before_anything_starts(
    tmp_path: Path,
) -> None:
    with SimulatorThread("protected_book") as simulator, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "recon", "guard", "--metrics-port", str(port)],
            env=recon_environment(simulator, f"sqlite:///{tmp_path / 'engine.db'}"),
            capture_output=True,
            text=True,
            timeout=PATIENCE_SECONDS,
        )
        asked = len(simulator.requests)
    assert done.returncode == 64
    assert done.stderr.strip() == (
        f"recon: --metrics-port {port}: cannot serve metrics on 127.0.0.1:{port} "
        "(Address already in use)"
    )
    assert asked == 0


@pytest.mark.parametrize(
    ("port", "complaint"),
    [
        ("0", "--metrics-port must be between 1 and 65535 (got 0)"),
        ("65536", "--metrics-port must be between 1 and 65535 (got 65536)"),
        ("ninety", "--metrics-port takes a port number (got 'ninety')"),
    ],
)
def test_a_metrics_port_outside_the_range_exits_64_with_one_line(port: str, complaint: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "recon", "guard", "--metrics-port", port],
        capture_output=True,
        text=True,
        timeout=PATIENCE_SECONDS,
    )
    assert done.returncode == 64
    assert done.stderr.strip() == f"recon: {complaint}"


@pytest.mark.parametrize("command", [["reconcile"], ["guard"], ["fleet", "reconcile"]])
@pytest.mark.parametrize("given", ["flag", "environment"])
def test_a_notify_url_apprise_cannot_use_exits_64_without_showing_it(
    command: list[str], given: str, tmp_path: Path
) -> None:
    unusable = f"nosuchservice://{TOKEN}@alerts"
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        '[[account]]\nname = "desk"\nkey_id_env = "DESK_KEY_ID"\n'
        'secret_key_env = "DESK_SECRET_KEY"\nbase_url = "http://127.0.0.1:9"\n'
        f'db = "sqlite:///{tmp_path / "engine.db"}"\n'
    )
    fleet.chmod(0o600)
    flags = ["--accounts", str(fleet)] if command[0] == "fleet" else []
    notify = ["--notify", "json://127.0.0.1:9/ok", "--notify", unusable] if given == "flag" else []
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "RECON_"))},
        "APCA_API_KEY_ID": "PKTESTKEY00007Q",
        "APCA_API_SECRET_KEY": "secret-never-shown",
        "RECON_DB_URL": f"sqlite:///{tmp_path / 'engine.db'}",
        **({"RECON_NOTIFY_URLS": f"json://127.0.0.1:9/ok,{unusable}"} if given != "flag" else {}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "recon", *command, *flags, *notify],
        env=environment,
        capture_output=True,
        text=True,
        timeout=PATIENCE_SECONDS,
    )
    setting = "--notify" if given == "flag" else "RECON_NOTIFY_URLS"
    assert done.returncode == 64
    assert done.stderr.startswith(
        f"recon: {setting}: apprise cannot send to notify URL 2 (nosuchservice://…)"
    )
    assert len(done.stderr.strip().splitlines()) == 1
    assert TOKEN not in done.stderr + done.stdout


async def test_alerts_go_out_from_a_thread_while_the_loop_carries_on_under_a_slow_webhook(
    receiver: Receiver,
) -> None:
    """The receiver answers on this very loop: were apprise's post made on it, nothing could
    answer, and the post would hang until its timeout."""
    receiver.answering.clear()
    urls = checked_notify_urls([receiver.url()], setting="--notify")
    ended = RunResult(
        run_id="run-1",
        dry_run=False,
        account=AccountSummary("PA3SLOWHOOK1", "PK…7Q", paper=True),
        positions=(PositionOutcome("AAPL", Decimal(100), "long", False, ()),),
    )
    async with watching(urls) as watch:
        account = watch.account("PK…7Q")
        account.run_ended(ended)  # queues the alert and returns: nothing waits for the hook
        account.run_ended(ended)  # the same run again: AAPL was alerted already
        assert receiver.bodies == []
        receiver.answering.set()
        await receiver.until_count(1)
    assert [body["title"] for body in receiver.bodies] == [
        "recon: positions bare — account PA3SLOWHOOK1 (key PK…7Q)"
    ]
