"""What the simulated broker trades, told apart by symbol as Alpaca tells them apart — US
equities, crypto pairs with their table of order steps, OCC option contracts — and the JSON
Alpaca prints for an asset and for an option contract."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

US_EQUITY = "us_equity"
CRYPTO = "crypto"
US_OPTION = "us_option"
PAIR_SEPARATOR = "/"
# Root (1–6 capitals), expiry YYMMDD, C or P, strike in thousandths of a dollar (8 digits).
OCC_SYMBOL = re.compile(r"^([A-Z]{1,6})(\d{6})([CP])(\d{8})$")
OCC_STRIKE_SCALE = Decimal(1000)
OPTION_MULTIPLIER = Decimal(100)
EQUITY_EXCHANGE = "NASDAQ"
CRYPTO_EXCHANGE = "CRYPTO"
# Alpaca's own margin requirements, in percent: crypto is never bought on margin.
EQUITY_MARGIN_REQUIREMENT = 30
CRYPTO_MARGIN_REQUIREMENT = 100


@dataclass(frozen=True, slots=True)
class CryptoPair:
    """A crypto pair as Alpaca's asset names it: orders are for a multiple of
    `min_trade_increment`, at least `min_order_size`, priced in multiples of `price_increment`."""

    symbol: str
    name: str
    min_order_size: Decimal
    min_trade_increment: Decimal
    price_increment: Decimal

    @property
    def base(self) -> str:
        """The coin bought or sold: `BTC` of `BTC/USD`."""
        return self.symbol.split(PAIR_SEPARATOR)[0]


CRYPTO_PAIRS = {
    pair.symbol: pair
    for pair in (
        CryptoPair(
            "BTC/USD", "Bitcoin / US Dollar", Decimal("0.0001"), Decimal("0.000000001"), Decimal(1)
        ),
        CryptoPair(
            "ETH/USD",
            "Ethereum / US Dollar",
            Decimal("0.001"),
            Decimal("0.000000001"),
            Decimal("0.1"),
        ),
        CryptoPair(
            "SOL/USD",
            "Solana / US Dollar",
            Decimal("0.01"),
            Decimal("0.000000001"),
            Decimal("0.01"),
        ),
    )
}
# The steps of a pair the table does not list.
DEFAULT_MIN_ORDER_SIZE = Decimal("0.0001")
DEFAULT_MIN_TRADE_INCREMENT = Decimal("0.000000001")
DEFAULT_PRICE_INCREMENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OptionSymbol:
    """An OCC option symbol read into the contract it names."""

    symbol: str
    root: str
    expiration_date: date
    type: str  # call or put
    strike_price: Decimal


def asset_class_of(symbol: str) -> str:
    """A pair (`BTC/USD`) is crypto, an OCC symbol an option, anything else an equity."""
    if PAIR_SEPARATOR in symbol:
        return CRYPTO
    if OCC_SYMBOL.match(symbol):
        return US_OPTION
    return US_EQUITY


def compact(symbol: str) -> str:
    """A pair as Alpaca lists its position: `BTCUSD`."""
    return symbol.replace(PAIR_SEPARATOR, "")


def trading_symbol(symbol: str, quoted: Collection[str] = ()) -> str:
    """The symbol orders and prices go under: the pair, for a pair's legacy compact spelling
    (`BTCUSD`), which Alpaca still takes, if the pair is in the table or among `quoted`; any
    other symbol as given. A compact spelling of a pair nobody knows reads as an equity's."""
    if PAIR_SEPARATOR in symbol or not symbol or symbol in quoted:
        return symbol
    for pair in (*CRYPTO_PAIRS, *quoted):
        if PAIR_SEPARATOR in pair and compact(pair) == symbol:
            return pair
    return symbol


def crypto_pair(symbol: str) -> CryptoPair:
    """The pair's steps from the table, or the defaults for a pair it does not list."""
    listed = CRYPTO_PAIRS.get(symbol)
    if listed is not None:
        return listed
    return CryptoPair(
        symbol,
        symbol.replace(PAIR_SEPARATOR, " / "),
        DEFAULT_MIN_ORDER_SIZE,
        DEFAULT_MIN_TRADE_INCREMENT,
        DEFAULT_PRICE_INCREMENT,
    )


