"""Alpaca's JSON answers become domain objects with exact Decimals, or a typed one-line error."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from engine.broker.errors import MalformedBrokerResponse, UnknownOrderStatus
from engine.broker.wire import (
    account_from_wire,
    clock_from_wire,
    crypto_asset_from_wire,
    list_from_wire,
    option_contract_from_wire,
    order_from_wire,
    position_from_wire,
    trade_update_from_wire,
)
from engine.domain import BrokerOrderStatus, PositionSide, Side


def wire_order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": "0b9e7a2c-1111-4c1e-9a55-000000000001",
        "client_order_id": "recon-stop-AAPL-1",
        "symbol": "AAPL",
        "side": "sell",
        "type": "stop",
        "time_in_force": "gtc",
        "qty": "100",
        "filled_qty": "0",
        "filled_avg_price": None,
        "stop_price": "183.48",
        "limit_price": None,
        "status": "new",
        "created_at": "2026-11-24T14:30:00.123456789Z",
        "updated_at": "2026-11-24T14:30:00Z",
        "submitted_at": "2026-11-24T14:30:00Z",
        "replaced_by": None,
        "replaces": None,
    }
    order.update(overrides)
    return order


def wire_position(**overrides: Any) -> dict[str, Any]:
    position: dict[str, Any] = {
        "symbol": "TSLA",
        "side": "short",
        "qty": "-50",
        "qty_available": "-50",
        "avg_entry_price": "251.10",
        "current_price": "249.87",
        "asset_class": "us_equity",
    }
    position.update(overrides)
    return position


def wire_account(**overrides: Any) -> dict[str, Any]:
    account: dict[str, Any] = {
        "account_number": "PA3RECON0001",
        "status": "ACTIVE",
        "currency": "USD",
        "equity": "100000.00",
        "last_equity": "101250.55",
        "cash": "50000",
        "buying_power": "200000",
        "trading_blocked": False,
        "account_blocked": False,
        "trade_suspended_by_user": False,
    }
    account.update(overrides)
    return account


def test_order_prices_are_exact_decimals() -> None:
    order = order_from_wire(wire_order())
    assert order.stop_price == Decimal("183.48")
    assert str(order.stop_price) == "183.48"
    assert order.side is Side.SELL
    assert order.status is BrokerOrderStatus.NEW


def test_nanosecond_timestamps_are_read_as_utc() -> None:
    order = order_from_wire(wire_order())
    assert order.created_at == datetime(2026, 11, 24, 14, 30, 0, 123456, tzinfo=UTC)


def test_unknown_status_is_a_typed_error_naming_the_order() -> None:
    with pytest.raises(UnknownOrderStatus, match="'bogus'") as caught:
        order_from_wire(wire_order(status="bogus"))
    assert caught.value.order_id == "0b9e7a2c-1111-4c1e-9a55-000000000001"


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("qty", None, "is missing"),
        ("qty", "ten", "not a number"),
        ("qty", 10.5, "expected a number"),
        ("qty", True, "expected a number"),
        ("stop_price", "NaN", "not a finite number"),
        ("side", "sideways", "not a known value"),
        ("submitted_at", "yesterday", "not a timestamp"),
        ("submitted_at", "2026-11-24T14:30:00", "without a time zone"),
    ],
)
def test_malformed_order_field_is_named(field: str, value: object, complaint: str) -> None:
    with pytest.raises(MalformedBrokerResponse, match=f"{field}.*{complaint}"):
        order_from_wire(wire_order(**{field: value}))


def test_notional_order_without_qty_uses_filled_qty() -> None:
    order = order_from_wire(wire_order(qty=None, notional="500", filled_qty="2.5"))
    assert order.qty == Decimal("2.5")


def test_short_position_qty_is_positive_with_side_short() -> None:
    position = position_from_wire(wire_position())
    assert position.side is PositionSide.SHORT
    assert position.qty == Decimal("50")
    assert position.qty_available == Decimal("50")


def test_account_numbers_are_decimals() -> None:
    account = account_from_wire(wire_account())
    assert account.last_equity == Decimal("101250.55")


def test_clock_requires_a_boolean_is_open() -> None:
    with pytest.raises(MalformedBrokerResponse, match="is_open"):
        clock_from_wire(
            {
                "timestamp": "2026-11-24T15:31:00Z",
                "is_open": "yes",
                "next_open": "2026-11-25T14:30:00Z",
                "next_close": "2026-11-24T21:00:00Z",
            }
        )


def test_a_list_where_an_object_belongs_is_malformed() -> None:
    with pytest.raises(MalformedBrokerResponse, match="expected an object"):
        order_from_wire(["not", "an", "order"])
    with pytest.raises(MalformedBrokerResponse, match="expected a list"):
        list_from_wire({"orders": []}, "orders")


# Hostile answers: each a typed one-line error, never an exception of Python's own -----------


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        # Year 1 an hour east of UTC is year 0 in UTC: astimezone overflowed.
        ("created_at", "0001-01-01T00:00:00+01:00", "beyond any time recon can hold"),
        ("updated_at", "9999-12-31T23:59:59-01:00", "beyond any time recon can hold"),
        ("submitted_at", "0001-01-01T00:00:00Z", "outside 1970 to 9000"),
        ("submitted_at", "9999-12-31T00:00:00Z", "outside 1970 to 9000"),
        ("qty", "1e999999", "beyond 1E\\+18 in size"),
        pytest.param("qty", "9" * 10_000, "beyond 1E\\+18 in size", id="qty-of-10000-digits"),
        pytest.param("stop_price", 10**10_000, "beyond 1E\\+18 in size", id="int-of-10001-digits"),
        ("filled_qty", "-1e9999999999999999999", "not a number"),
        pytest.param("replaced_by", nested(5_000), "expected text", id="list-nested-5000-deep"),
        ("replaced_by", {"id": "x"}, "expected text"),
        ("legs", "legs", "expected a list"),
    ],
)
def test_a_hostile_order_field_is_a_typed_error(field: str, value: object, complaint: str) -> None:
    with pytest.raises(MalformedBrokerResponse, match=f"{field} .*{complaint}") as raised:
        order_from_wire(wire_order(**{field: value}))
    assert len(str(raised.value)) < 200 and "\n" not in str(raised.value)


def test_legs_nested_in_legs_are_malformed_however_deep() -> None:
    deepest = wire_order()
    for n in range(5_000):
        deepest = wire_order(id=f"0b9e7a2c-1111-4c1e-9a55-{n:012d}", legs=[deepest])
    with pytest.raises(MalformedBrokerResponse, match="a leg with legs of its own"):
        order_from_wire(deepest)


def test_one_level_of_legs_is_read_as_alpaca_nests_a_bracket() -> None:
    leg = wire_order(id="0b9e7a2c-1111-4c1e-9a55-000000000002", legs=None)
    parent = order_from_wire(wire_order(order_class="bracket", legs=[leg]))
    assert [order.group_id for order in (parent, *parent.legs)] == [parent.id, parent.id]


def test_a_huge_unreadable_value_is_quoted_short() -> None:
    with pytest.raises(MalformedBrokerResponse) as raised:
        order_from_wire(wire_order(side="x" * 1_000_000))
    assert len(str(raised.value)) < 200


@pytest.mark.parametrize(
    ("side", "qty", "qty_available"),
    [("short", "50", "-50"), ("long", "-50", "-50"), ("short", "-50", "50"), ("long", "50", "-1")],
)
def test_a_position_whose_qty_sign_disagrees_with_its_side_is_malformed(
    side: str, qty: str, qty_available: str
) -> None:
    raw = wire_position(side=side, qty=qty, qty_available=qty_available)
    with pytest.raises(MalformedBrokerResponse, match="the sign and the side disagree"):
        position_from_wire(raw)


def test_a_short_with_nothing_available_reads_its_negative_zero() -> None:
    position = position_from_wire(wire_position(qty_available="-0"))
    assert position.qty_available == 0


def test_a_clock_with_an_extreme_time_is_malformed() -> None:
    with pytest.raises(MalformedBrokerResponse, match="clock: next_open"):
        clock_from_wire(
            {
                "timestamp": "2026-11-24T15:31:00Z",
                "is_open": False,
                "next_open": "0001-01-01T00:00:00+00:01",
                "next_close": "2026-11-24T21:00:00Z",
            }
        )


def test_a_trade_update_with_an_unknown_event_is_malformed() -> None:
    message = {"stream": "trade_updates", "data": {"event": "teleported", "order": wire_order()}}
    with pytest.raises(MalformedBrokerResponse, match="event is 'teleported', not a known one"):
        trade_update_from_wire(message)


def test_a_trade_update_reads_as_its_order_and_other_streams_as_nothing() -> None:
    message = {"stream": "trade_updates", "data": {"event": "new", "order": wire_order()}}
    order = trade_update_from_wire(message)
    assert order is not None and order.status is BrokerOrderStatus.NEW
    listening = {"stream": "listening", "data": {"streams": ["trade_updates"]}}
    assert trade_update_from_wire(listening) is None


def test_a_position_of_a_class_recon_does_not_know_keeps_its_name() -> None:
    position = position_from_wire(wire_position(asset_class="crypto_perp"))
    assert position.asset_class == "crypto_perp"
    assert position.known_asset_class is None


def test_a_crypto_pair_reads_as_the_steps_its_orders_keep_to() -> None:
    asset = crypto_asset_from_wire(
        {
            "class": "crypto",
            "symbol": "BTC/USD",
            "min_order_size": "0.0001",
            "min_trade_increment": "0.000000001",
            "price_increment": "1",
        }
    )
    assert (asset.symbol, asset.price_increment, asset.qty_increment, asset.min_order_qty) == (
        "BTC/USD",
        Decimal("1"),
        Decimal("0.000000001"),
        Decimal("0.0001"),
    )


def test_an_increment_of_zero_is_malformed() -> None:
    with pytest.raises(MalformedBrokerResponse, match="price_increment is '0', not above 0"):
        crypto_asset_from_wire(
            {
                "class": "crypto",
                "symbol": "BTC/USD",
                "min_order_size": "0.0001",
                "min_trade_increment": "0.0001",
                "price_increment": "0",
            }
        )


def test_an_option_contract_reads_as_its_multiplier_and_contract() -> None:
    terms = option_contract_from_wire(
        {
            "symbol": "AAPL261218P00200000",
            "type": "put",
            "expiration_date": "2026-12-18",
            "underlying_symbol": "AAPL",
            "strike_price": "200",
            "multiplier": "100",
        }
    )
    assert terms.multiplier == Decimal(100)
    assert terms.contract is not None
    assert terms.contract.describe() == "AAPL 2026-12-18 200 put"


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"status": "ACCOUNT_CLOSED"}, "status ACCOUNT_CLOSED (not ACTIVE)"),
        ({"account_blocked": True}, "account_blocked"),
        ({"trading_blocked": True}, "trading_blocked"),
        ({"trade_suspended_by_user": True}, "trade_suspended_by_user"),
    ],
)
def test_an_account_that_refuses_orders_names_the_flag(flags: dict[str, Any], named: str) -> None:
    refusal = account_from_wire(wire_account(**flags)).order_refusal
    assert refusal is not None and refusal.startswith(named)
    assert account_from_wire(wire_account()).order_refusal is None


def test_an_account_flag_that_is_not_a_boolean_is_malformed() -> None:
    with pytest.raises(MalformedBrokerResponse, match="trading_blocked is 'false'"):
        account_from_wire(wire_account(trading_blocked="false"))
