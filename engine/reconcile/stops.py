"""Emergency stop arithmetic: the price a stop goes at, the tick it rounds to, how a quantity
splits into whole and fractional shares, and the deterministic id each submission carries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from engine.domain import PositionSide, Side, TimeInForce, compact_symbol

PENNY = Decimal("0.01")
NICKEL = Decimal("0.05")
SUB_PENNY = Decimal("0.0001")
ONE_DOLLAR = Decimal("1")
# Options quote in pennies below $3 and in nickels from $3 (the penny program's ticks).
OPTION_NICKEL_FROM = Decimal("3")
RECON_PREFIX = "recon-"

# The tick a price must be a multiple of, at that price.
Tick = Callable[[Decimal], Decimal]


def tick_for(price: Decimal) -> Decimal:
    """US equities quote in pennies at or above $1 and in hundredths of a cent below."""
    return PENNY if price >= ONE_DOLLAR else SUB_PENNY


def option_tick_for(price: Decimal) -> Decimal:
    return PENNY if price < OPTION_NICKEL_FROM else NICKEL


def round_away_from_market(price: Decimal, side: PositionSide, tick: Tick = tick_for) -> Decimal:
    """A long's stop rounds down and a short's up, so rounding never brings a stop closer to the
    market than the percentage asked for."""
    rounding = ROUND_FLOOR if side is PositionSide.LONG else ROUND_CEILING
    rounded = _on_tick(price, tick(price), rounding)
    # Rounding can cross a price where the tick changes; round again on the tick found there.
    return _on_tick(rounded, tick(rounded), rounding)


def _on_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    """`price` on a multiple of `tick` (a nickel, a whole dollar, not only a power of ten)."""
    return (price / tick).quantize(Decimal(1), rounding=rounding) * tick


@dataclass(frozen=True, slots=True)
class StopLevel:
    price: Decimal
    rebased_on_current_price: bool


def emergency_stop_level(
    side: PositionSide,
    avg_entry_price: Decimal,
    current_price: Decimal,
    stop_pct: Decimal,
    tick: Tick = tick_for,
) -> StopLevel:
    """`stop_pct` beyond the average entry: below for a long, above for a short. A level the
    market has already gone through would trigger at once, so it is measured from the current
    price instead."""
    if side is PositionSide.LONG:
        from_entry = round_away_from_market(avg_entry_price * (1 - stop_pct), side, tick)
        if from_entry < current_price:
            return StopLevel(from_entry, rebased_on_current_price=False)
        return StopLevel(
            round_away_from_market(current_price * (1 - stop_pct), side, tick),
            rebased_on_current_price=True,
        )
    from_entry = round_away_from_market(avg_entry_price * (1 + stop_pct), side, tick)
    if from_entry > current_price:
        return StopLevel(from_entry, rebased_on_current_price=False)
    return StopLevel(
        round_away_from_market(current_price * (1 + stop_pct), side, tick),
        rebased_on_current_price=True,
    )


@dataclass(frozen=True, slots=True)
class StopSlice:
    """Part of an uncovered quantity that goes out as one order."""

    qty: Decimal
    time_in_force: TimeInForce

    @property
    def is_fractional(self) -> bool:
        return self.time_in_force is TimeInForce.DAY


def slices_for(uncovered_qty: Decimal) -> tuple[StopSlice, ...]:
    """Whole shares get a GTC stop; Alpaca accepts fractional quantities only as DAY orders, so
    a fractional remainder gets its own DAY stop (to be renewed tomorrow)."""
    whole = uncovered_qty.to_integral_value(rounding=ROUND_DOWN)
    fraction = uncovered_qty - whole
    slices = []
    if whole > 0:
        slices.append(StopSlice(whole, TimeInForce.GTC))
    if fraction > 0:
        slices.append(StopSlice(fraction, TimeInForce.DAY))
    return tuple(slices)


class ClientOrderIds:
    """Issues the ids of what one plan sends: the same snapshot always yields the same ids, and
    a new one never reuses an id the broker has already seen under its prefix."""

    def __init__(self, broker_client_order_ids: Iterable[str]) -> None:
        self._issued: Counter[str] = Counter(
            client_order_id.rsplit("-", 1)[0] + "-"
            for client_order_id in broker_client_order_ids
            if client_order_id.startswith(RECON_PREFIX)
        )

    def next(
        self, purpose: str, symbol: str, side: Side, time_in_force: TimeInForce, day: date
    ) -> str:
        prefix = client_order_id_prefix(purpose, symbol, side, time_in_force, day)
        self._issued[prefix] += 1
        return recon_client_order_id(
            purpose, symbol, side, time_in_force, day, self._issued[prefix]
        )


def recon_client_order_id(
    purpose: str, symbol: str, side: Side, time_in_force: TimeInForce, day: date, generation: int
) -> str:
    """The same position on the same day yields the same id, so a submission whose answer was
    lost is found again by id rather than sent twice. `generation` counts earlier recon orders
    of this prefix that are no longer open, so a stop canceled since gets a fresh id."""
    return f"{client_order_id_prefix(purpose, symbol, side, time_in_force, day)}{generation}"


def client_order_id_prefix(
    purpose: str, symbol: str, side: Side, time_in_force: TimeInForce, day: date
) -> str:
    # A crypto pair's slash stays out of an id that travels in URLs.
    return f"{RECON_PREFIX}{purpose}-{compact_symbol(symbol)}-{side}-{time_in_force}-{day:%Y%m%d}-"
