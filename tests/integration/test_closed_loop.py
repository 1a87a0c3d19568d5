"""A run ends on what the broker says after its own changes, not on the plan it made before them:
brackets listed flat or with their held leg missing, an orphan that held the shares a stop
needs, a stop cancelled while the run acts, a stop the market falls through as it arrives, and
refusals that name a rule — each over real HTTP against the simulator, with one run."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.reconcile.actions import ActionKind
from engine.reconcile.events import ActionStarted, BookReread, Event
from engine.reconcile.result import EXIT_COMPLETED, EXIT_COMPLETED_WITH_ERRORS
from engine.simulator.book import SimOrder, SimulatedBroker
from engine.simulator.faults import Fault, FaultKind
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, running_simulator
from engine.simulator.scenarios import LocalBookSeed, Scenario
from tests.integration.reconcile_harness import Operator, held, run_reconcile, stop_cover

CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
D = Decimal


@asynccontextmanager
async def book(scenario: str | Scenario, db_url: str) -> AsyncIterator[Simulator]:
    async with running_simulator(scenario, now=lambda: CRASH_TIME) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        yield simulator


def open_orders(simulator: Simulator, symbol: str) -> list[SimOrder]:
    return [o for o in simulator.broker.orders.values() if o.symbol == symbol and o.is_open]


def sent_by_recon(simulator: Simulator, order_type: str) -> list[SimOrder]:
    return [
        o
        for o in simulator.broker.orders.values()
        if o.type == order_type and o.client_order_id.startswith("recon-")
    ]


@pytest.mark.parametrize("listing", ["bracket_flat", "bracket_held_hidden"])
async def test_a_hand_bracket_however_listed_is_adopted_whole_and_its_take_profit_kept(
    listing: str, db_url: str
) -> None:
    async with book(listing, db_url) as simulator:
        legs_before = {o.id for o in open_orders(simulator, "NVDA")}
        operator = Operator()  # --yes: whatever it is asked, it confirms
        result = await run_reconcile(simulator, db_url, operator=operator)
        assert result.exit_code == EXIT_COMPLETED, result.errors
        assert operator.asked == []
        assert simulator.requests.count("DELETE") == simulator.requests.count("POST") == 0
        # Both legs still work: the take-profit new, the stop loss held on it.
        assert {o.id for o in open_orders(simulator, "NVDA")} == legs_before
        assert sorted(o.status for o in open_orders(simulator, "NVDA")) == ["held", "new"]
        assert stop_cover(simulator) == held(simulator)
        assert result.to_json()["orphan_orders_adopted"] == 1


def _fractional_hand_limit(broker: SimulatedBroker) -> LocalBookSeed:
    """10.5 AAPL held with no stop, and a sell limit for every share placed by hand: a
    fractional take-profit no OCO can take over, so it must go before a stop can."""
    broker.market_open = True
    broker.prices["AAPL"] = D("189.50")
    broker.seed_position("AAPL", D("10.5"), D("187.20"))
    broker.seed_order(
        symbol="AAPL", side="sell", type="limit", qty=D("10.5"), limit_price=D("210.00"),
        time_in_force="day", client_order_id="web-aapl-limit",
    )  # fmt: skip
    return LocalBookSeed()


async def test_an_orphan_holding_the_shares_cancelled_under_yes_is_followed_by_the_stop(
    db_url: str,
) -> None:
    scenario = Scenario("held_by_orphan", "shares held by an orphan", _fractional_hand_limit)
    async with book(scenario, db_url) as simulator:
        events: list[Event] = []
        result = await run_reconcile(simulator, db_url, events=events)
        assert result.exit_code == EXIT_COMPLETED, result.errors
        assert result.to_json()["orphan_orders_canceled"] == 1
        assert stop_cover(simulator) == held(simulator) == {"AAPL": D("10.5")}
        [reread, *_] = [event for event in events if isinstance(event, BookReread)]
        assert any("sell limit 10.5 AAPL @ 210.00" in line and "canceled" in line for line in
                   reread.found)  # fmt: skip


class CancelsByHandAsTheStopGoes(list[Event]):
    """The run's events, and a hand on the broker's web page: as recon's first stop goes out,
    someone cancels the stop that covered another position when the run read the book."""

    def __init__(self, simulator: Simulator, covering: SimOrder) -> None:
        super().__init__()
        self._simulator = simulator
        self._covering = covering

    def append(self, event: Event) -> None:
        super().append(event)
        starts_a_stop = (
            isinstance(event, ActionStarted) and event.action.kind is ActionKind.EMERGENCY_STOP
        )
        if starts_a_stop and self._covering.is_open:
            self._simulator.broker.cancel(self._covering.id)


async def test_a_stop_cancelled_at_the_broker_while_the_run_acts_is_covered_again(
    db_url: str,
) -> None:
    async with book("crashed_day", db_url) as simulator:
        [aapl_stop] = [o for o in open_orders(simulator, "AAPL") if o.type == "stop"]
        result = await run_reconcile(
            simulator, db_url, events=CancelsByHandAsTheStopGoes(simulator, aapl_stop)
        )
        assert aapl_stop.status == "canceled"
        assert result.exit_code == EXIT_COMPLETED, result.errors
        assert stop_cover(simulator) == held(simulator)
        assert any("AAPL" in line for found in result.rereads for line in found)


async def test_a_stop_that_fills_as_it_arrives_is_never_sent_again_nor_followed_by_a_sale(
    db_url: str,
) -> None:
    async with book("stop_falls_through", db_url) as simulator:
        result = await run_reconcile(simulator, db_url)
        assert sent_by_recon(simulator, "market") == []
        [stop] = sent_by_recon(simulator, "stop")
        assert stop.status == "filled"
        assert "TSLA" not in simulator.broker.positions  # closed by its stop, never shorted
        assert result.exit_code == EXIT_COMPLETED, result.errors
        assert result.to_json()["market_exits"] == 0


@pytest.mark.parametrize(
    ("status", "rule"),
    [(422, "a rule of the order's terms"), (403, "a rule of the symbol")],
)
async def test_a_stop_refused_by_a_rule_is_not_sent_again_unchanged(
    db_url: str, status: int, rule: str
) -> None:
    async with book("wash_trade", db_url) as simulator:
        simulator.broker.orders.clear()  # AAPL alone, bare, nothing in the way
        message = {
            422: "stop price must be below the current price",
            403: "potential wash trade detected. use complex orders",
        }[status]
        simulator.faults.add(
            Fault(
                FaultKind.STATUS,
                path="/v2/orders",
                method="POST",
                status=status,
                message=message,
                times=None,
            )
        )
        result = await run_reconcile(simulator, db_url)
        assert simulator.requests.count("POST") == 1, rule
        assert result.exit_code == EXIT_COMPLETED_WITH_ERRORS
        assert result.to_json()["market_exits"] == 0
        assert any(message in error for error in result.errors)


async def test_a_stop_refused_because_the_market_moved_through_it_is_priced_again(
    db_url: str,
) -> None:
    async with book("wash_trade", db_url) as simulator:
        simulator.broker.orders.clear()
        events = FallsBeforeTheStop(simulator)
        result = await run_reconcile(simulator, db_url, events=events)
        first, second = simulator.requests.count("POST"), stop_cover(simulator)
        assert first == 2
        assert second == held(simulator)
        [stop] = [o for o in sent_by_recon(simulator, "stop") if o.is_open]
        assert stop.stop_price is not None and stop.stop_price < D("180.00")
        assert result.to_json()["market_exits"] == 0


class FallsBeforeTheStop(list[Event]):
    """As recon's first stop goes out, after the read it was priced from, AAPL falls below it."""

    def __init__(self, simulator: Simulator) -> None:
        super().__init__()
        self._simulator = simulator
        self._fallen = False

    def append(self, event: Event) -> None:
        super().append(event)
        if isinstance(event, ActionStarted) and not self._fallen:
            self._fallen = True
            self._simulator.broker.set_price("AAPL", D("180.00"))
