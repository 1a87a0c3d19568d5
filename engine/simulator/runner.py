"""Starting the simulator: in the caller's event loop for async tests, on a thread of its own
for blocking clients and subprocesses, or in the foreground for `recon sim`."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from aiohttp import web

from engine.simulator.accounts import (
    ACCOUNT_NAMES,
    SimulatedAccount,
    open_account,
    separate_book,
    simulated_account_number,
    simulated_key_pair,
)
from engine.simulator.book import SimulatedBroker
from engine.simulator.scenarios import Scenario, load_scenario
from engine.simulator.server import SimulatorContext, build_app
from engine.simulator.stream import STREAM_PATH

DEMO_KEY_ID = "PKSIMULATORDEMO00007Q"
DEMO_SECRET_KEY = "simulator-demo-secret-not-a-real-key"
# On stop, requests still in flight (a delay fault, say) get this long before they are cut off:
# nobody is waiting for a simulator that is going away.
SHUTDOWN_GRACE_SECONDS = 0.25


class SimulatorInternalError(AssertionError):
    """The simulator failed requests with errors of its own: the test that caused them fails,
    rather than passing on a client's retry past the 500."""


class Simulator:
    """One simulated broker behind one HTTP server: point alpaca-py's `TradingClient` at `url`
    and its `TradingStream` at `stream_url`. A test moves the book through `broker`, spoils
    requests through `faults` and the stream's connections through `streams` — those of the
    first account, the only one unless `add_account` adds more. Every account shares the
    server, the clock and the latency."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        now: Callable[[], datetime] | None = None,
        key_id: str = DEMO_KEY_ID,
        secret_key: str = DEMO_SECRET_KEY,
    ) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self.accounts: dict[str, SimulatedAccount] = {}
        self._by_key_id: dict[str, SimulatedAccount] = {}
        first = self._enrol(
            ACCOUNT_NAMES[0],
            scenario,
            SimulatedBroker(now=self._now),
            key_id=key_id,
            secret_key=secret_key,
        )
        self.broker = first.broker
        self.local_book = first.local_book
        self.faults = first.faults
        self.requests = first.requests
        self.streams = first.streams
        self.key_id = key_id
        self.secret_key = secret_key
        self.latency = 0.0
        # Requests a route failed with an error of the simulator's own (not an injected
        # fault), each with its traceback.
        self.internal_errors: list[str] = []
        self.url = ""
        self.stream_url = ""
        self._runner: web.AppRunner | None = None

    def add_account(
        self,
        name: str,
        scenario: str | Scenario,
        *,
        key_id: str | None = None,
        secret_key: str | None = None,
    ) -> SimulatedAccount:
        """Another account at the same URL with a book of its own, served at once if the
        simulator is running; its key pair is `name`'s own unless given."""
        named_key_id, named_secret_key = simulated_key_pair(name)
        account = self._enrol(
            name,
            _scenario(scenario),
            separate_book(name, self._now),
            key_id=key_id or named_key_id,
            secret_key=secret_key or named_secret_key,
        )
        account.broker.account.account_number = simulated_account_number(name)
        return account

    def _enrol(
        self,
        name: str,
        scenario: Scenario,
        broker: SimulatedBroker,
        *,
        key_id: str,
        secret_key: str,
    ) -> SimulatedAccount:
        if name in self.accounts:
            raise ValueError(f"the simulator already has an account named {name!r}")
        if key_id in self._by_key_id:
            raise ValueError(f"key id {key_id} already belongs to another account")
        account = open_account(name, scenario, broker, key_id=key_id, secret_key=secret_key)
        self.accounts[name] = account
        self._by_key_id[key_id] = account
        return account

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        context = SimulatorContext(
            accounts=self._by_key_id,
            latency=lambda: self.latency,
            internal_errors=self.internal_errors,
        )
        self._runner = web.AppRunner(
            build_app(context),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
        )
        await self._runner.setup()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        await web.SockSite(self._runner, listener).start()
        bound_host, bound_port = listener.getsockname()[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self.stream_url = f"ws://{bound_host}:{bound_port}{STREAM_PATH}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def assert_no_internal_errors(self) -> None:
        """`SimulatorInternalError`, with the first traceback, if any request failed with an
        error of the simulator's own. Injected faults are not such errors."""
        if self.internal_errors:
            count = len(self.internal_errors)
            raise SimulatorInternalError(
                f"the simulator failed {count} request(s) with its own error, answered 500; "
                f"the first:\n{self.internal_errors[0]}"
            )


@asynccontextmanager
async def running_simulator(
    scenario: str | Scenario = "empty",
    *,
    now: Callable[[], datetime] | None = None,
    key_id: str = DEMO_KEY_ID,
    secret_key: str = DEMO_SECRET_KEY,
) -> AsyncIterator[Simulator]:
    """The simulator in this loop; on leaving, `SimulatorInternalError` if it failed any
    request with an error of its own (unless the body already raised)."""
    simulator = Simulator(_scenario(scenario), now=now, key_id=key_id, secret_key=secret_key)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()
    simulator.assert_no_internal_errors()


class SimulatorThread:
    """The simulator on its own event loop in a daemon thread, for code that blocks (alpaca-py
    called directly) or runs elsewhere (a `recon` subprocess). On leaving, as
    `running_simulator`, `SimulatorInternalError` if it failed any request with an error of its
    own — unless `fail_on_internal_errors` is off, as for the demo, which has no test to fail."""

    def __init__(
        self,
        scenario: str | Scenario = "empty",
        *,
        now: Callable[[], datetime] | None = None,
        key_id: str = DEMO_KEY_ID,
        secret_key: str = DEMO_SECRET_KEY,
        fail_on_internal_errors: bool = True,
    ) -> None:
        self.simulator = Simulator(
            _scenario(scenario), now=now, key_id=key_id, secret_key=secret_key
        )
        self._fail_on_internal_errors = fail_on_internal_errors
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Simulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.simulator.start(), self._loop).result(timeout=10)
        return self.simulator

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        if exc is None and self._fail_on_internal_errors:
            self.simulator.assert_no_internal_errors()


