"""One-line builders for the domain objects tests talk about; every argument not given is a
plausible default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count

from engine.domain import (
    Account,
    AssetClass,
    AssetTerms,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    LocalOrder,
    MarketClock,
    OptionContract,
    OrderClass,
    OrderRole,
    OrderState,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
    Trade,
)
from engine.reconcile.actions import PlanSettings
from engine.reconcile.circuit_breaker import CircuitBreakerState
from engine.reconcile.snapshot import BrokerSnapshot, LocalSnapshot, Snapshot

NOW = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)  # 10:31 in New York
# A day with nothing lost: the breaker lets the trading engine trade.
QUIET_BREAKER = CircuitBreakerState(False, None, Decimal(0), 0, Decimal(3000))
SETTINGS = PlanSettings(
    emergency_stop_pct=Decimal("0.02"),
    max_daily_loss_pct=Decimal("0.03"),
    consecutive_loss_pause=3,
)
_ids = count(1)


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


def broker_id(n: int | None = None) -> str:
    return f"00000000-0000-4000-8000-{(n if n is not None else next(_ids)):012d}"


def make_account(last_equity: str = "100000", account_number: str = "PA3RECON0001") -> Account:
    return Account(
        account_number=account_number,
        status="ACTIVE",
        currency="USD",
        equity=D(last_equity),
        last_equity=D(last_equity),
        cash=D(last_equity),
        buying_power=D(last_equity) * 2,
    )


def make_clock() -> MarketClock:
    return MarketClock(
        timestamp=NOW,
        is_open=True,
        next_open=NOW + timedelta(days=1),
        next_close=NOW + timedelta(hours=5),
    )


def make_position(
    symbol: str = "AAPL",
    qty: str = "100",
    side: PositionSide = PositionSide.LONG,
    entry: str = "100",
    current: str | None = None,
    asset_class: str = AssetClass.US_EQUITY,
) -> BrokerPosition:
    return BrokerPosition(
        symbol=symbol,
        side=side,
        qty=D(qty),
        qty_available=D(qty),
        avg_entry_price=D(entry),
        current_price=D(current or entry),
        asset_class=asset_class,
    )


def make_crypto_terms(
    symbol: str = "BTC/USD", price_increment: str = "1", min_order_qty: str = "0.0001"
) -> AssetTerms:
    return AssetTerms(
        symbol=symbol,
        asset_class=AssetClass.CRYPTO,
        price_increment=D(price_increment),
        qty_increment=D("0.000000001"),
        min_order_qty=D(min_order_qty),
    )


def make_option_terms(symbol: str = "AAPL261218C00200000") -> AssetTerms:
    return AssetTerms(
        symbol=symbol,
        asset_class=AssetClass.US_OPTION,
        qty_increment=D(1),
        min_order_qty=D(1),
        multiplier=D(100),
        contract=OptionContract.from_symbol(symbol),
    )


def make_broker_order(
    symbol: str = "AAPL",
    side: Side = Side.SELL,
    qty: str = "100",
    order_type: OrderType = OrderType.STOP,
    status: BrokerOrderStatus = BrokerOrderStatus.NEW,
    stop_price: str | None = "98",
    limit_price: str | None = None,
    filled_qty: str = "0",
    filled_avg_price: str | None = None,
    time_in_force: TimeInForce = TimeInForce.GTC,
    id: str | None = None,
    client_order_id: str | None = None,
    submitted_at: datetime = NOW - timedelta(hours=1),
    replaced_by: str | None = None,
    replaces: str | None = None,
    order_class: OrderClass = OrderClass.SIMPLE,
    group_id: str | None = None,
) -> BrokerOrder:
    order_id = id or broker_id()
    return BrokerOrder(
        id=order_id,
        client_order_id=client_order_id or f"engine-{order_id[-6:]}",
        symbol=symbol,
        side=side,
        order_type=order_type,
        time_in_force=time_in_force,
        qty=D(qty),
        filled_qty=D(filled_qty),
        filled_avg_price=None if filled_avg_price is None else D(filled_avg_price),
        stop_price=None if stop_price is None else D(stop_price),
        limit_price=None if limit_price is None else D(limit_price),
        status=status,
        created_at=submitted_at,
        updated_at=submitted_at,
        submitted_at=submitted_at,
        replaced_by=replaced_by,
        replaces=replaces,
        order_class=order_class,
        group_id=group_id,
    )


def make_local_order(
    local_id: str = "L1",
    symbol: str = "AAPL",
    side: Side = Side.SELL,
    role: OrderRole = OrderRole.STOP_LOSS,
    order_type: OrderType = OrderType.STOP,
    state: OrderState = OrderState.ACCEPTED,
    qty: str = "100",
    qty_filled: str = "0",
    avg_fill_price: str | None = None,
    stop_price: str | None = "98",
    broker_id: str | None = None,
    client_order_id: str | None = None,
    correlation_id: str | None = None,
    limit_price: str | None = None,
) -> LocalOrder:
    return LocalOrder(
        local_id=local_id,
        broker_id=broker_id,
        client_order_id=client_order_id,
        correlation_id=correlation_id or f"trip-{symbol}",
        symbol=symbol,
        side=side,
        order_type=order_type,
        order_role=role,
        strategy="momentum",
        qty_requested=D(qty),
        qty_filled=D(qty_filled),
        avg_fill_price=None if avg_fill_price is None else D(avg_fill_price),
        stop_price=None if stop_price is None else D(stop_price),
        limit_price=None if limit_price is None else D(limit_price),
        state=state,
        parent_id=None,
        last_error=None,
        created_at=NOW - timedelta(hours=2),
        updated_at=NOW - timedelta(hours=2),
    )


def make_filled_entry(
    symbol: str = "AAPL", qty: str = "100", side: Side = Side.BUY, price: str = "100"
) -> LocalOrder:
    return make_local_order(
        local_id=f"entry-{symbol}",
        symbol=symbol,
        side=side,
        role=OrderRole.ENTRY,
        order_type=OrderType.MARKET,
        state=OrderState.FILLED,
        qty=qty,
        qty_filled=qty,
        avg_fill_price=price,
        stop_price=None,
        broker_id=broker_id(),
    )


def make_trade(pnl: str, minutes_ago: int, symbol: str = "AAPL") -> Trade:
    exit_at = NOW - timedelta(minutes=minutes_ago)
    return Trade(
        trade_id=f"t-{symbol}-{minutes_ago}",
        correlation_id=f"trip-{symbol}-{minutes_ago}",
        symbol=symbol,
        side=PositionSide.LONG,
        qty=D(10),
        entry_price=D(100),
        exit_price=D(100) + D(pnl) / 10,
        entry_at=exit_at - timedelta(minutes=5),
        exit_at=exit_at,
        pnl=D(pnl),
        pnl_pct=D(pnl) / 1000,
        strategy="momentum",
        duration_seconds=300,
        commission=D(0),
    )


def make_snapshot(
    *,
    positions: tuple[BrokerPosition, ...] = (),
    open_orders: tuple[BrokerOrder, ...] = (),
    recent_orders: tuple[BrokerOrder, ...] = (),
    looked_up: tuple[BrokerOrder, ...] = (),
    unknown_broker_ids: frozenset[str] = frozenset(),
    local_open: tuple[LocalOrder, ...] = (),
    linked: tuple[LocalOrder, ...] = (),
    position_orders: tuple[LocalOrder, ...] = (),
    trades: tuple[Trade, ...] = (),
    last_equity: str = "100000",
    assets: tuple[AssetTerms, ...] = (),
) -> Snapshot:
    return Snapshot(
        broker=BrokerSnapshot(
            account=make_account(last_equity),
            clock=make_clock(),
            positions=positions,
            open_orders=open_orders,
            recent_orders=recent_orders,
            looked_up_orders=looked_up,
            unknown_broker_ids=unknown_broker_ids,
            assets={terms.symbol: terms for terms in assets},
        ),
        local=LocalSnapshot(
            open_orders=local_open,
            linked_orders=linked,
            position_orders=position_orders,
            trades_today=trades,
        ),
        taken_at=NOW,
    )
