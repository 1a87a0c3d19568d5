"""The trading vocabulary shared by store, broker and reconciliation: states, roles, sides and
frozen value objects, with Decimal for every price and quantity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

# What no real book holds, refused where the broker's answers and the trading engine's rows are
# read. Within these bounds no date arithmetic recon does can leave datetime's range and no
# Decimal arithmetic can overflow its context, so neither ever surfaces as a traceback.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9000, 1, 1, tzinfo=UTC)
LARGEST_NUMBER = Decimal("1e18")
# The trading engine's rows keep any number exactly as written, however large (what is
# plausible is the validation's to say), but one this large could overflow even a sum of them.
LARGEST_STORED_NUMBER = Decimal("1e1000")
# How much of an unreadable value an error quotes: enough to recognise it, never a wall of text.
QUOTED_CHARACTERS = 40


def brief(text: str) -> str:
    """Text read from outside as an error names it (an id, a symbol): on one line, cut short."""
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= QUOTED_CHARACTERS else f"{text[:QUOTED_CHARACTERS]}…"


def quoted(text: str) -> str:
    """A value read from outside as an error quotes it: in quotes, on one line, cut short."""
    return repr(text[:QUOTED_CHARACTERS]) + ("…" if len(text) > QUOTED_CHARACTERS else "")


def implausible_time(moment: datetime) -> str | None:
    """Why an aware time cannot be a real book's, or None if it can."""
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        return f"outside {EARLIEST_TIME:%Y} to {LATEST_TIME:%Y}"
    return None


def implausible_number(number: Decimal, *, largest: Decimal = LARGEST_NUMBER) -> str | None:
    """Why a Decimal cannot be a real book's price, quantity or amount, or None if it can."""
    if not number.is_finite():
        return "not a finite number"
    # copy_abs, not abs(): it needs no context, so it cannot overflow on the very number
    # being checked.
    if number.copy_abs() >= largest:
        return f"beyond {largest:E} in size"
    return None


class OrderState(StrEnum):
    """The local life cycle of an order, as the trading engine records it."""

    PENDING_SUBMIT = "pending_submit"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    SUBMIT_FAILED = "submit_failed"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {
        OrderState.FILLED,
        OrderState.CANCELED,
        OrderState.EXPIRED,
        OrderState.REJECTED,
        OrderState.SUBMIT_FAILED,
    }
)


class OrderRole(StrEnum):
    ENTRY = "entry"
    STOP_LOSS = "stop_loss"
    EXIT_MARKET = "exit_market"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def closing_side(self) -> Side:
        """The order side that reduces this position: sell a long, buy back a short."""
        return Side.SELL if self is PositionSide.LONG else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class OrderClass(StrEnum):
    """How an order relates to others: alone, or one leg of a group the broker links — cancelling
    one leg cancels the group, and its exit legs hold the position's shares once."""

    SIMPLE = "simple"
    BRACKET = "bracket"  # an entry with a take-profit leg and a stop-loss leg
    OCO = "oco"  # an exit: a take-profit limit (the parent) and its stop-loss leg
    OTO = "oto"  # an entry with one exit leg
    MLEG = "mleg"  # multi-leg options

    @property
    def is_group(self) -> bool:
        return self is not OrderClass.SIMPLE


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    OPG = "opg"
    CLS = "cls"
    IOC = "ioc"
    FOK = "fok"


class BrokerOrderStatus(StrEnum):
    """Every status Alpaca reports for an order (all 18 of them)."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    PENDING_REVIEW = "pending_review"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    STOPPED = "stopped"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    CALCULATED = "calculated"
    HELD = "held"


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order as the broker reports it."""

    id: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    qty: Decimal
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    stop_price: Decimal | None
    limit_price: Decimal | None
    status: BrokerOrderStatus
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime
    replaced_by: str | None = None
    replaces: str | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    # The group's parent order id, the same on every member of a bracket, OCO or OTO and on the
    # parent itself; None for a simple order.
    group_id: str | None = None
    # The group's legs, when the broker answered them nested under this parent (a submission's
    # answer); order lists carry legs as orders of their own instead.
    legs: tuple[BrokerOrder, ...] = ()

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    def describe(self) -> str:
        """The order as an operator reads it: `sell stop 100 AAPL @ 183.45`."""
        price = self.stop_price or self.limit_price
        shown = f"{self.side} {self.order_type} {self.qty} {self.symbol}"
        return f"{shown} @ {price}" if price is not None else shown


class AssetClass(StrEnum):
    """The asset classes Alpaca trades, as it names them: each takes different orders."""

    US_EQUITY = "us_equity"
    CRYPTO = "crypto"
    US_OPTION = "us_option"


def compact_symbol(symbol: str) -> str:
    """A crypto pair as Alpaca lists its position (`BTCUSD` for `BTC/USD`), and as an id or a
    URL path carries it; any other symbol as it is."""
    return symbol.replace("/", "")


class OptionRight(StrEnum):
    CALL = "call"
    PUT = "put"


# An OCC option symbol: the root, the expiry as YYMMDD, C or P, and the strike in thousandths.
_OCC_SYMBOL = re.compile(r"^(?P<root>[A-Z]{1,6})(?P<expiry>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")