def option_symbol(symbol: str) -> OptionSymbol | None:
    """The contract an OCC symbol names; None for anything else, a date that is none included."""
    match = OCC_SYMBOL.match(symbol)
    if match is None:
        return None
    root, expiry, right, strike = match.groups()
    try:
        expiration = date(2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:]))
    except ValueError:
        return None
    return OptionSymbol(
        symbol=symbol,
        root=root,
        expiration_date=expiration,
        type="call" if right == "C" else "put",
        strike_price=Decimal(int(strike)) / OCC_STRIKE_SCALE,
    )


def multiplier(asset_class: str) -> Decimal:
    """What one unit of the quantity moves: an option contract is 100 shares' worth."""
    return OPTION_MULTIPLIER if asset_class == US_OPTION else Decimal(1)


def listed_symbol(symbol: str, asset_class: str) -> str:
    """The symbol Alpaca lists a position under: a crypto pair's compact spelling."""
    return compact(symbol) if asset_class == CRYPTO else symbol


def exchange(asset_class: str) -> str:
    """Where Alpaca says a position trades; options and classes it does not name, nowhere."""
    return {US_EQUITY: EQUITY_EXCHANGE, CRYPTO: CRYPTO_EXCHANGE}.get(asset_class, "")


def asset_wire(symbol: str, asset_id: str) -> dict[str, Any]:
    """`GET /v2/assets/{symbol}` for an equity or a crypto pair."""
    if asset_class_of(symbol) == CRYPTO:
        pair = crypto_pair(symbol)
        return {
            "id": asset_id,
            "class": CRYPTO,
            "exchange": CRYPTO_EXCHANGE,
            "symbol": pair.symbol,
            "name": pair.name,
            "status": "active",
            "tradable": True,
            "marginable": False,
            "maintenance_margin_requirement": CRYPTO_MARGIN_REQUIREMENT,
            "shortable": False,
            "easy_to_borrow": False,
            "fractionable": True,
            "attributes": [],
            # Written out in full, as Alpaca writes them: never `1E-9`.
            "min_order_size": f"{pair.min_order_size:f}",
            "min_trade_increment": f"{pair.min_trade_increment:f}",
            "price_increment": f"{pair.price_increment:f}",
        }
    return {
        "id": asset_id,
        "class": US_EQUITY,
        "exchange": EQUITY_EXCHANGE,
        "symbol": symbol,
        "name": f"{symbol} Common Stock",
        "status": "active",
        "tradable": True,
        "marginable": True,
        "maintenance_margin_requirement": EQUITY_MARGIN_REQUIREMENT,
        "shortable": True,
        "easy_to_borrow": True,
        "fractionable": True,
        "attributes": [],
    }


def option_contract_wire(
    contract: OptionSymbol,
    *,
    contract_id: str,
    underlying_asset_id: str,
    close_price: Decimal | None,
    today: date,
) -> dict[str, Any]:
    """`GET /v2/options/contracts/{symbol}`: the contract its symbol names, closing at
    `close_price` today when it has a price."""
    expiry = contract.expiration_date
    return {
        "id": contract_id,
        "symbol": contract.symbol,
        "name": (
            f"{contract.root} {expiry:%b} {expiry.day} {expiry.year} "
            f"{contract.strike_price} {contract.type.title()}"
        ),
        "status": "active",
        "tradable": True,
        "expiration_date": expiry.isoformat(),
        "root_symbol": contract.root,
        "underlying_symbol": contract.root,
        "underlying_asset_id": underlying_asset_id,
        "type": contract.type,
        "style": "american",
        "strike_price": str(contract.strike_price),
        "multiplier": str(OPTION_MULTIPLIER),
        "size": str(OPTION_MULTIPLIER),
        # The simulator keeps no open interest.
        "open_interest": None,
        "open_interest_date": None,
        "close_price": None if close_price is None else str(close_price),
        "close_price_date": None if close_price is None else today.isoformat(),
    }