def serve(
    scenario_name: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed_db: str | None = None,
    accounts: int = 1,
    fleet_dir: Path | None = None,
) -> None:
    """`recon sim`: run until Ctrl-C, printing where to point alpaca-py; with `seed_db`, first
    write the scenario's local rows there, so recon sees the day from both sides. With more
    `accounts`, alpha, bravo, … each hold the scenario in a book of their own; with `fleet_dir`,
    each account's rows go into a database of its own there, beside a fleet file naming them."""

    async def forever() -> None:
        scenario = load_scenario(scenario_name)
        simulator = Simulator(scenario)
        for name in ACCOUNT_NAMES[1:accounts]:
            simulator.add_account(name, scenario)
        if seed_db is not None:
            from engine.simulator.local_seed import seed_local_database

            await seed_local_database(seed_db, simulator.local_book)
        await simulator.start(host, port)
        try:
            lines = [
                f"recon simulator listening on {simulator.url}",
                *_key_pairs(simulator, scenario_name),
            ]
            if seed_db is not None:
                book = simulator.local_book
                lines.append(
                    f"local rows written: {len(book.orders)} orders, {len(book.trades)} trades; "
                    f"RECON_DB_URL={seed_db}"
                )
            if fleet_dir is not None:
                from engine.simulator.fleet_folder import write_fleet_folder

                desk = list(simulator.accounts.values())
                lines += await write_fleet_folder(fleet_dir, simulator.url, desk)
            # Printed once everything is in place: an operator or a script may act on any line.
            print("\n".join(lines), flush=True)
            await asyncio.Event().wait()
        finally:
            await simulator.stop()

    try:
        asyncio.run(forever())
    except KeyboardInterrupt:
        print("recon simulator stopped", flush=True)


def _key_pairs(simulator: Simulator, scenario_name: str) -> list[str]:
    """One line for a lone account, as `recon sim` has always printed it; else each account's
    key pair under its name."""
    if len(simulator.accounts) == 1:
        return [
            f"scenario {scenario_name}; APCA_API_KEY_ID={simulator.key_id} "
            f"APCA_API_SECRET_KEY={simulator.secret_key} APCA_API_BASE_URL={simulator.url}"
        ]
    return [
        f"scenario {scenario_name} in {len(simulator.accounts)} accounts; "
        f"APCA_API_BASE_URL={simulator.url}",
        *(
            f"{account.name}: APCA_API_KEY_ID={account.key_id} "
            f"APCA_API_SECRET_KEY={account.secret_key}"
            for account in simulator.accounts.values()
        ),
    ]


def _scenario(scenario: str | Scenario) -> Scenario:
    return load_scenario(scenario) if isinstance(scenario, str) else scenario
