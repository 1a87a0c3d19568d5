"""Crypto pairs and options as Alpaca holds them, met through the real alpaca-py client: where
their positions are listed and found, the symbol and class their orders carry, the order rules
each class keeps to, multi-leg groups, and the asset and option-contract lookups."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from alpaca.trading.enums import OrderClass, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Asset, OptionContract, Order, Position
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from engine.simulator.orders import MLEG
from engine.simulator.runner import Simulator, SimulatorThread
from engine.simulator.scenarios import CRASH_TIME
from tests.integration.test_simulator_rules import client, rejection

D = Decimal
CALL = "AAPL261218C00200000"
PUT = "AAPL261218P00190000"
ALL_ORDERS = GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500)


@pytest.fixture
def mixed_assets() -> Iterator[Simulator]:
    with SimulatorThread("mixed_assets", now=lambda: CRASH_TIME) as simulator:
        yield simulator


@pytest.fixture
def crypto() -> Iterator[Simulator]:
    """0.5 BTC held at 61000, ETH priced at 3452.5, nothing else."""
    with SimulatorThread("empty", now=lambda: CRASH_TIME) as simulator:
        simulator.broker.prices.update({"BTC/USD": D("61000"), "ETH/USD": D("3452.5")})
        simulator.broker.seed_position("BTC/USD", D("0.5"), D("60000"))
        yield simulator


@pytest.fixture
def options() -> Iterator[Simulator]:
    """3 AAPL calls held at 4.35, a put priced at 2.10."""
    with SimulatorThread("empty", now=lambda: CRASH_TIME) as simulator:
        simulator.broker.prices.update({CALL: D("4.35"), PUT: D("2.10")})
        simulator.broker.seed_position(CALL, D(3), D("4.10"))
        yield simulator


def raw_get(simulator: Simulator, path: str) -> requests.Response:
    """A path as given, `%2F` and all: requests sends it unchanged."""
    headers = {"APCA-API-KEY-ID": simulator.key_id, "APCA-API-SECRET-KEY": simulator.secret_key}
    return requests.get(f"{simulator.url}{path}", headers=headers, timeout=5)


def crypto_stop_limit(qty: float, stop: float, limit: float, **extra: Any) -> StopLimitOrderRequest:
    return StopLimitOrderRequest(
        symbol=extra.pop("symbol", "BTC/USD"),
        qty=qty,
        side=extra.pop("side", OrderSide.SELL),
        time_in_force=extra.pop("time_in_force", TimeInForce.GTC),
        stop_price=stop,
        limit_price=limit,
        **extra,
    )


def option_stop(qty: float, stop: float, **extra: Any) -> StopOrderRequest:
    return StopOrderRequest(
        symbol=extra.pop("symbol", CALL),
        qty=qty,
        side=OrderSide.SELL,
        time_in_force=extra.pop("time_in_force", TimeInForce.DAY),
        stop_price=stop,
        **extra,
    )


# Positions ---------------------------------------------------------------------------------


def test_mixed_assets_lists_crypto_under_its_compact_symbol_and_each_class_by_name(
    mixed_assets: Simulator,
) -> None:
    listed: Any = client(mixed_assets, raw_data=True).get_all_positions()
    by_symbol = {p["symbol"]: p for p in listed}
    assert sorted(by_symbol) == ["AAPL", CALL, "BTCUSD", "ETHUSD", "MSFT"]
    btc = by_symbol["BTCUSD"]
    assert (btc["asset_class"], btc["exchange"], btc["qty"]) == ("crypto", "CRYPTO", "0.5")
    assert (btc["market_value"], btc["cost_basis"]) == ("30500.0", "30000.0")
    assert by_symbol["ETHUSD"]["qty"] == "0.25"
    assert (by_symbol["AAPL"]["asset_class"], by_symbol["AAPL"]["exchange"]) == (
        "us_equity",
        "NASDAQ",
    )
    for position in listed:
        Position(**position)


def test_mixed_assets_crypto_position_is_found_by_its_compact_symbol_never_its_pair(
    mixed_assets: Simulator,
) -> None:
    trading = client(mixed_assets, raw_data=True)
    found: Any = trading.get_open_position("BTCUSD")
    assert (found["symbol"], found["qty"]) == ("BTCUSD", "0.5")
    assert rejection(lambda: trading.get_open_position("BTC/USD")) == (
        404,
        40410000,
        "position does not exist",
    )
    escaped = raw_get(mixed_assets, "/v2/positions/BTC%2FUSD")
    assert escaped.status_code == 404
    assert escaped.json() == {"code": 40410000, "message": "position does not exist"}


def test_mixed_assets_option_position_counts_the_contract_multiplier(
    mixed_assets: Simulator,
) -> None:
    option: Any = client(mixed_assets, raw_data=True).get_open_position(CALL)
    assert (option["asset_class"], option["qty"], option["avg_entry_price"]) == (
        "us_option",
        "3",
        "4.10",
    )
    assert (option["market_value"], option["cost_basis"], option["unrealized_pl"]) == (
        "1305.00",
        "1230.00",
        "75.00",
    )
    assert option["current_price"] == "4.35"


def test_mixed_assets_local_book_writes_btc_compact_beside_the_pair_its_order_carries(
    mixed_assets: Simulator,
) -> None:
    rows = {row.local_id: row for row in mixed_assets.local_book.orders}
    assert rows["BTCUSD-entry"].symbol == "BTCUSD"
    assert rows["BTCUSD-entry"].qty_filled == D("0.5")
    assert rows[f"{CALL}-entry"].qty_filled == 3
    assert not any(row.symbol.startswith("ETH") for row in rows.values())
    orders: Any = client(mixed_assets, raw_data=True).get_orders(ALL_ORDERS)
    [btc_entry] = [o for o in orders if o["client_order_id"] == "eng-BTCUSD-entry-0001"]
    assert (btc_entry["symbol"], btc_entry["asset_class"], btc_entry["time_in_force"]) == (
        "BTC/USD",
        "crypto",
        "gtc",
    )
    assert {o["asset_class"] for o in orders} == {"us_equity", "crypto", "us_option"}
    for order in orders:
        Order(**order)


def test_position_of_a_class_recon_does_not_know_is_listed_by_that_name(
    crypto: Simulator,
) -> None:
    crypto.broker.prices["BTC-PERP"] = D("61010")
    crypto.broker.seed_position("BTC-PERP", D("2"), D("60500"), asset_class="crypto_perp")
    listed: Any = client(crypto, raw_data=True).get_all_positions()
    perp = next(p for p in listed if p["symbol"] == "BTC-PERP")
    assert (perp["asset_class"], perp["qty"]) == ("crypto_perp", "2")


def test_a_crypto_short_cannot_be_seeded(crypto: Simulator) -> None:
    with pytest.raises(ValueError, match="no crypto short"):
        crypto.broker.seed_position("ETH/USD", D("-1"), D("3400"))


# Crypto orders -----------------------------------------------------------------------------


def test_crypto_order_sent_compact_is_held_and_listed_as_its_pair_with_its_class(
    crypto: Simulator,
) -> None:
    trading = client(crypto, raw_data=True)
    sent = crypto_stop_limit(0.5, 59000, 58500, symbol="BTCUSD", client_order_id="recon-btc-1")
    answer: Any = trading.submit_order(sent)
    assert (answer["symbol"], answer["asset_class"], answer["qty"]) == ("BTC/USD", "crypto", "0.5")
    by_pair: Any = trading.get_orders(
        GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=["BTC/USD"])
    )
    assert [o["client_order_id"] for o in by_pair] == ["recon-btc-1"]
    Order(**by_pair[0])


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            crypto_stop_limit(0.5, 59000, 58500, time_in_force=TimeInForce.DAY),
            "invalid time_in_force for crypto order",
        ),
        (
            StopOrderRequest(
                symbol="BTC/USD",
                qty=0.5,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.GTC,
                stop_price=59000,
            ),
            "invalid type for crypto order",
        ),
        (
            TrailingStopOrderRequest(
                symbol="BTC/USD",
                qty=0.5,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.GTC,
                trail_percent=2,
            ),
            "invalid type for crypto order",
        ),
        (
            LimitOrderRequest(
                symbol="BTC/USD",
                qty=0.5,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.GTC,
                order_class=OrderClass.OCO,
                take_profit=TakeProfitRequest(limit_price=65000),
                stop_loss=StopLossRequest(stop_price=59000),
            ),
            "invalid order_class for crypto order",
        ),
    ],
    ids=["day", "stop", "trailing_stop", "oco"],
)
def test_crypto_day_stop_trailing_stop_or_group_is_refused_422(
    crypto: Simulator, request_: Any, message: str
) -> None:
    assert rejection(lambda: client(crypto).submit_order(request_)) == (422, 42210000, message)


def test_crypto_gtc_stop_limit_for_a_fraction_is_accepted_and_ioc_too(crypto: Simulator) -> None:
    trading = client(crypto, raw_data=True)
    stop: Any = trading.submit_order(crypto_stop_limit(0.25, 59000, 58500))
    assert (stop["type"], stop["time_in_force"], stop["status"]) == ("stop_limit", "gtc", "new")
    ioc: Any = trading.submit_order(
        crypto_stop_limit(0.123456789, 59000, 58500, time_in_force=TimeInForce.IOC)
    )
    assert ioc["qty"] == "0.123456789"


@pytest.mark.parametrize(
    ("qty", "stop", "limit", "message"),
    [
        (0.00005, 59000, 58500, "qty 0.00005 must be at least min_order_size 0.0001 for BTC/USD"),
        (
            0.0001000001, 59000, 58500,
            "qty 0.0001000001 must be a multiple of min_trade_increment 0.000000001 for BTC/USD",
        ),
        (
            0.5, 59000.5, 58500,
            "stop_price 59000.5 must be a multiple of price_increment 1 for BTC/USD",
        ),
        (
            0.5, 59000, 58500.25,
            "limit_price 58500.25 must be a multiple of price_increment 1 for BTC/USD",
        ),
    ],
    ids=["below_min_order_size", "off_min_trade_increment", "stop_off_tick", "limit_off_tick"],
)  # fmt: skip
def test_crypto_qty_and_prices_keep_to_the_pairs_steps(
    crypto: Simulator, qty: float, stop: float, limit: float, message: str
) -> None:
    refused = rejection(lambda: client(crypto).submit_order(crypto_stop_limit(qty, stop, limit)))
    assert refused == (422, 42210000, message)


def test_unlisted_pair_keeps_to_the_default_steps(crypto: Simulator) -> None:
    crypto.broker.prices["DOGE/USD"] = D("0.42")
    crypto.broker.seed_position("DOGE/USD", D("100"), D("0.40"))
    trading = client(crypto)
    assert trading.submit_order(crypto_stop_limit(100, 0.38, 0.37, symbol="DOGEUSD")).qty == "100"
    assert rejection(
        lambda: trading.submit_order(crypto_stop_limit(0.00001, 0.38, 0.37, symbol="DOGE/USD"))
    )[2] == ("qty 0.00001 must be at least min_order_size 0.0001 for DOGE/USD")


def test_crypto_sell_beyond_the_coins_held_and_not_yet_sold_is_refused_403(
    crypto: Simulator,
) -> None:
    trading = client(crypto)
    trading.submit_order(crypto_stop_limit(0.3, 59000, 58500))
    assert rejection(lambda: trading.submit_order(crypto_stop_limit(0.25, 59000, 58500))) == (
        403,
        40310000,
        "insufficient balance for BTC (requested: 0.25, available: 0.2)",
    )
    never_held = crypto_stop_limit(0.01, 3400, 3390, symbol="ETH/USD")
    assert rejection(lambda: trading.submit_order(never_held)) == (
        403,
        40310000,
        "insufficient balance for ETH (requested: 0.01, available: 0)",
    )


def test_crypto_is_not_held_to_the_wash_trade_rule(crypto: Simulator) -> None:
    trading = client(crypto)
    trading.submit_order(
        LimitOrderRequest(
            symbol="BTC/USD", qty=0.1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
            limit_price=60000,
        )
    )  # fmt: skip
    assert trading.submit_order(crypto_stop_limit(0.5, 59000, 58500)).status.value == "new"


def test_crypto_stop_limit_triggers_at_its_stop_and_fills_within_its_limit(
    crypto: Simulator,
) -> None:
    trading = client(crypto, raw_data=True)
    within: Any = trading.submit_order(crypto_stop_limit(0.2, 59000, 58500))
    beyond: Any = trading.submit_order(crypto_stop_limit(0.3, 58000, 57900))
    crypto.broker.set_market_open(False)  # crypto trades round the clock
    crypto.broker.set_price("BTC/USD", D("58600"))
    assert trading.get_order_by_id(within["id"])["status"] == "filled"
    crypto.broker.set_price("BTC/USD", D("57000"))
    assert trading.get_order_by_id(beyond["id"])["status"] == "new"  # rests as a limit
    assert trading.get_open_position("BTCUSD")["qty"] == "0.3"


def test_crypto_market_order_fills_while_the_stock_market_is_shut(crypto: Simulator) -> None:
    crypto.broker.set_market_open(False)
    trading = client(crypto, raw_data=True)
    sold: Any = trading.submit_order(
        MarketOrderRequest(
            symbol="BTC/USD", qty=0.1, side=OrderSide.SELL, time_in_force=TimeInForce.GTC
        )
    )
    assert (sold["status"], sold["filled_avg_price"]) == ("filled", "61000")
    assert trading.get_open_position("BTCUSD")["qty"] == "0.4"


# Option orders -----------------------------------------------------------------------------


def test_option_stop_for_whole_contracts_day_or_gtc_is_accepted(options: Simulator) -> None:
    trading = client(options, raw_data=True)
    day: Any = trading.submit_order(option_stop(1, 3.90))
    gtc: Any = trading.submit_order(option_stop(2, 3.85, time_in_force=TimeInForce.GTC))
    assert [(o["asset_class"], o["time_in_force"]) for o in (day, gtc)] == [
        ("us_option", "day"),
        ("us_option", "gtc"),
    ]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (option_stop(1.5, 3.90), "qty must be a whole number of contracts"),
        (
            option_stop(1, 3.90, time_in_force=TimeInForce.IOC),
            "invalid time_in_force for option order",
        ),
        (
            option_stop(1, 3.92),
            "invalid stop_price 3.92. option prices at or above 3.00 must be in 0.05 increments",
        ),
        (
            option_stop(1, 1.955, symbol=PUT),
            "invalid stop_price 1.955. option prices below 3.00 must be in 0.01 increments",
        ),
        (
            TrailingStopOrderRequest(
                symbol=CALL,
                qty=1,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.DAY,
                trail_percent=5,
            ),
            "invalid type for option order",
        ),
        (
            LimitOrderRequest(
                symbol=CALL,
                qty=1,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.DAY,
                order_class=OrderClass.OCO,
                take_profit=TakeProfitRequest(limit_price=5.00),
                stop_loss=StopLossRequest(stop_price=3.90),
            ),
            "invalid order_class for option order",
        ),
    ],
    ids=["fraction", "ioc", "nickel_tick", "penny_tick", "trailing_stop", "oco"],
)
def test_option_order_off_its_rules_is_refused_422(
    options: Simulator, request_: Any, message: str
) -> None:
    options.broker.seed_position(PUT, D(2), D("2.20"))
    assert rejection(lambda: client(options).submit_order(request_)) == (422, 42210000, message)


def test_option_below_three_dollars_takes_a_penny_tick(options: Simulator) -> None:
    options.broker.seed_position(PUT, D(2), D("2.20"))
    assert client(options).submit_order(option_stop(2, 1.97, symbol=PUT)).stop_price == "1.97"


def test_option_stop_fills_at_the_contract_multiplier(options: Simulator) -> None:
    trading = client(options, raw_data=True)
    trading.submit_order(option_stop(3, 3.90))
    options.broker.set_price(CALL, D("3.80"))
    account: Any = trading.get_account()
    assert account["cash"] == str(D("100000") + 3 * D("3.80") * 100)
    assert rejection(lambda: trading.get_open_position(CALL))[0] == 404


def test_mleg_group_is_listed_nested_and_canceled_whole_never_by_a_leg(
    options: Simulator,
) -> None:
    parent, long_leg, short_leg = options.broker.seed_group(
        MLEG,
        parent={"type": "limit", "limit_price": D("1.20"), "qty": D(2),
                "time_in_force": "day", "status": "new"},
        legs=[
            {"symbol": PUT, "side": "buy", "position_intent": "buy_to_open"},
            {"symbol": CALL, "side": "sell", "ratio_qty": D(1),
             "position_intent": "sell_to_close"},
        ],
    )  # fmt: skip
    trading = client(options, raw_data=True)
    open_orders: Any = trading.get_orders(
        GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True)
    )
    [listed] = open_orders
    assert (listed["order_class"], listed["symbol"], listed["side"], listed["asset_class"]) == (
        "mleg",
        "",
        "",
        "",
    )
    assert [
        (leg["symbol"], leg["side"], leg["qty"], leg["ratio_qty"], leg["type"], leg["status"])
        for leg in listed["legs"]
    ] == [(PUT, "buy", "2", "1", "", "new"), (CALL, "sell", "2", "1", "", "new")]
    assert {leg["asset_class"] for leg in listed["legs"]} == {"us_option"}
    assert rejection(lambda: trading.cancel_order_by_id(short_leg.id)) == (
        422,
        42210000,
        "cannot cancel a leg of a multi-leg order",
    )
    trading.cancel_order_by_id(parent.id)
    assert {options.broker.orders[o.id].status for o in (parent, long_leg, short_leg)} == {
        "canceled"
    }


# Assets and option contracts ---------------------------------------------------------------


@pytest.mark.parametrize("asked_as", ["BTCUSD", "BTC/USD", "BTC%2FUSD"])
def test_crypto_asset_is_found_by_every_spelling_with_its_steps(
    crypto: Simulator, asked_as: str
) -> None:
    answer = raw_get(crypto, f"/v2/assets/{asked_as}")
    assert answer.status_code == 200
    asset = answer.json()
    assert (asset["class"], asset["exchange"], asset["symbol"], asset["status"]) == (
        "crypto",
        "CRYPTO",
        "BTC/USD",
        "active",
    )
    assert (asset["min_order_size"], asset["min_trade_increment"], asset["price_increment"]) == (
        "0.0001",
        "0.000000001",
        "1",
    )
    assert (asset["tradable"], asset["fractionable"], asset["marginable"], asset["shortable"]) == (
        True,
        True,
        False,
        False,
    )


def test_crypto_asset_reads_as_alpaca_py_model_and_by_id(crypto: Simulator) -> None:
    trading = client(crypto)
    eth = trading.get_asset("ETH/USD")
    assert isinstance(eth, Asset)
    assert (eth.symbol, eth.price_increment, eth.min_order_size) == ("ETH/USD", 0.1, 0.001)
    assert trading.get_asset(str(eth.id)) == eth
    sol: Any = client(crypto, raw_data=True).get_asset("SOLUSD")
    assert sol["price_increment"] == "0.01"


def test_equity_asset_has_no_steps_and_an_unknown_symbol_is_404(crypto: Simulator) -> None:
    crypto.broker.prices["AAPL"] = D("189.50")
    trading = client(crypto, raw_data=True)
    aapl: Any = trading.get_asset("AAPL")
    assert (aapl["class"], aapl["exchange"], aapl["fractionable"], aapl["shortable"]) == (
        "us_equity",
        "NASDAQ",
        True,
        True,
    )
    assert "price_increment" not in aapl
    Asset(**aapl)
    assert rejection(lambda: trading.get_asset("ZZZZ")) == (
        404,
        40410000,
        "asset not found for ZZZZ",
    )


def test_option_contract_is_read_from_its_occ_symbol(options: Simulator) -> None:
    trading = client(options, raw_data=True)
    contract: Any = trading.get_option_contract(CALL)
    assert {key: contract[key] for key in (
        "symbol", "status", "tradable", "expiration_date", "root_symbol", "underlying_symbol",
        "type", "style", "strike_price", "multiplier", "size", "close_price",
    )} == {
        "symbol": CALL, "status": "active", "tradable": True, "expiration_date": "2026-12-18",
        "root_symbol": "AAPL", "underlying_symbol": "AAPL", "type": "call", "style": "american",
        "strike_price": "200", "multiplier": "100", "size": "100", "close_price": "4.35",
    }  # fmt: skip
    assert contract["name"] == "AAPL Dec 18 2026 200 Call"
    assert trading.get_option_contract(contract["id"]) == contract
    model = client(options).get_option_contract(PUT)
    assert isinstance(model, OptionContract)
    assert (model.type.value, model.strike_price) == ("put", 190.0)


@pytest.mark.parametrize("symbol", ["AAPL", "BTCUSD", "AAPL261318C00200000", "not-an-option"])
def test_option_contract_of_no_option_is_404(options: Simulator, symbol: str) -> None:
    assert rejection(lambda: client(options).get_option_contract(symbol)) == (
        404,
        40410000,
        f"option contract {symbol} not found",
    )
