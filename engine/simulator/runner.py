"""Starting the simulator: in the caller's event loop for async tests, on a thread of its own
for blocking clients and subprocesses, or in the foreground for `recon sim`."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType

from aiohttp import web

from engine.simulator.book import SimulatedBroker
from engine.simulator.faults import Faults, RequestLog
from engine.simulator.scenarios import LocalBookSeed, Scenario, load_scenario
from engine.simulator.server import SimulatorContext, build_app
from engine.simulator.stream import STREAM_PATH, TradeStreams

DEMO_KEY_ID = "PKSIMULATORDEMO00007Q"
DEMO_SECRET_KEY = "simulator-demo-secret-not-a-real-key"
# On stop, requests still in flight (a delay fault, say) get this long before they are cut off:
# nobody is waiting for a simulator that is going away.
SHUTDOWN_GRACE_SECONDS = 0.25


class Simulator:
    """One simulated broker behind one HTTP server: point alpaca-py's `TradingClient` at `url`
    and its `TradingStream` at `stream_url`. A test moves the book through `broker`, spoils
    requests through `faults` and the stream's connections through `streams`."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        now: Callable[[], datetime] | None = None,
        key_id: str = DEMO_KEY_ID,
        secret_key: str = DEMO_SECRET_KEY,
    ) -> None:
        self.broker = SimulatedBroker(now=now or (lambda: datetime.now(UTC)))
        self.local_book: LocalBookSeed = scenario.seed(self.broker)
        self.faults = Faults()
        self.requests = RequestLog()
        self.latency = 0.0
        self.key_id = key_id
        self.secret_key = secret_key
        self.streams = TradeStreams(self.broker, (key_id, secret_key))
        self.url = ""
        self.stream_url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        context = SimulatorContext(
            broker=self.broker,
            faults=self.faults,
            requests=self.requests,
            credentials=(self.key_id, self.secret_key),
            latency=lambda: self.latency,
            streams=self.streams,
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


@asynccontextmanager
async def running_simulator(
    scenario: str | Scenario = "empty",
    *,
    now: Callable[[], datetime] | None = None,
    key_id: str = DEMO_KEY_ID,
    secret_key: str = DEMO_SECRET_KEY,
) -> AsyncIterator[Simulator]:
    simulator = Simulator(_scenario(scenario), now=now, key_id=key_id, secret_key=secret_key)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


class SimulatorThread:
    """The simulator on its own event loop in a daemon thread, for code that blocks (alpaca-py
    called directly) or runs elsewhere (a `recon` subprocess)."""

    def __init__(
        self,
        scenario: str | Scenario = "empty",
        *,
        now: Callable[[], datetime] | None = None,
        key_id: str = DEMO_KEY_ID,
        secret_key: str = DEMO_SECRET_KEY,
    ) -> None:
        self.simulator = Simulator(
            _scenario(scenario), now=now, key_id=key_id, secret_key=secret_key
        )
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


def serve(
    scenario_name: str, *, host: str = "127.0.0.1", port: int = 0, seed_db: str | None = None
) -> None:
    """`recon sim`: run until Ctrl-C, printing where to point alpaca-py; with `seed_db`, first
    write the scenario's local rows there, so recon sees the day from both sides."""

    async def forever() -> None:
        simulator = Simulator(load_scenario(scenario_name))
        if seed_db is not None:
            from engine.simulator.local_seed import seed_local_database

            await seed_local_database(seed_db, simulator.local_book)
        await simulator.start(host, port)
        print(f"recon simulator listening on {simulator.url}", flush=True)
        print(
            f"scenario {scenario_name}; APCA_API_KEY_ID={simulator.key_id} "
            f"APCA_API_SECRET_KEY={simulator.secret_key} APCA_API_BASE_URL={simulator.url}",
            flush=True,
        )
        if seed_db is not None:
            book = simulator.local_book
            print(
                f"local rows written: {len(book.orders)} orders, {len(book.trades)} trades; "
                f"RECON_DB_URL={seed_db}",
                flush=True,
            )
        try:
            await asyncio.Event().wait()
        finally:
            await simulator.stop()

    try:
        asyncio.run(forever())
    except KeyboardInterrupt:
        print("recon simulator stopped", flush=True)


def _scenario(scenario: str | Scenario) -> Scenario:
    return load_scenario(scenario) if isinstance(scenario, str) else scenario
