"""A live account reached on this machine (an SSH tunnel, a local proxy) is live: what the
account says decides, journaled and reported so, never the loopback host it answered on."""

from datetime import UTC, datetime

from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import running_simulator
from tests.integration.database import table_rows
from tests.integration.reconcile_harness import run_reconcile

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)


async def test_a_live_account_on_a_loopback_url_is_reported_and_journaled_live(
    db_url: str,
) -> None:
    async with running_simulator("protected_book", now=lambda: CRASH_TIME) as simulator:
        assert simulator.url.startswith("http://127.0.0.1:")
        simulator.broker.account.account_number = "912345678"  # numbered as a live account is
        await seed_local_database(db_url, simulator.local_book)
        result = await run_reconcile(simulator, db_url)
    assert result.to_json()["account"]["mode"] == "live"
    [run] = table_rows(db_url, "recon_run")
    assert run[7] in (False, 0)  # recon_run.paper
