"""Property: for random books and random broker faults, a position covered before a run is never
left uncovered by it, a completed run leaves every position covered by stops for exactly its
quantity, every local open order agreeing with the broker, and a second run with nothing to do.
The books meet Alpaca's own rules: orders on the other side of a position, brackets and OCOs
placed by hand, take-profits holding shares, stops covering more than is held; and groups are
listed each of the three ways Alpaca has listed them."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain import LocalOrder, OrderRole, OrderState, OrderType, Side
from engine.reconcile.diff import Match
from engine.reconcile.result import EXIT_COMPLETED
from engine.simulator.book import SimulatedBroker
from engine.simulator.faults import Fault, FaultKind
from engine.simulator.listing import GroupListing
from engine.simulator.local_seed import seed_local_database
from engine.simulator.runner import Simulator, running_simulator
from engine.simulator.scenarios import LocalBookSeed, Scenario
from tests.integration.reconcile_harness import held, run_reconcile, stop_cover

NOW = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
D = Decimal


@dataclass(frozen=True)
class PositionCase:
    symbol: str
    short: bool
    qty: Decimal
    entry: Decimal
    move: Decimal  # current price relative to the entry
    covered_fraction: Decimal  # of the whole shares, already under a working broker stop
    local_stop_status: str | None  # the broker status of the local stop's order, if any
    has_local_entry: bool
    # What else the broker holds in the symbol: nothing, an order on the other side, a bracket
    # or OCO placed by hand covering the whole shares, a take-profit holding the whole shares
    # left uncovered, or a newer stop of 3 shares on top of the cover.
    extra: str


positions = st.builds(
    PositionCase,
    symbol=st.sampled_from(["AAA", "BBB", "CCC", "DDD", "EEE"]),
    short=st.booleans(),
    qty=st.sampled_from([D(1), D(7), D(100), D("10.5"), D("0.25")]),
    entry=st.sampled_from([D("0.8765"), D("12.34"), D("187.20")]),
    move=st.sampled_from([D("0.9"), D("0.99"), D("1"), D("1.05")]),
    covered_fraction=st.sampled_from([D(0), D("0.5"), D(1)]),
    local_stop_status=st.sampled_from([None, "new", "canceled", "expired"]),
    has_local_entry=st.booleans(),
    extra=st.sampled_from(["none", "other_side", "bracket", "oco", "take_profit", "surplus"]),
)
faults = st.lists(
    st.sampled_from(
        [
            Fault(FaultKind.LOSE_ANSWER, path="/v2/orders", method="POST", times=2),
            Fault(FaultKind.DROP_CONNECTION, path="/v2/orders", method="POST", times=2),
            Fault(FaultKind.STATUS, path="/v2/orders", method="POST", status=503, times=2),
            Fault(FaultKind.STATUS, path="/v2/orders", method="POST", status=429, times=1),
            Fault(FaultKind.STATUS, path="/v2/orders", method="GET", status=500, times=2),
            Fault(FaultKind.DROP_CONNECTION, path="/v2/positions", method="GET", times=1),
        ]
    ),
    max_size=3,
)


def book(cases: list[PositionCase], orphans: int, listing: GroupListing) -> Scenario:
    def seed(broker: SimulatedBroker) -> LocalBookSeed:
        broker.group_listing = listing
        local: list[LocalOrder] = []
        for case in cases:
            # Alpaca does not short fractions of a share.
            short = case.short and case.qty == case.qty.to_integral_value()
            price = (case.entry * case.move).quantize(D("0.0001"))
            broker.prices[case.symbol] = price
            broker.seed_position(case.symbol, -case.qty if short else case.qty, case.entry)
            closing = "buy" if short else "sell"
            stop = _on_tick(price * (D("1.1") if short else D("0.9")))
            whole = case.qty.to_integral_value(rounding="ROUND_DOWN")
            covered = (whole * case.covered_fraction).to_integral_value(rounding="ROUND_DOWN")
            grouped = case.extra in ("bracket", "oco") and whole > 0
            if grouped:
                # The hand-placed group is the whole shares' cover; no other stop covers them.
                _seed_exit_group(broker, case, short, whole, price, stop)
                covered = whole
            # A working local stop is the position's cover; the broker would refuse a second.
            if covered and case.local_stop_status != "new" and not grouped:
                broker.seed_order(
                    symbol=case.symbol, side=closing, type="stop", qty=covered, stop_price=stop,
                    submitted_at=NOW - timedelta(hours=1),
                )  # fmt: skip
            if case.has_local_entry:
                local.append(_row(f"{case.symbol}-entry", case, OrderRole.ENTRY, short))
            working_cover = (
                (covered or whole or case.qty) if case.local_stop_status == "new" else covered
            )
            _seed_extra(broker, case, short, price, stop, whole - working_cover)
            if case.local_stop_status is not None and not grouped:
                order = broker.seed_order(
                    symbol=case.symbol, side=closing, type="stop", qty=covered or whole or case.qty,
                    stop_price=stop, status=case.local_stop_status,
                    submitted_at=NOW - timedelta(hours=2),
                )  # fmt: skip
                local.append(
                    _row(f"{case.symbol}-stop", case, OrderRole.STOP_LOSS, short, order.id)
                )
        for n in range(orphans):
            broker.prices[f"ORP{n}"] = D("50")
            broker.seed_order(
                symbol=f"ORP{n}", side="buy", type="limit", qty=D(1), limit_price=D("40"),
                submitted_at=NOW - timedelta(minutes=n + 1),
            )  # fmt: skip
        return LocalBookSeed(orders=tuple(local))

    return Scenario("random", "a random book", seed)


def _on_tick(price: Decimal) -> Decimal:
    """Pennies at or above a dollar, hundredths of a cent below, as Alpaca quotes them."""
    return price.quantize(D("0.01") if price >= 1 else D("0.0001"))


def _seed_extra(
    broker: SimulatedBroker,
    case: PositionCase,
    short: bool,
    price: Decimal,
    stop: Decimal,
    uncovered_whole: Decimal,
) -> None:
    """An order on the other side, a take-profit holding the whole shares no stop covers, or a
    newest stop of 3 shares on top of the cover."""
    closing = "buy" if short else "sell"
    if case.extra == "other_side":
        limit = (price * (D("1.2") if short else D("0.8"))).quantize(D("0.01"))
        broker.seed_order(
            symbol=case.symbol, side="sell" if short else "buy", type="limit", qty=D(1),
            limit_price=limit, submitted_at=NOW - timedelta(minutes=5),
        )  # fmt: skip
    elif case.extra == "take_profit" and uncovered_whole > 0:
        target = (price * (D("0.8") if short else D("1.2"))).quantize(D("0.01"))
        broker.seed_order(
            symbol=case.symbol, side=closing, type="limit", qty=uncovered_whole,
            limit_price=target, submitted_at=NOW - timedelta(minutes=10),
        )  # fmt: skip
    elif case.extra == "surplus":
        broker.seed_order(
            symbol=case.symbol, side=closing, type="stop", qty=D(3), stop_price=stop,
            submitted_at=NOW - timedelta(minutes=1),
        )  # fmt: skip


def _seed_exit_group(
    broker: SimulatedBroker,
    case: PositionCase,
    short: bool,
    qty: Decimal,
    price: Decimal,
    stop: Decimal,
) -> None:
    """A take-profit working and its stop loss `held`: a bracket whose entry filled, or an
    OCO exit."""
    closing = "buy" if short else "sell"
    target = (price * (D("0.8") if short else D("1.2"))).quantize(D("0.01"))
    take_profit = {"type": "limit", "limit_price": target, "status": "new"}
    stop_loss = {"type": "stop", "stop_price": stop}
    at = NOW - timedelta(minutes=20)
    if case.extra == "oco":
        broker.seed_group(
            "oco",
            parent={"symbol": case.symbol, "side": closing, "qty": qty, "submitted_at": at,
                    **take_profit},
            legs=[stop_loss],
        )  # fmt: skip
        return
    # Older than the last 24 hours' orders: listed flat, only a lookup finds its parent.
    entered = NOW - timedelta(days=4)
    broker.seed_group(
        "bracket",
        parent={"symbol": case.symbol, "side": "sell" if short else "buy", "type": "market",
                "qty": qty, "status": "filled", "filled_qty": qty, "filled_avg_price": case.entry,
                "submitted_at": entered},
        legs=[take_profit, stop_loss],
    )  # fmt: skip


def _row(
    local_id: str, case: PositionCase, role: OrderRole, short: bool, broker_id: str | None = None
) -> LocalOrder:
    entry = role is OrderRole.ENTRY
    side = (Side.SELL if short else Side.BUY) if entry else (Side.BUY if short else Side.SELL)
    return LocalOrder(
        local_id=local_id,
        broker_id=broker_id,
        client_order_id=None,
        correlation_id=f"trip-{case.symbol}",
        symbol=case.symbol,
        side=side,
        order_type=OrderType.MARKET if entry else OrderType.STOP,
        order_role=role,
        strategy="prop",
        qty_requested=case.qty,
        qty_filled=case.qty if entry else D(0),
        avg_fill_price=case.entry if entry else None,
        stop_price=None,
        limit_price=None,
        state=OrderState.FILLED if entry else OrderState.ACCEPTED,
        parent_id=None,
        last_error=None,
        created_at=NOW - timedelta(hours=3),
        updated_at=NOW - timedelta(hours=3),
    )


async def reconcile_twice(
    cases: list[PositionCase],
    orphans: int,
    listing: GroupListing,
    injected: list[Fault],
    folder: Path,
) -> None:
    db_url = f"sqlite:///{folder / 'engine.db'}"
    async with running_simulator(book(cases, orphans, listing), now=lambda: NOW) as simulator:
        await seed_local_database(db_url, simulator.local_book)
        for fault in injected:
            simulator.faults.add(Fault(**{**fault.__dict__}))
        covered_before = _covered(simulator)
        first = await run_reconcile(simulator, db_url)
        # Whatever the faults did to the run, nothing it did bared a covered position.
        assert covered_before <= _covered(simulator), first.errors
        if first.exit_code != EXIT_COMPLETED:
            # Faults outlasted the run's patience: it reports errors and the next run, with the
            # broker healthy again, must finish the job without repeating anything.
            assert first.errors and first.aborted is None
            simulator.faults.clear()
            first = await run_reconcile(simulator, db_url, run_id="run-1b")
        assert first.exit_code == EXIT_COMPLETED, (first.errors, first.aborted)
        assert stop_cover(simulator) == held(simulator)
        client_ids = [order.client_order_id for order in simulator.broker.orders.values()]
        assert len(client_ids) == len(set(client_ids))
        second = await run_reconcile(simulator, db_url, dry_run=True, run_id="run-2")
        assert second.plan is not None and second.plan.is_empty, second.plan.actions
        assert second.diff is not None
        assert all(
            row.match is Match.MATCHED for row in second.diff.orders if row.local is not None
        )


def _covered(simulator: Simulator) -> set[str]:
    cover = stop_cover(simulator)
    return {symbol for symbol, qty in held(simulator).items() if cover.get(symbol, D(0)) >= qty}


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same books on every machine: CI never meets a new one by chance
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    cases=st.lists(positions, min_size=1, max_size=4, unique_by=lambda case: case.symbol),
    orphans=st.integers(min_value=0, max_value=2),
    listing=st.sampled_from(list(GroupListing)),
    injected=faults,
)
def test_a_completed_run_covers_every_position_exactly_and_converges(
    cases: list[PositionCase], orphans: int, listing: GroupListing, injected: list[Fault]
) -> None:
    with TemporaryDirectory() as folder:
        asyncio.run(reconcile_twice(cases, orphans, listing, injected, Path(folder)))
