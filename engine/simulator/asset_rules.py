"""Alpaca's order rules that differ by asset class: a crypto pair's (market, limit and stop limit
only, GTC or IOC, its asset's steps, no order groups, never sold short) and an option's (no
trailing stops, DAY or GTC, whole contracts, its tick, no groups but multi-leg ones)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from engine.simulator.assets import CRYPTO, US_OPTION, crypto_pair
from engine.simulator.orders import MLEG, SIMPLE
from engine.simulator.rejections import forbidden, unprocessable

if TYPE_CHECKING:
    from engine.simulator.order_request import OrderTerms

CRYPTO_TYPES = frozenset({"market", "limit", "stop_limit"})
CRYPTO_TIMES_IN_FORCE = frozenset({"gtc", "ioc"})
OPTION_TYPES = frozenset({"market", "limit", "stop", "stop_limit"})
# Alpaca has taken GTC on single-leg options since 2026-08.
OPTION_TIMES_IN_FORCE = frozenset({"day", "gtc"})
OPTION_ORDER_CLASSES = frozenset({SIMPLE, MLEG})
# An option quoted at or above this trades in nickels, below it in pennies.
OPTION_NICKEL_FROM = Decimal("3.00")
OPTION_PENNY = Decimal("0.01")
OPTION_NICKEL = Decimal("0.05")
CLASS_WORDS = {CRYPTO: "crypto", US_OPTION: "option"}


def check_order_shape(asset_class: str, order_type: str, order_class: object) -> None:
    """What the asset's orders can be at all, read before anything else of the request:
    a trailing stop Alpaca takes for an equity is refused here for crypto or an option."""
    if asset_class == CRYPTO:
        allowed_types, allowed_classes = CRYPTO_TYPES, frozenset({SIMPLE})
    elif asset_class == US_OPTION:
        allowed_types, allowed_classes = OPTION_TYPES, OPTION_ORDER_CLASSES
    else:
        return
    words = CLASS_WORDS[asset_class]
    if order_type not in allowed_types:
        raise unprocessable(f"invalid type for {words} order")
    if order_class not in (None, "", *allowed_classes):
        raise unprocessable(f"invalid order_class for {words} order")


def check_crypto_terms(terms: OrderTerms) -> None:
    """GTC or IOC, fractions at either; the quantity and prices on the pair's steps."""
    pair = crypto_pair(terms.symbol)
    if terms.time_in_force not in CRYPTO_TIMES_IN_FORCE:
        raise unprocessable("invalid time_in_force for crypto order")
    if terms.qty < pair.min_order_size:
        raise unprocessable(
            f"qty {terms.qty} must be at least min_order_size {pair.min_order_size:f} "
            f"for {pair.symbol}"
        )
    if terms.qty % pair.min_trade_increment:
        raise unprocessable(
            f"qty {terms.qty} must be a multiple of min_trade_increment "
            f"{pair.min_trade_increment:f} for {pair.symbol}"
        )
    for name, price in (("stop_price", terms.stop_price), ("limit_price", terms.limit_price)):
        if price is not None and price % pair.price_increment:
            raise unprocessable(
                f"{name} {price} must be a multiple of price_increment {pair.price_increment:f} "
                f"for {pair.symbol}"
            )


def check_crypto_balance(symbol: str, requested: Decimal, holding: Decimal, sold: Decimal) -> None:
    """A crypto sell is for coins the account holds (`holding`) that no open sell has taken
    (`sold`): Alpaca holds no crypto short."""
    pair = crypto_pair(symbol)
    available = max(holding - sold, Decimal(0))
    if requested > available:
        raise forbidden(
            f"insufficient balance for {pair.base} (requested: {requested}, available: {available})"
        )


def check_option_terms(terms: OrderTerms) -> None:
    """DAY or GTC, whole contracts, prices on the option's tick."""
    if terms.time_in_force not in OPTION_TIMES_IN_FORCE:
        raise unprocessable("invalid time_in_force for option order")
    if terms.qty != terms.qty.to_integral_value():
        raise unprocessable("qty must be a whole number of contracts")
    for name, price in (("stop_price", terms.stop_price), ("limit_price", terms.limit_price)):
        if price is None:
            continue
        tick = option_tick(price)
        if price % tick:
            side_of = "at or above" if tick == OPTION_NICKEL else "below"
            raise unprocessable(
                f"invalid {name} {price}. option prices {side_of} {OPTION_NICKEL_FROM} must be "
                f"in {tick} increments"
            )


def option_tick(price: Decimal) -> Decimal:
    return OPTION_NICKEL if price >= OPTION_NICKEL_FROM else OPTION_PENNY
