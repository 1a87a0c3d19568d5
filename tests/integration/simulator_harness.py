"""How the simulator's tests reach it from outside, as an operator's tools would: alpaca-py's
trade stream for one account's key pair, listening in the test's loop or driven step by step,
and `recon sim` as a process of its own, with the rows it seeds."""

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream

from engine.simulator.accounts import SimulatedAccount
from engine.simulator.runner import Simulator


def key_pair(simulator: Simulator, account: SimulatedAccount | None) -> tuple[str, str]:
    """The account's key pair; without one, the simulator's own account's."""
    if account is None:
        return simulator.key_id, simulator.secret_key
    return account.key_id, account.secret_key


class Listening:
    """alpaca-py's stream running in this loop, collecting what it hears."""

    def __init__(self, simulator: Simulator, account: SimulatedAccount | None = None) -> None:
        self.updates: list[TradeUpdate] = []
        self.stream = TradingStream(
            *key_pair(simulator, account), paper=True, url_override=simulator.stream_url
        )
        self.stream.subscribe_trade_updates(self._hear)
        self._task: asyncio.Task[None] | None = None

    async def _hear(self, update: TradeUpdate) -> None:
        self.updates.append(update)

    async def __aenter__(self) -> "Listening":
        self._task = asyncio.create_task(self.stream._run_forever())
        for _ in range(200):
            if self.stream._running:
                return self
            await asyncio.sleep(0.01)
        raise AssertionError("the stream never connected")

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.stream.close()

    async def events(self, count: int) -> list[str]:
        for _ in range(200):
            if len(self.updates) >= count:
                break
            await asyncio.sleep(0.01)
        return [str(u.event) for u in self.updates]


def trading_stream(simulator: Simulator, account: SimulatedAccount | None = None) -> TradingStream:
    """alpaca-py's stream, driven step by step: `_start_ws` connects, authenticates, listens."""
    stream = TradingStream(*key_pair(simulator, account), url_override=simulator.stream_url)
    stream.subscribe_trade_updates(_ignore)
    return stream


async def _ignore(update: TradeUpdate) -> None:
    pass


@contextlib.contextmanager
def recon_sim(*args: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "recon", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    except BaseException:
        process.kill()
        process.wait()
        raise
    process.kill()
    process.wait()
    # Its own errors are on its stderr; a client that retried past the 500 never said.
    assert process.stderr is not None
    unread = "" if process.stderr.closed else process.stderr.read()
    assert "simulator_route_failed" not in unread, unread


def seeded_rows(db: Path) -> tuple[set[str], int]:
    """The local ids of the orders in the database, and how many trades it holds."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        orders = {row[0] for row in connection.execute("SELECT local_id FROM order_state")}
        [(trades,)] = connection.execute("SELECT count(*) FROM trade")
    return orders, trades
