"""Large synthetic books for the benchmarks: many positions, many orders, built from the same
factories the tests use."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from engine.domain import BrokerOrderStatus, OrderType, Side
from engine.reconcile.snapshot import BrokerSnapshot, LocalSnapshot, Snapshot
from engine.simulator.book import SimulatedBroker
from engine.simulator.scenarios import LocalBookSeed, Scenario
from tests.factories import (
    NOW,
    broker_id,
    make_account,
    make_broker_order,
    make_clock,
    make_filled_entry,
    make_local_order,
    make_position,
)

D = Decimal
# Prime, so that rank * stride names every position once for any count it does not divide.
RISK_STRIDE = 7919


def large_snapshot(local_orders: int, broker_orders: int, positions: int) -> Snapshot:
    symbols = [f"S{n:04d}" for n in range(positions)]
    broker = [
        make_broker_order(
            symbols[n % positions],
            Side.SELL,
            "50",
            OrderType.STOP,
            BrokerOrderStatus.NEW if n % 3 else BrokerOrderStatus.CANCELED,
            stop_price="49.00",
            id=broker_id(n),
            client_order_id=f"eng-{n}",
            submitted_at=NOW - timedelta(minutes=n % 600),
        )
        for n in range(broker_orders)
    ]
    local = [
        make_local_order(
            f"L{n}",
            symbols[n % positions],
            qty="50",
            stop_price="48.00",
            broker_id=broker_id(n) if n < broker_orders else None,
            client_order_id=f"eng-{n}",
        )
        for n in range(local_orders)
    ]
    return Snapshot(
        broker=BrokerSnapshot(
            account=make_account(),
            clock=make_clock(),
            positions=tuple(
                make_position(s, "100", entry="50.00", current="51.00") for s in symbols
            ),
            open_orders=tuple(o for o in broker if o.status is BrokerOrderStatus.NEW),
            recent_orders=tuple(broker),
        ),
        local=LocalSnapshot(open_orders=tuple(local)),
        taken_at=NOW,
    )


def unprotected_positions(count: int) -> Scenario:
    """`count` long positions with local entries and no stops at all."""

    def seed(broker: SimulatedBroker) -> LocalBookSeed:
        orders = []
        for n in range(count):
            symbol = f"SYM{n:03d}"
            broker.prices[symbol] = D("101.00")
            broker.seed_position(symbol, D(100), D("100.00"))
            orders.append(replace(make_filled_entry(symbol, "100", price="100.00"), broker_id=None))
        return LocalBookSeed(orders=tuple(orders))

    return Scenario(f"{count}-unprotected", f"{count} positions without stops", seed)


def riskiest_first(count: int) -> list[str]:
    """The symbols of `unprotected_at_risk(count)`, riskiest first: a stride through the names,
    so that neither name order nor the order they were opened is the order of risk."""
    return [f"RSK{rank * RISK_STRIDE % count:03d}" for rank in range(count)]


def unprotected_at_risk(count: int) -> Scenario:
    """`count` long positions bought at 100.00 without stops, each a little further above its
    emergency stop level (98.00 at 2%) than the one riskier than it, and of varied size."""

    def seed(broker: SimulatedBroker) -> LocalBookSeed:
        rank_of = {symbol: rank for rank, symbol in enumerate(riskiest_first(count))}
        orders = []
        for symbol, rank in sorted(rank_of.items()):  # opened in name order
            qty = 10 + rank * RISK_STRIDE % 190
            broker.prices[symbol] = D("98.05") + D("0.05") * rank
            broker.seed_position(symbol, D(qty), D("100.00"))
            entry = make_filled_entry(symbol, str(qty), price="100.00")
            orders.append(replace(entry, broker_id=None))
        return LocalBookSeed(orders=tuple(orders))

    return Scenario(f"{count}-at-risk", f"{count} positions without stops, at {count} risks", seed)
