"""Every asset class Alpaca reports, over real HTTP against the simulator (SPEC §3, Asset
classes): crypto pairs listed `BTCUSD` as positions and `BTC/USD` as orders, covered by GTC
stop_limits for their exact quantities; an option covered in whole contracts; a class recon does
not know reported with nothing sent."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.reconcile.actions import ActionKind
from engine.reconcile.result import EXIT_COMPLETED, EXIT_COMPLETED_WITH_ERRORS
from engine.simulator.local_seed import seed_local_database
from engine.simulator.orders import MLEG, SimOrder
from engine.simulator.runner import Simulator, running_simulator
from tests.integration.database import sql
from tests.integration.reconcile_harness import Operator, held, run_reconcile, stop_cover

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
CALL = "AAPL261218C00200000"
D = Decimal


@pytest.fixture
async def mixed_book(db_url: str) -> AsyncIterator[Simulator]:
    async with running_simulator("mixed_assets", now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        yield simulator


def recon_orders(simulator: Simulator, symbol: str) -> list[SimOrder]:
    return [
        order
        for order in simulator.broker.orders.values()
        if order.symbol == symbol and order.client_order_id.startswith("recon-")
    ]


async def test_crypto_and_an_option_beside_equities_all_end_covered(
    mixed_book: Simulator, db_url: str
) -> None:
    result = await run_reconcile(mixed_book, db_url, operator=Operator())
    assert result.exit_code == EXIT_COMPLETED, result.errors
    assert stop_cover(mixed_book) == held(mixed_book)
    for pair, qty in (("BTC/USD", D("0.5")), ("ETH/USD", D("0.25"))):
        (stop,) = recon_orders(mixed_book, pair)
        assert (stop.type, stop.time_in_force, stop.qty, stop.status) == (
            "stop_limit",
            "gtc",
            qty,
            "new",
        )
        assert stop.limit_price is not None and stop.stop_price is not None
        assert stop.limit_price < stop.stop_price
    (option_stop,) = recon_orders(mixed_book, CALL)
    assert (option_stop.type, option_stop.time_in_force, option_stop.qty) == ("stop", "gtc", 3)
    assert mixed_book.requests.count("PATCH") == mixed_book.requests.count("DELETE") == 0


async def test_a_crypto_entry_the_engine_wrote_as_btcusd_is_the_positions_own(
    mixed_book: Simulator, db_url: str
) -> None:
    result = await run_reconcile(mixed_book, db_url, operator=Operator())
    synthetic = {
        action.symbol
        for action in (result.plan.actions if result.plan else ())
        if action.kind is ActionKind.SYNTHETIC_ENTRY
    }
    # ETH/USD was bought by hand; BTC/USD's entry is the engine's, under its compact spelling.
    assert synthetic == {"ETH/USD"}
    stop_rows = sql(
        db_url,
        "SELECT symbol, correlation_id FROM order_state WHERE local_id LIKE 'recon-stop-BTCUSD%'",
    )
    [(entry_correlation,)] = sql(
        db_url, "SELECT correlation_id FROM order_state WHERE local_id = 'BTCUSD-entry'"
    )
    assert stop_rows == [("BTC/USD", entry_correlation)]


async def test_a_second_run_over_every_asset_class_sends_nothing(
    mixed_book: Simulator, db_url: str
) -> None:
    await run_reconcile(mixed_book, db_url, operator=Operator())
    sent = mixed_book.requests.count("POST")
    again = await run_reconcile(mixed_book, db_url, operator=Operator(), run_id="run-2")
    assert again.exit_code == EXIT_COMPLETED, again.errors
    assert again.plan is not None and again.plan.actions == ()
    assert mixed_book.requests.count("POST") == sent


async def test_a_position_of_a_class_recon_does_not_know_is_reported_and_nothing_sent(
    mixed_book: Simulator, db_url: str
) -> None:
    mixed_book.broker.prices["BTCPERP"] = D("61000")
    mixed_book.broker.seed_position("BTCPERP", D("2"), D("60000"), asset_class="crypto_perp")
    result = await run_reconcile(mixed_book, db_url, operator=Operator())
    assert result.exit_code == EXIT_COMPLETED_WITH_ERRORS
    assert [e for e in result.errors if "BTCPERP" in e] == [
        "BTCPERP crypto_perp: cannot protect: asset class crypto_perp is not one recon knows; "
        "nothing sent for it"
    ]
    assert recon_orders(mixed_book, "BTCPERP") == []
    assert {p.symbol for p in result.positions if not p.protected} == {"BTCPERP"}


async def test_a_multi_leg_order_nobody_placed_is_cancelled_whole_once_confirmed(
    mixed_book: Simulator, db_url: str
) -> None:
    parent, *legs = mixed_book.broker.seed_group(
        MLEG,
        parent={"type": "limit", "limit_price": D("1.20"), "qty": D(1), "status": "new"},
        legs=[{"symbol": CALL, "side": "buy"}, {"symbol": "AAPL261218C00210000", "side": "sell"}],
    )
    operator = Operator()
    result = await run_reconcile(mixed_book, db_url, operator=operator)
    (asked,) = [a for a in operator.asked if a.kind is ActionKind.CANCEL_ORPHAN]
    assert asked.target == parent.id
    assert mixed_book.requests.count("DELETE") == 1
    assert {mixed_book.broker.orders[o.id].status for o in (parent, *legs)} == {"canceled"}
    assert result.exit_code == EXIT_COMPLETED, result.errors
