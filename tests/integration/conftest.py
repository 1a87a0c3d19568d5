"""Fixtures for tests over real HTTP: the simulator in the test's loop, the real alpaca-py
client through recon's adapter, and a real SQLite file seeded like the trading engine's."""

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from engine.broker.alpaca import AlpacaBroker
from engine.broker.retry import RetryPolicy
from engine.clock import SYSTEM_CLOCK, Clock
from engine.simulator.runner import Simulator, SimulatorThread, running_simulator
from engine.simulator.scenarios import CRASH_TIME
from tests.postgres import new_database

# Tests keep the SPEC's four attempts but not its patience.
FAST_RETRIES = RetryPolicy(delays=(0.01, 0.02, 0.04), jitter=0.0)
TEST_TIMEOUT_SECONDS = 0.5


def make_broker(
    simulator: Simulator,
    *,
    rate_limit_per_minute: int = 10_000,
    rate_limit_period_seconds: float = 60.0,
    clock: Clock = SYSTEM_CLOCK,
    timeout_seconds: float = TEST_TIMEOUT_SECONDS,
) -> AlpacaBroker:
    return AlpacaBroker(
        key_id=simulator.key_id,
        secret_key=simulator.secret_key,
        base_url=simulator.url,
        timeout_seconds=timeout_seconds,
        rate_limit_per_minute=rate_limit_per_minute,
        retry_policy=FAST_RETRIES,
        now=simulator.broker.now,
        rate_limit_period_seconds=rate_limit_period_seconds,
        clock=clock,
    )


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with running_simulator("empty") as simulator:
        yield simulator


@pytest.fixture
async def broker(simulator: Simulator) -> AsyncIterator[AlpacaBroker]:
    adapter = make_broker(simulator)
    yield adapter
    await adapter.close()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """The simulator on a thread of its own, for blocking clients: 100 AAPL held at 189.50."""
    with SimulatorThread("empty", now=lambda: CRASH_TIME) as simulator:
        simulator.broker.prices["AAPL"] = Decimal("189.50")
        simulator.broker.seed_position("AAPL", Decimal(100), Decimal("187.20"))
        yield simulator


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The engine's database, once as a SQLite file and once on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'engine.db'}"
    return new_database(request.getfixturevalue("postgres_server_url"))