@dataclass(frozen=True, slots=True)
class OptionContract:
    """What an option's OCC symbol says: its underlying, expiry, strike and right."""

    underlying: str
    expiry: date
    strike: Decimal
    right: OptionRight

    @classmethod
    def from_symbol(cls, symbol: str) -> OptionContract | None:
        """The contract an OCC symbol names (`AAPL261218C00200000`), or None if it names none."""
        match = _OCC_SYMBOL.match(symbol)
        if match is None:
            return None
        digits = match["expiry"]
        try:
            expiry = date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:]))
        except ValueError:  # a month or day no calendar has
            return None
        return cls(
            underlying=match["root"],
            expiry=expiry,
            strike=Decimal(match["strike"]) / 1000,
            right=OptionRight.CALL if match["right"] == "C" else OptionRight.PUT,
        )

    def describe(self) -> str:
        """As an operator reads it: `AAPL 2026-12-18 200 call`."""
        return f"{self.underlying} {self.expiry:%Y-%m-%d} {self.strike.normalize():f} {self.right}"


@dataclass(frozen=True, slots=True)
class AssetTerms:
    """What the broker says about an asset that shapes an order in it: the price and quantity
    steps it takes (None where the class's own rule applies: equities' and options' ticks), the
    smallest order, and how many units one contract of it moves."""

    symbol: str
    asset_class: AssetClass
    price_increment: Decimal | None = None
    qty_increment: Decimal | None = None
    min_order_qty: Decimal | None = None
    multiplier: Decimal = Decimal(1)
    contract: OptionContract | None = None


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """An open position as the broker reports it: `qty` always positive, `side` says which way.
    A crypto position's symbol is its pair (`BTC/USD`), as its orders name it."""

    symbol: str
    side: PositionSide
    qty: Decimal
    qty_available: Decimal
    avg_entry_price: Decimal
    current_price: Decimal
    # As Alpaca names it: a class recon does not know is kept by its name, to be reported.
    asset_class: str = AssetClass.US_EQUITY

    @property
    def known_asset_class(self) -> AssetClass | None:
        try:
            return AssetClass(self.asset_class)
        except ValueError:
            return None

    def instrument(self) -> str:
        """What is held, as an operator reads it: `AAPL`, `BTC/USD crypto`, or an option's
        contract (`AAPL 2026-12-18 200 call`)."""
        if self.asset_class == AssetClass.US_EQUITY:
            return self.symbol
        if self.asset_class == AssetClass.US_OPTION:
            contract = OptionContract.from_symbol(self.symbol)
            return self.symbol if contract is None else contract.describe()
        return f"{self.symbol} {self.asset_class}"


# Alpaca numbers its paper accounts `PA…`; its live accounts never so.
PAPER_ACCOUNT_PREFIX = "PA"


# The one account status in which Alpaca takes orders.
ACTIVE_ACCOUNT_STATUS = "ACTIVE"


@dataclass(frozen=True, slots=True)
class Account:
    account_number: str
    status: str
    currency: str
    equity: Decimal
    last_equity: Decimal
    cash: Decimal
    buying_power: Decimal
    trading_blocked: bool = False
    account_blocked: bool = False
    trade_suspended_by_user: bool = False

    @property
    def order_refusal(self) -> str | None:
        """Why Alpaca refuses every new order on this account, naming the flag that says so,
        or None while it takes orders."""
        if self.status != ACTIVE_ACCOUNT_STATUS:
            return f"status {brief(self.status)} (not {ACTIVE_ACCOUNT_STATUS})"
        if self.account_blocked:
            return "account_blocked (the account is blocked)"
        if self.trading_blocked:
            return "trading_blocked (trading is blocked on the account)"
        if self.trade_suspended_by_user:
            return "trade_suspended_by_user (the owner has switched trading off)"
        return None

    @property
    def is_paper(self) -> bool:
        """Paper only where the account Alpaca answers with says so, whatever host answered (a
        live account reached through a tunnel or a proxy on this machine is still live);
        anything else is live, so the live account's safeguards apply when in doubt."""
        return self.account_number.startswith(PAPER_ACCOUNT_PREFIX)


@dataclass(frozen=True, slots=True)
class MarketClock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order recon asks the broker to place. `client_order_id` is always ours and deterministic,
    so an ambiguous submission can be looked up before anything is sent again. An OCO exit is a
    limit (its take-profit, `limit_price`) whose stop-loss leg triggers at `stop_price`."""

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    stop_price: Decimal | None = None
    limit_price: Decimal | None = None
    order_class: OrderClass = OrderClass.SIMPLE
    asset_class: AssetClass = AssetClass.US_EQUITY


@dataclass(frozen=True, slots=True)
class LocalOrder:
    """One `order_state` row: an order the trading engine knows."""

    local_id: str
    broker_id: str | None
    client_order_id: str | None
    correlation_id: str
    symbol: str
    side: Side
    order_type: OrderType
    order_role: OrderRole
    strategy: str | None
    qty_requested: Decimal
    qty_filled: Decimal
    avg_fill_price: Decimal | None
    stop_price: Decimal | None
    limit_price: Decimal | None
    state: OrderState
    parent_id: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One `order_event` row: an append-only record of a state change."""

    order_local_id: str
    event_type: str
    old_state: OrderState | None
    new_state: OrderState
    qty_filled: Decimal | None
    fill_price: Decimal | None
    broker_id: str | None
    detail: str | None
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Trade:
    """One `trade` row: a closed round trip, read to rebuild the circuit breaker."""

    trade_id: str
    correlation_id: str
    symbol: str
    side: PositionSide
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    entry_at: datetime
    exit_at: datetime
    pnl: Decimal
    pnl_pct: Decimal
    strategy: str | None
    duration_seconds: int
    commission: Decimal
