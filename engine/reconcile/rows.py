"""The `order_state` rows recon itself writes — an adopted stop, a stop of its own, a synthetic
entry — each tied to the round trip of the position it belongs to."""

from __future__ import annotations

from decimal import Decimal

from engine.broker.status_map import meaning_of
from engine.domain import (
    BrokerOrder,
    BrokerPosition,
    LocalOrder,
    OrderRole,
    OrderState,
    OrderType,
    PositionSide,
    Side,
)
from engine.reconcile.snapshot import Snapshot
from engine.reconcile.stops import RECON_PREFIX

SYNTHETIC_STRATEGY = "unknown"
ADOPTED_PREFIX = "adopted-"


def adopted_stop_row(snapshot: Snapshot, order: BrokerOrder) -> LocalOrder:
    """A stop the broker holds and nobody here placed, recorded as its position's stop."""
    return LocalOrder(
        local_id=f"{ADOPTED_PREFIX}{order.id}",
        broker_id=order.id,
        client_order_id=order.client_order_id,
        correlation_id=position_correlation_id(snapshot, order.symbol),
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        order_role=OrderRole.STOP_LOSS,
        strategy=SYNTHETIC_STRATEGY,
        qty_requested=order.qty,
        qty_filled=order.filled_qty,
        avg_fill_price=order.filled_avg_price,
        stop_price=order.stop_price,
        limit_price=order.limit_price,
        state=meaning_of(order.status).local_state or OrderState.ACCEPTED,
        parent_id=None,
        last_error=None,
        created_at=snapshot.taken_at,
        updated_at=snapshot.taken_at,
    )


def recon_stop_row(
    snapshot: Snapshot,
    client_order_id: str,
    position: BrokerPosition,
    qty: Decimal,
    order_type: OrderType = OrderType.STOP,
) -> LocalOrder:
    """The local row a stop of recon's will be recorded as once the broker has it; execution
    fills in the broker's id, state and price."""
    return LocalOrder(
        local_id=client_order_id,
        broker_id=None,
        client_order_id=client_order_id,
        correlation_id=position_correlation_id(snapshot, position.symbol),
        symbol=position.symbol,
        side=position.side.closing_side,
        order_type=order_type,
        order_role=OrderRole.STOP_LOSS,
        strategy=SYNTHETIC_STRATEGY,
        qty_requested=qty,
        qty_filled=Decimal(0),
        avg_fill_price=None,
        stop_price=None,
        limit_price=None,
        state=OrderState.PENDING_SUBMIT,
        parent_id=None,
        last_error=None,
        created_at=snapshot.taken_at,
        updated_at=snapshot.taken_at,
    )


def synthetic_entry_row(snapshot: Snapshot, position: BrokerPosition) -> LocalOrder:
    """The entry the trading engine never recorded for a position the broker holds."""
    correlation_id = synthetic_correlation_id(position.symbol, snapshot)
    return LocalOrder(
        local_id=correlation_id,
        broker_id=None,
        client_order_id=None,
        correlation_id=correlation_id,
        symbol=position.symbol,
        side=Side.BUY if position.side is PositionSide.LONG else Side.SELL,
        order_type=OrderType.MARKET,
        order_role=OrderRole.ENTRY,
        strategy=SYNTHETIC_STRATEGY,
        qty_requested=position.qty,
        qty_filled=position.qty,
        avg_fill_price=position.avg_entry_price,
        stop_price=None,
        limit_price=None,
        state=OrderState.FILLED,
        parent_id=None,
        last_error=None,
        created_at=snapshot.taken_at,
        updated_at=snapshot.taken_at,
    )


def is_recon_row(row: LocalOrder) -> bool:
    """A row recon wrote (its own stop, or one it adopted), not the trading engine."""
    return row.local_id.startswith((RECON_PREFIX, ADOPTED_PREFIX))


def position_correlation_id(snapshot: Snapshot, symbol: str) -> str:
    """The round trip a position belongs to: its latest filled entry, or the synthetic one."""
    entry = snapshot.local.latest_entry_by_symbol.get(symbol)
    return entry.correlation_id if entry else synthetic_correlation_id(symbol, snapshot)


def synthetic_correlation_id(symbol: str, snapshot: Snapshot) -> str:
    return f"orphan-{symbol}-{snapshot.trading_day:%Y%m%d}"
