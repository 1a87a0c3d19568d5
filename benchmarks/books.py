"""Large synthetic books for the benchmarks: many positions, many orders, built fast."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from engine.domain import (
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    LocalOrder,
    OrderRole,
    OrderState,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
)
from engine.reconcile.snapshot import BrokerSnapshot, LocalSnapshot, Snapshot
from engine.simulator.book import SimulatedBroker
from engine.simulator.scenarios import LocalBookSeed, Scenario
from tests.factories import NOW, make_account, make_clock

D = Decimal


def large_snapshot(local_orders: int, broker_orders: int, positions: int) -> Snapshot:
    symbols = [f"S{n:04d}" for n in range(positions)]
    broker_positions = tuple(
        BrokerPosition(s, PositionSide.LONG, D(100), D(100), D("50.00"), D("51.00"))
        for s in symbols
    )
    broker = []
    local = []
    for n in range(broker_orders):
        symbol = symbols[n % positions]
        broker_id = f"00000000-0000-4000-8000-{n:012d}"
        broker.append(
            BrokerOrder(
                id=broker_id,
                client_order_id=f"eng-{n}",
                symbol=symbol,
                side=Side.SELL,
                order_type=OrderType.STOP,
                time_in_force=TimeInForce.GTC,
                qty=D(50),
                filled_qty=D(0),
                filled_avg_price=None,
                stop_price=D("49.00"),
                limit_price=None,
                status=BrokerOrderStatus.NEW if n % 3 else BrokerOrderStatus.CANCELED,
                created_at=NOW - timedelta(minutes=n % 600),
                updated_at=NOW,
                submitted_at=NOW - timedelta(minutes=n % 600),
            )
        )
    for n in range(local_orders):
        symbol = symbols[n % positions]
        local.append(
            LocalOrder(
                local_id=f"L{n}",
                broker_id=f"00000000-0000-4000-8000-{n:012d}" if n < broker_orders else None,
                client_order_id=f"eng-{n}",
                correlation_id=f"trip-{symbol}",
                symbol=symbol,
                side=Side.SELL,
                order_type=OrderType.STOP,
                order_role=OrderRole.STOP_LOSS,
                strategy="bench",
                qty_requested=D(50),
                qty_filled=D(0),
                avg_fill_price=None,
                stop_price=D("48.00"),
                limit_price=None,
                state=OrderState.ACCEPTED,
                parent_id=None,
                last_error=None,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    open_orders = tuple(o for o in broker if o.status is BrokerOrderStatus.NEW)
    return Snapshot(
        broker=BrokerSnapshot(
            account=make_account(),
            clock=make_clock(),
            positions=broker_positions,
            open_orders=open_orders,
            recent_orders=tuple(broker),
        ),
        local=LocalSnapshot(open_orders=tuple(local)),
        taken_at=NOW,
    )


def unprotected_positions(count: int) -> Scenario:
    """`count` long positions with local entries and no stops at all."""

    def seed(broker: SimulatedBroker) -> LocalBookSeed:
        now = broker.now()
        orders = []
        for n in range(count):
            symbol = f"SYM{n:03d}"
            broker.prices[symbol] = D("101.00")
            broker.seed_position(symbol, D(100), D("100.00"))
            orders.append(
                LocalOrder(
                    local_id=f"{symbol}-entry",
                    broker_id=None,
                    client_order_id=None,
                    correlation_id=f"trip-{symbol}",
                    symbol=symbol,
                    side=Side.BUY,
                    order_type=OrderType.MARKET,
                    order_role=OrderRole.ENTRY,
                    strategy="bench",
                    qty_requested=D(100),
                    qty_filled=D(100),
                    avg_fill_price=D("100.00"),
                    stop_price=None,
                    limit_price=None,
                    state=OrderState.FILLED,
                    parent_id=None,
                    last_error=None,
                    created_at=now,
                    updated_at=now,
                )
            )
        return LocalBookSeed(orders=tuple(orders))

    return Scenario(f"{count}-unprotected", f"{count} positions without stops", seed)
