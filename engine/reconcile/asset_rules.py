"""What each asset class takes as protection at Alpaca: the order type, the tick its prices
keep to, how its quantity goes out, what one unit of it is worth, and whether its symbol is
under the wash-trade rule. Pure: a position and the terms of its asset in, the rules out — or
why recon cannot protect it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

from engine.domain import (
    AssetClass,
    AssetTerms,
    BrokerPosition,
    OrderType,
    PositionSide,
    TimeInForce,
)
from engine.reconcile.stops import (
    StopLevel,
    StopSlice,
    Tick,
    option_tick_for,
    slices_for,
    tick_for,
)


@dataclass(frozen=True, slots=True)
class AssetRules:
    asset_class: AssetClass
    # A plain stop, or (crypto, which takes no plain stop) a stop_limit whose limit sits
    # `stop_limit_pct` beyond its stop.
    order_type: OrderType
    tick: Tick
    # Units one quantity of the position moves: an option contract's multiplier.
    multiplier: Decimal
    # Alpaca refuses a stop while an order on the other side of the symbol is open; not for
    # crypto, which has no such rule.
    wash_trade_rule: bool
    # Alpaca takes an OCO exit only on equities.
    takes_oco: bool
    qty_step: Decimal | None = None  # None: whole shares GTC, a fractional remainder DAY
    min_qty: Decimal | None = None
    stop_limit_pct: Decimal | None = None

    def slices(self, qty: Decimal) -> tuple[tuple[StopSlice, ...], str | None]:
        """How `qty` goes out as stops, and what of it cannot (and why), if anything."""
        if self.qty_step is None:
            return slices_for(qty), None
        sendable = (qty / self.qty_step).to_integral_value(rounding=ROUND_DOWN) * self.qty_step
        unit = "contracts" if self.asset_class is AssetClass.US_OPTION else "units"
        if self.min_qty is not None and sendable < self.min_qty:
            return (), f"{qty} {unit} is below the smallest order the broker takes ({self.min_qty})"
        left = qty - sendable
        problem = None
        if left > 0:
            problem = f"{left} of {qty} {unit} is off the quantity step {self.qty_step}"
        return ((StopSlice(sendable, TimeInForce.GTC),) if sendable > 0 else ()), problem

    def limit_price(self, level: StopLevel, side: PositionSide) -> Decimal | None:
        """A stop_limit's limit: `stop_limit_pct` past the stop on the way the market would be
        falling through it, on the tick and never nearer the stop than that."""
        if self.stop_limit_pct is None:
            return None
        if side is not PositionSide.LONG:
            raise ValueError("a stop_limit protects only a long here: crypto has no shorts")
        raw = level.price * (1 - self.stop_limit_pct)
        tick = self.tick(raw)
        return (raw / tick).quantize(Decimal(1), rounding=ROUND_FLOOR) * tick


def market_time_in_force(asset_class: AssetClass) -> TimeInForce:
    """What a market exit may ask: crypto takes no DAY order; anything else closes today."""
    return TimeInForce.GTC if asset_class is AssetClass.CRYPTO else TimeInForce.DAY


EQUITY_RULES = AssetRules(
    asset_class=AssetClass.US_EQUITY,
    order_type=OrderType.STOP,
    tick=tick_for,
    multiplier=Decimal(1),
    wash_trade_rule=True,
    takes_oco=True,
)


def rules_for(
    position: BrokerPosition, assets: Mapping[str, AssetTerms], stop_limit_pct: Decimal
) -> AssetRules | str:
    """The rules `position`'s stops keep to, or why recon cannot protect it."""
    asset_class = position.known_asset_class
    if asset_class is None:
        return f"cannot protect: asset class {position.asset_class} is not one recon knows"
    if asset_class is AssetClass.US_EQUITY:
        return EQUITY_RULES
    terms = assets.get(position.symbol)
    if terms is None:
        return f"cannot protect: the broker's terms for {asset_class} {position.symbol} are unread"
    if asset_class is AssetClass.CRYPTO:
        if position.side is PositionSide.SHORT:
            return "cannot protect: Alpaca holds no crypto shorts, so this short is not understood"
        if terms.price_increment is None:
            return f"cannot protect: the broker gives {position.symbol} no price increment"
        increment = terms.price_increment
        return AssetRules(
            asset_class=asset_class,
            order_type=OrderType.STOP_LIMIT,
            tick=lambda _: increment,
            multiplier=terms.multiplier,
            wash_trade_rule=False,
            takes_oco=False,
            qty_step=terms.qty_increment,
            min_qty=terms.min_order_qty,
            stop_limit_pct=stop_limit_pct,
        )
    return AssetRules(
        asset_class=asset_class,
        order_type=OrderType.STOP,
        tick=option_tick_for,
        multiplier=terms.multiplier,
        wash_trade_rule=True,
        takes_oco=False,
        qty_step=Decimal(1),
        min_qty=Decimal(1),
    )
