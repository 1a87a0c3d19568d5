"""The rules Alpaca holds an order to before accepting it: an account that takes orders, price
increments, DAY-only fractions (an equity's; crypto and options have rules of their own, in
`asset_rules`), stops on the right side of the market, shares already held by open orders (once
per group), wash trades, and what a bracket, an OCO, a replacement or a cancel must be."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from engine.simulator import asset_rules
from engine.simulator.assets import CRYPTO, US_OPTION, asset_class_of
from engine.simulator.holdings import SimAccount
from engine.simulator.order_request import OrderRequest, OrderTerms, StopLoss
from engine.simulator.orders import MLEG, OCO, STOP_TYPES, SimOrder
from engine.simulator.rejections import forbidden, unprocessable

PENNY = Decimal("0.01")
SUB_PENNY = Decimal("0.0001")
COMPLEX_TIMES_IN_FORCE = frozenset({"day", "gtc"})
WASH_TRADE = "potential wash trade detected. use complex orders"
# Orders whose limit prices decide a wash trade; against a market or plain stop order on the
# other side, any order is one.
PRICED_TYPES = frozenset({"limit", "stop_limit"})
ACTIVE = "ACTIVE"


def check_account(account: SimAccount) -> None:
    """An account that refuses orders refuses every new one and every replace, in Alpaca's
    words for its first reason, the gravest first; cancels still go through."""
    if account.status != ACTIVE:
        raise forbidden(f"account is not active (status: {account.status})")
    if account.account_blocked:
        raise forbidden("account is blocked")
    if account.trading_blocked:
        raise forbidden("trading is blocked for this account")
    if account.trade_suspended_by_user:
        raise forbidden("new orders are rejected by user request")


def check_terms(terms: OrderTerms, price: Decimal) -> None:
    """What any order, simple or a group's, must be: prices on their tick, fractions DAY (an
    equity's; crypto and options keep to their own), a stop on the side of the market it can
    trigger from."""
    asset_class = asset_class_of(terms.symbol)
    if asset_class == CRYPTO:
        asset_rules.check_crypto_terms(terms)
    elif asset_class == US_OPTION:
        asset_rules.check_option_terms(terms)
    else:
        check_ticks(("stop_price", terms.stop_price), ("limit_price", terms.limit_price))
        if is_fractional(terms.qty) and terms.time_in_force != "day":
            raise unprocessable("fractional orders must be DAY orders")
    if terms.type in STOP_TYPES and terms.stop_price is not None:
        check_stop_side(terms.side, terms.stop_price, price, "stop price")


def check_ticks(*prices: tuple[str, Decimal | None]) -> None:
    for name, value in prices:
        if value is not None and value != value.quantize(tick(value)):
            raise unprocessable(
                f"invalid {name} {value}. sub-penny increment does not fulfill minimum pricing "
                "criteria"
            )


def check_stop_side(side: str, stop_price: Decimal, price: Decimal, name: str) -> None:
    """A sell stop above the market (or a buy stop below it) would trigger at once."""
    if side == "sell" and stop_price >= price:
        raise unprocessable(
            f"{name} {stop_price} must be below the current price {price} for a sell stop"
        )
    if side == "buy" and stop_price <= price:
        raise unprocessable(
            f"{name} {stop_price} must be above the current price {price} for a buy stop"
        )


def check_group(request: OrderRequest, price: Decimal, position_qty: Decimal) -> None:
    """A bracket or OCO: whole shares, DAY or GTC, a stop loss on the side of the market it
    triggers from and a take-profit beyond it; an OCO must close an existing position."""
    terms, order_class = request.terms, request.order_class
    if terms.time_in_force not in COMPLEX_TIMES_IN_FORCE:
        raise unprocessable(f"time_in_force must be day or gtc for {order_class} orders")
    if is_fractional(terms.qty):
        raise unprocessable(f"{order_class} orders must be for whole shares")
    if order_class == OCO and not closes(terms.side, position_qty):
        raise unprocessable("an oco order must close an existing position")
    exit_side = terms.side if order_class == OCO else opposite(terms.side)
    if request.take_profit is not None and request.stop_loss is not None:
        _check_exits(exit_side, request.take_profit, request.stop_loss, price)


def _check_exits(side: str, take_profit: Decimal, stop_loss: StopLoss, price: Decimal) -> None:
    check_ticks(
        ("take_profit.limit_price", take_profit),
        ("stop_loss.stop_price", stop_loss.stop_price),
        ("stop_loss.limit_price", stop_loss.limit_price),
    )
    check_stop_side(side, stop_loss.stop_price, price, "stop_loss.stop_price")
    if side == "sell" and take_profit <= stop_loss.stop_price:
        raise unprocessable(
            f"take_profit.limit_price {take_profit} must be above stop_loss.stop_price "
            f"{stop_loss.stop_price}"
        )
    if side == "buy" and take_profit >= stop_loss.stop_price:
        raise unprocessable(
            f"take_profit.limit_price {take_profit} must be below stop_loss.stop_price "
            f"{stop_loss.stop_price}"
        )


def check_wash_trade(terms: OrderTerms, orders: Iterable[SimOrder]) -> None:
    """Alpaca will not let a simple order trade against the account's own open order on the
    other side: where either is a market or a stop order, always; between limits (or stop
    limits), when the buy's limit is at or above the sell's. Brackets, OCOs and trailing stops
    are exempt, so they are not checked and block nothing; crypto is never checked."""
    if asset_class_of(terms.symbol) == CRYPTO:
        return
    for order in orders:
        if (
            order.symbol != terms.symbol
            or order.side == terms.side
            or not order.is_open
            or order.type == "trailing_stop"
        ):
            continue
        if terms.type in PRICED_TYPES and order.type in PRICED_TYPES:
            if not _crosses(terms.side, terms.limit_price, order.limit_price):
                continue
            reason = "opposite side limit order exists"
        else:
            reason = "opposite side market/stop order exists"
        raise forbidden(WASH_TRADE, existing_order_id=order.id, reject_reason=reason)


def _crosses(side: str, limit: Decimal | None, resting_limit: Decimal | None) -> bool:
    """A buy at `limit` would trade with a resting sell at or below it (a sell, mirrored)."""
    if limit is None or resting_limit is None:
        return False
    return limit >= resting_limit if side == "buy" else limit <= resting_limit


def check_available_qty(
    terms: OrderTerms,
    requested: Decimal,
    position_qty: Decimal,
    orders: Iterable[SimOrder],
    *,
    excluding_group: str | None = None,
) -> None:
    """Shares a position holds for open closing-side orders are not available to another;
    a replacement competes only with the other groups, never with its own. A crypto sell is
    for coins held and not yet taken, whatever else: there are no crypto shorts."""
    if asset_class_of(terms.symbol) == CRYPTO:
        if terms.side == "sell":
            sold = held_qty(orders, terms.symbol, "sell", excluding_group=excluding_group)
            asset_rules.check_crypto_balance(terms.symbol, requested, position_qty, sold)
        return
    if closes(terms.side, position_qty):
        available = abs(position_qty) - held_qty(
            orders, terms.symbol, terms.side, excluding_group=excluding_group
        )
        if requested > available:
            raise forbidden(
                f"insufficient qty available for order (requested: {requested}, "
                f"available: {max(available, Decimal(0))})"
            )
    elif terms.side == "sell" and is_fractional(terms.qty):
        raise forbidden("fractional orders cannot be sold short")


def held_qty(
    orders: Iterable[SimOrder], symbol: str, side: str, *, excluding_group: str | None = None
) -> Decimal:
    """Shares held by open `side` orders on `symbol`. A group holds its largest member's
    remaining qty once: a bracket's take-profit and stop loss sell the same shares, never both."""
    by_group: dict[str, Decimal] = {}
    for order in orders:
        if (
            order.symbol == symbol
            and order.side == side
            and order.is_open
            and order.group_id != excluding_group
        ):
            by_group[order.group_id] = max(
                by_group.get(order.group_id, Decimal(0)), order.remaining_qty
            )
    return sum(by_group.values(), Decimal(0))


def check_cancelable(order: SimOrder, orders: Mapping[str, SimOrder]) -> None:
    """A multi-leg order is canceled whole, through its parent, never one leg."""
    if order.parent_id is not None and orders[order.parent_id].order_class == MLEG:
        raise unprocessable("cannot cancel a leg of a multi-leg order")


def check_replaceable(order: SimOrder) -> None:
    if not order.is_open or order.status.startswith("pending_"):
        raise unprocessable(f"order is not replaceable (status {order.status})")


def check_replacement_qty(order: SimOrder, qty: Decimal) -> None:
    if qty <= order.filled_qty:
        raise unprocessable(f"qty must be greater than filled_qty {order.filled_qty}")


def closes(side: str, position_qty: Decimal) -> bool:
    return (side == "sell" and position_qty > 0) or (side == "buy" and position_qty < 0)


def opposite(side: str) -> str:
    return "buy" if side == "sell" else "sell"


def is_fractional(qty: Decimal) -> bool:
    return qty != qty.to_integral_value()


def tick(price: Decimal) -> Decimal:
    return PENNY if price >= 1 else SUB_PENNY
