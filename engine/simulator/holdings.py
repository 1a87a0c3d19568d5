"""The account and its positions as the simulated broker holds them, and the JSON Alpaca prints
for them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from engine.simulator.assets import US_EQUITY, exchange, listed_symbol, multiplier

SUB_PENNY = Decimal("0.0001")


@dataclass
class SimPosition:
    symbol: str
    qty: Decimal  # signed: negative is short
    avg_entry_price: Decimal
    asset_id: str = ""
    # Any name, one recon does not know included; a crypto position's `symbol` is its pair.
    asset_class: str = US_EQUITY

    def market_value(self, price: Decimal) -> Decimal:
        return self.qty * price * multiplier(self.asset_class)


@dataclass
class SimAccount:
    """The account and whether it takes orders: any of the flags set, or a status other than
    ACTIVE, and it refuses every new order and replace."""

    account_number: str = "PA3SIMRECON1"
    cash: Decimal = Decimal("100000")
    last_equity: Decimal = Decimal("100000")
    status: str = "ACTIVE"
    trading_blocked: bool = False
    account_blocked: bool = False
    trade_suspended_by_user: bool = False


def account_wire(
    account: SimAccount,
    positions: Collection[SimPosition],
    prices: Mapping[str, Decimal],
    *,
    account_id: str,
    today: date,
) -> dict[str, Any]:
    """The account as Alpaca's JSON, its positions valued at `prices` (nothing, unpriced)."""
    long_value = sum(
        (p.market_value(prices.get(p.symbol, Decimal(0))) for p in positions if p.qty > 0),
        Decimal(0),
    )
    short_value = sum(
        (p.market_value(prices.get(p.symbol, Decimal(0))) for p in positions if p.qty < 0),
        Decimal(0),
    )
    equity = account.cash + long_value + short_value
    return {
        "id": account_id,
        "account_number": account.account_number,
        "status": account.status,
        "crypto_status": "ACTIVE",
        "currency": "USD",
        "buying_power": str(equity * 2),
        "regt_buying_power": str(equity * 2),
        "daytrading_buying_power": str(equity * 4),
        "non_marginable_buying_power": str(account.cash),
        "cash": str(account.cash),
        "accrued_fees": "0",
        "portfolio_value": str(equity),
        "pattern_day_trader": False,
        "trading_blocked": account.trading_blocked,
        "transfers_blocked": False,
        "account_blocked": account.account_blocked,
        "created_at": "2024-01-02T14:30:00Z",
        "trade_suspended_by_user": account.trade_suspended_by_user,
        "multiplier": "2",
        "shorting_enabled": True,
        "equity": str(equity),
        "last_equity": str(account.last_equity),
        "long_market_value": str(long_value),
        "short_market_value": str(short_value),
        "initial_margin": "0",
        "maintenance_margin": "0",
        "last_maintenance_margin": "0",
        "sma": "0",
        "daytrade_count": 0,
        "position_market_value": str(long_value - short_value),
        "effective_buying_power": str(equity * 2),
        "options_buying_power": str(account.cash),
        "options_approved_level": 0,
        "options_trading_level": 0,
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "balance_asof": today.isoformat(),
    }


def position_wire(position: SimPosition, price: Decimal, held: Decimal) -> dict[str, Any]:
    """The position as Alpaca's JSON at `price`, `held` of its shares taken by open closing
    orders: a crypto pair's under its compact symbol, an option's values counting the contract's
    multiplier."""
    qty = position.qty
    available = max(abs(qty) - held, Decimal(0))
    cost_basis = position.market_value(position.avg_entry_price)
    market_value = position.market_value(price)
    unrealized = market_value - cost_basis
    return {
        "asset_id": position.asset_id,
        "symbol": listed_symbol(position.symbol, position.asset_class),
        "exchange": exchange(position.asset_class),
        "asset_class": position.asset_class,
        "asset_marginable": position.asset_class == US_EQUITY,
        "avg_entry_price": str(position.avg_entry_price),
        "qty": str(qty),
        "qty_available": str(available if qty > 0 else -available),
        "side": "long" if qty > 0 else "short",
        "market_value": str(market_value),
        "cost_basis": str(cost_basis),
        "unrealized_pl": str(unrealized),
        "unrealized_plpc": str((unrealized / abs(cost_basis)).quantize(SUB_PENNY))
        if cost_basis
        else "0",
        "unrealized_intraday_pl": str(unrealized),
        "unrealized_intraday_plpc": "0",
        "current_price": str(price),
        "lastday_price": str(position.avg_entry_price),
        "change_today": "0",
    }
