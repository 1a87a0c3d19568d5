"""Stop prices, ticks, slices and ids."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.domain import PositionSide, Side, TimeInForce
from engine.reconcile.stops import (
    emergency_stop_level,
    recon_client_order_id,
    round_away_from_market,
    slices_for,
    tick_for,
)

D = Decimal
prices = st.decimals(min_value=D("0.01"), max_value=D("5000"), places=4)
pcts = st.decimals(min_value=D("0.005"), max_value=D("0.10"), places=4)


@pytest.mark.parametrize(("price", "tick"), [("1", "0.01"), ("0.9999", "0.0001"), ("250", "0.01")])
def test_tick_is_a_penny_from_one_dollar_up(price: str, tick: str) -> None:
    assert tick_for(D(price)) == D(tick)


def test_long_stop_rounds_down_and_short_stop_rounds_up() -> None:
    assert round_away_from_market(D("98.567"), PositionSide.LONG) == D("98.56")
    assert round_away_from_market(D("98.561"), PositionSide.SHORT) == D("98.57")
    assert round_away_from_market(D("0.85897"), PositionSide.LONG) == D("0.8589")


@given(entry=prices, current=prices, pct=pcts, short=st.booleans())
def test_stop_is_always_on_the_safe_side_of_the_market_and_on_tick(
    entry: Decimal, current: Decimal, pct: Decimal, short: bool
) -> None:
    side = PositionSide.SHORT if short else PositionSide.LONG
    level = emergency_stop_level(side, entry, current, pct)
    if side is PositionSide.LONG:
        assert level.price < current
    else:
        assert level.price > current
    assert level.price == level.price.quantize(tick_for(level.price))


def test_stop_from_entry_is_kept_when_the_market_has_not_reached_it() -> None:
    level = emergency_stop_level(PositionSide.LONG, D("100"), D("99"), D("0.02"))
    assert (level.price, level.rebased_on_current_price) == (D("98.00"), False)


@pytest.mark.parametrize(
    ("qty", "expected"),
    [
        ("100", [("100", TimeInForce.GTC)]),
        ("10.5", [("10", TimeInForce.GTC), ("0.5", TimeInForce.DAY)]),
        ("0.25", [("0.25", TimeInForce.DAY)]),
    ],
)
def test_fraction_is_split_off_into_a_day_slice(
    qty: str, expected: list[tuple[str, TimeInForce]]
) -> None:
    assert [(s.qty, s.time_in_force) for s in slices_for(D(qty))] == [
        (D(q), tif) for q, tif in expected
    ]


def test_client_order_id_is_stable_and_fits_alpaca_limit() -> None:
    ids = {
        recon_client_order_id("stop", "BRK.B", Side.SELL, TimeInForce.GTC, date(2026, 11, 24), 1)
        for _ in range(2)
    }
    assert ids == {"recon-stop-BRK.B-sell-gtc-20261124-1"}
