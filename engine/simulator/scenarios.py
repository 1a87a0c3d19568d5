"""Named starting points for the simulator: the broker's book and the local rows a trading
engine would have left behind. `crashed_day` is the engine dying at 10:31 with every case of
SPEC §3 on the table; `protected_book` has every position covered, for the guard to keep so;
`mixed_assets` holds crypto and an option beside equities; the others each set one of the
broker's own rules (or an account that refuses orders) in recon's way. Each is built relative to
the simulator's clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from engine.domain import (
    LocalOrder,
    OrderRole,
    OrderState,
    OrderType,
    PositionSide,
    Side,
    Trade,
)
from engine.simulator.assets import CRYPTO, asset_class_of
from engine.simulator.book import SimulatedBroker
from engine.simulator.holdings import SimAccount
from engine.simulator.listing import GroupListing
from engine.simulator.orders import BRACKET, SimOrder

D = Decimal
# The moment the trading engine died in `crashed_day`: 10:31 in New York, the market open. Tests
# and snapshots run the simulator's clock here; `recon demo` and `recon sim` use the wall clock.
CRASH_TIME = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LocalBookSeed:
    """What the trading engine's database holds when the scenario begins."""

    orders: tuple[LocalOrder, ...] = ()
    trades: tuple[Trade, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named starting point: `seed` writes the broker's side into a fresh book, relative to
    the book's clock, and returns the rows the trading engine's database holds."""

    name: str
    description: str
    seed: Callable[[SimulatedBroker], LocalBookSeed]


class UnknownScenario(ValueError):
    pass


def load_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UnknownScenario(
            f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}"
        ) from None


load = load_scenario


def _empty(broker: SimulatedBroker) -> LocalBookSeed:
    return LocalBookSeed()


class _Day:
    """Builds one scenario: broker orders, positions and the matching local rows."""

    def __init__(self, broker: SimulatedBroker) -> None:
        self.broker = broker
        self.now = broker.now()
        self.local: list[LocalOrder] = []

    def ago(self, **delta: float) -> datetime:
        return self.now - timedelta(**delta)

    def position(self, symbol: str, qty: str, entry: str, price: str) -> None:
        self.broker.prices[symbol] = D(price)
        self.broker.seed_position(symbol, D(qty), D(entry))

    def crypto_position(self, pair: str, qty: str, entry: str, price: str) -> None:
        """A crypto holding under its pair (`BTC/USD`), as its orders and price name it; Alpaca
        lists the position itself as `BTCUSD`."""
        if asset_class_of(pair) != CRYPTO:
            raise ValueError(f"{pair} is not a crypto pair such as BTC/USD")
        self.position(pair, qty, entry, price)

    def price(self, symbol: str, price: str) -> None:
        self.broker.prices[symbol] = D(price)

    def broker_order(
        self,
        symbol: str,
        side: str,
        qty: str,
        type: str,
        status: str,
        *,
        at: datetime,
        stop: str | None = None,
        limit: str | None = None,
        filled: str | None = None,
        client_order_id: str | None = None,
        time_in_force: str = "gtc",
    ) -> SimOrder:
        fields: dict[str, object] = {
            "symbol": symbol,
            "side": side,
            "type": type,
            "qty": D(qty),
            "status": status,
            "time_in_force": time_in_force,
            "submitted_at": at,
            "stop_price": None if stop is None else D(stop),
            "limit_price": None if limit is None else D(limit),
        }
        if client_order_id is not None:
            fields["client_order_id"] = client_order_id
        if filled is not None:
            fields.update(filled_qty=D(qty), filled_avg_price=D(filled), filled_at=at)
        if status == "canceled":
            fields["canceled_at"] = at + timedelta(minutes=30)
        if status == "expired":
            fields["expired_at"] = at + timedelta(days=1)
        return self.broker.seed_order(**fields)

    def hand_bracket(
        self, symbol: str, qty: str, *, filled: str, take_profit: str, stop_loss: str, at: datetime
    ) -> None:
        """A GTC buy bracket placed by hand whose market entry filled: its take-profit works,
        its stop loss waits `held` for its trigger."""
        entry = D(qty)
        self.broker.seed_group(
            BRACKET,
            parent={
                "symbol": symbol, "side": "buy", "type": "market", "qty": entry,
                "status": "filled", "submitted_at": at, "filled_qty": entry,
                "filled_avg_price": D(filled), "filled_at": at,
            },
            legs=[
                {"type": "limit", "limit_price": D(take_profit), "status": "new"},
                {"type": "stop", "stop_price": D(stop_loss)},
            ],
        )  # fmt: skip

    def local_order(
        self,
        local_id: str,
        symbol: str,
        side: Side,
        role: OrderRole,
        order_type: OrderType,
        state: OrderState,
        qty: str,
        *,
        at: datetime,
        broker: SimOrder | None = None,
        client_order_id: str | None = None,
        filled: str | None = None,
        stop: str | None = None,
        limit: str | None = None,
    ) -> None:
        self.local.append(
            LocalOrder(
                local_id=local_id,
                broker_id=broker.id if broker else None,
                client_order_id=client_order_id or (broker.client_order_id if broker else None),
                correlation_id=f"trip-{symbol}-1",
                symbol=symbol,
                side=side,
                order_type=order_type,
                order_role=role,
                strategy="momentum",
                qty_requested=D(qty),
                qty_filled=D(qty) if filled else D(0),
                avg_fill_price=D(filled) if filled else None,
                stop_price=D(stop) if stop else None,
                limit_price=D(limit) if limit else None,
                state=state,
                parent_id=None,
                last_error=None,
                created_at=at,
                updated_at=at,
            )
        )

    def filled_entry(
        self, symbol: str, side: Side, qty: str, price: str, *, at: datetime
    ) -> SimOrder:
        order = self.broker_order(
            symbol, side.value, qty, "market", "filled", at=at, filled=price, time_in_force="day"
        )
        self.local_order(
            f"{symbol}-entry",
            symbol,
            side,
            OrderRole.ENTRY,
            OrderType.MARKET,
            OrderState.FILLED,
            qty,
            at=at,
            broker=order,
            filled=price,
        )
        return order

    def stop(
        self,
        symbol: str,
        side: Side,
        qty: str,
        stop: str,
        *,
        at: datetime,
        status: str = "new",
        local_state: OrderState = OrderState.ACCEPTED,
        time_in_force: str = "gtc",
        local_id: str | None = None,
    ) -> SimOrder:
        order = self.broker_order(
            symbol, side.value, qty, "stop", status, at=at, stop=stop, time_in_force=time_in_force
        )
        self.local_order(
            local_id or f"{symbol}-stop",
            symbol,
            side,
            OrderRole.STOP_LOSS,
            OrderType.STOP,
            local_state,
            qty,
            at=at,
            broker=order,
            stop=stop,
        )
        return order

    def working_entry(
        self, local_id: str, symbol: str, side: Side, qty: str, limit: str, *, at: datetime
    ) -> SimOrder:
        """An entry limit of the trading engine's, resting on the broker: `new` there, `accepted`
        locally."""
        order = self.broker_order(symbol, side.value, qty, "limit", "new", at=at, limit=limit)
        self.local_order(
            local_id, symbol, side, OrderRole.ENTRY, OrderType.LIMIT, OrderState.ACCEPTED, qty,
            at=at, broker=order, limit=limit,
        )  # fmt: skip
        return order


def _crashed_day(broker: SimulatedBroker) -> LocalBookSeed:
    day = _Day(broker)
    broker.account = SimAccount(
        account_number="PA3SIMRECON1", cash=D("61250.00"), last_equity=D("100000.00")
    )
    broker.market_open = True
    buy, sell = Side.BUY, Side.SELL

    # AAPL — already protected: local stop and broker stop agree. Nothing to do.
    day.position("AAPL", "100", "187.20", "189.50")
    day.filled_entry("AAPL", buy, "100", "187.20", at=day.ago(hours=3))
    day.stop("AAPL", sell, "100", "183.45", at=day.ago(hours=3, minutes=-1))

    # MSFT — the entry filled while the engine was down: local `submitted`, broker `filled`.
    day.position("MSFT", "50", "415.30", "417.10")
    msft = day.broker_order(
        "MSFT", "buy", "50", "market", "filled", at=day.ago(minutes=40), filled="415.30"
    )
    day.local_order(
        "MSFT-entry", "MSFT", buy, OrderRole.ENTRY, OrderType.MARKET, OrderState.SUBMITTED, "50",
        at=day.ago(minutes=40), broker=msft,
    )  # fmt: skip

    # NVDA — its stop was canceled on the broker; locally still `accepted`. Uncovered.
    day.position("NVDA", "80", "495.00", "502.40")
    day.filled_entry("NVDA", buy, "80", "495.00", at=day.ago(hours=2))
    day.stop("NVDA", sell, "80", "485.10", at=day.ago(hours=2), status="canceled")

    # TSLA — a short: needs a buy stop above the entry.
    day.position("TSLA", "-50", "251.10", "249.87")
    day.filled_entry("TSLA", sell, "50", "251.10", at=day.ago(hours=1, minutes=30))

    # AMD — 200 shares, a stop for only 120: top up 80, never cover twice.
    day.position("AMD", "200", "142.00", "143.20")
    day.filled_entry("AMD", buy, "200", "142.00", at=day.ago(hours=2, minutes=30))
    day.stop("AMD", sell, "120", "139.16", at=day.ago(hours=2, minutes=29))

    # META — someone placed a stop by hand on the broker: adopt it, don't replace it.
    day.position("META", "40", "580.00", "584.00")
    day.filled_entry("META", buy, "40", "580.00", at=day.ago(hours=4))
    day.broker_order(
        "META", "sell", "40", "stop", "new", at=day.ago(minutes=25), stop="568.00",
        client_order_id="web-meta-stop-by-hand",
    )  # fmt: skip

    # GOOGL — an open limit buy nobody here knows: an orphan to cancel, with the operator's yes.
    day.price("GOOGL", "171.30")
    day.broker_order(
        "GOOGL", "buy", "10", "limit", "new", at=day.ago(minutes=55), limit="165.00",
        client_order_id="mobile-googl-dip-buy",
    )  # fmt: skip

    # AMZN — the local stop's broker order was replaced; follow `replaced_by` to the successor.
    day.position("AMZN", "60", "205.00", "207.50")
    day.filled_entry("AMZN", buy, "60", "205.00", at=day.ago(hours=5))
    replaced = day.stop("AMZN", sell, "60", "200.90", at=day.ago(hours=5), status="replaced")
    successor = day.broker_order(
        "AMZN", "sell", "60", "stop", "new", at=day.ago(hours=1), stop="201.00"
    )
    replaced.replaced_by, replaced.replaced_at = successor.id, successor.submitted_at
    successor.replaces = replaced.id

    # NFLX — `pending_submit` that never left: the broker has no such client_order_id.
    day.price("NFLX", "880.00")
    day.local_order(
        "NFLX-entry", "NFLX", buy, OrderRole.ENTRY, OrderType.LIMIT, OrderState.PENDING_SUBMIT,
        "5", at=day.ago(minutes=2), client_order_id="eng-NFLX-entry-0001", limit="875.00",
    )  # fmt: skip

    # ORCL — `pending_submit` that did leave: the broker filled it; adopt by client_order_id.
    day.position("ORCL", "30", "172.00", "173.10")
    day.broker_order(
        "ORCL", "buy", "30", "market", "filled", at=day.ago(minutes=20), filled="172.00",
        client_order_id="eng-ORCL-entry-0001", time_in_force="day",
    )  # fmt: skip
    day.local_order(
        "ORCL-entry", "ORCL", buy, OrderRole.ENTRY, OrderType.MARKET, OrderState.PENDING_SUBMIT,
        "30", at=day.ago(minutes=20), client_order_id="eng-ORCL-entry-0001",
    )  # fmt: skip

    # SNDL — under a dollar: the stop's tick is $0.0001.
    day.position("SNDL", "1000", "0.8765", "0.8810")
    day.filled_entry("SNDL", buy, "1000", "0.8765", at=day.ago(hours=1))

    # SPY — 10.5 shares: a GTC stop for 10 and a DAY stop for the half share.
    day.position("SPY", "10.5", "598.00", "601.20")
    day.filled_entry("SPY", buy, "10.5", "598.00", at=day.ago(hours=3, minutes=30))

    # INTC — fell through its stop level: 2% under the entry is above the market; re-base.
    day.position("INTC", "100", "40.00", "38.50")
    day.filled_entry("INTC", buy, "100", "40.00", at=day.ago(hours=4, minutes=30))

    # COIN — a position the engine never recorded: a synthetic entry, and a stop.
    day.position("COIN", "30", "210.00", "214.00")

    # BTC/USD — 0.25 BTC the engine bought overnight, bare: crypto takes no plain stop, so a
    # GTC stop_limit for the exact quantity. Alpaca lists the position as BTCUSD.
    day.crypto_position("BTC/USD", "0.25", "60000", "61000")
    day.filled_entry("BTC/USD", buy, "0.25", "60000", at=day.ago(hours=6))

    # BA — a GTC limit from three days ago, expired since: older than the 24 h list, so it is
    # looked up on its own.
    day.price("BA", "176.40")
    old = day.broker_order(
        "BA", "buy", "20", "limit", "expired", at=day.ago(days=3), limit="160.00"
    )
    day.local_order(
        "BA-entry", "BA", buy, OrderRole.ENTRY, OrderType.LIMIT, OrderState.ACCEPTED, "20",
        at=day.ago(days=3), broker=old, limit="160.00",
    )  # fmt: skip

    # XOM — the broker has only just received this one (`pending_new`): transient, no change.
    day.price("XOM", "118.20")
    fresh = day.broker_order(
        "XOM", "buy", "25", "limit", "pending_new", at=day.ago(seconds=30), limit="117.50"
    )
    day.local_order(
        "XOM-entry", "XOM", buy, OrderRole.ENTRY, OrderType.LIMIT, OrderState.SUBMITTED, "25",
        at=day.ago(seconds=30), broker=fresh, limit="117.50",
    )  # fmt: skip

    return LocalBookSeed(orders=tuple(day.local), trades=_todays_trades(day))


def _todays_trades(day: _Day) -> tuple[Trade, ...]:
    """Three round trips closed this morning, the last two losses: not yet a pause."""
    trades = []
    for n, (symbol, entry, exit_price, qty, minutes_ago) in enumerate(
        (
            ("QQQ", "505.00", "507.40", "50", 50),
            ("PLTR", "41.20", "40.40", "100", 35),
            ("UBER", "78.90", "78.45", "100", 15),
        ),
        start=1,
    ):
        exit_at = day.ago(minutes=minutes_ago)
        pnl = (D(exit_price) - D(entry)) * D(qty)
        trades.append(
            Trade(
                trade_id=f"trade-{n:03d}",
                correlation_id=f"trip-{symbol}-0",
                symbol=symbol,
                side=PositionSide.LONG,
                qty=D(qty),
                entry_price=D(entry),
                exit_price=D(exit_price),
                entry_at=exit_at - timedelta(minutes=12),
                exit_at=exit_at,
                pnl=pnl,
                pnl_pct=(pnl / (D(entry) * D(qty))).quantize(D("0.0001")),
                strategy="momentum",
                duration_seconds=720,
                commission=D(0),
            )
        )
    return tuple(trades)


def _protected_book(broker: SimulatedBroker) -> LocalBookSeed:
    """Four longs and a short, each covered in full by the trading engine's working stops, 2%
    beyond the entry and recorded on both sides: nothing to do until something changes. SPY's
    half share has a DAY stop of its own, which the close expires."""
    day = _Day(broker)
    broker.market_open = True
    buy, sell = Side.BUY, Side.SELL
    for symbol, qty, entry, price, stop in (
        ("AAPL", "100", "187.20", "189.50", "183.45"),
        ("MSFT", "50", "415.30", "417.10", "406.99"),
        ("NVDA", "80", "495.00", "502.40", "485.10"),
    ):
        day.position(symbol, qty, entry, price)
        day.filled_entry(symbol, buy, qty, entry, at=day.ago(hours=2))
        day.stop(symbol, sell, qty, stop, at=day.ago(hours=2, minutes=-1))

    day.position("TSLA", "-50", "251.10", "249.87")
    day.filled_entry("TSLA", sell, "50", "251.10", at=day.ago(hours=1))
    day.stop("TSLA", buy, "50", "256.13", at=day.ago(hours=1, minutes=-1))

    day.position("SPY", "10.5", "598.00", "601.20")
    day.filled_entry("SPY", buy, "10.5", "598.00", at=day.ago(hours=3))
    day.stop("SPY", sell, "10", "586.04", at=day.ago(hours=3, minutes=-1))
    day.stop(
        "SPY", sell, "0.5", "586.04", at=day.ago(hours=3, minutes=-1), time_in_force="day",
        local_id="SPY-stop-fraction",
    )  # fmt: skip
    return LocalBookSeed(orders=tuple(day.local))


def protected_positions(count: int) -> Scenario:
    """`count` longs, P0001 onwards, each covered in full by a working stop of the trading
    engine's recorded on both sides: the guard's benchmark book, in which nothing needs doing."""

    def seed(broker: SimulatedBroker) -> LocalBookSeed:
        day = _Day(broker)
        broker.market_open = True
        for n in range(1, count + 1):
            symbol = f"P{n:04d}"
            day.position(symbol, "100", "100.00", "101.00")
            # A second apart, as real submissions are: the order list pages on these times.
            entered = day.ago(hours=2, seconds=-n)
            day.filled_entry(symbol, Side.BUY, "100", "100.00", at=entered)
            day.stop(symbol, Side.SELL, "100", "98.00", at=entered + timedelta(minutes=1))
        return LocalBookSeed(orders=tuple(day.local))

    return Scenario(
        f"{count}-protected", f"{count} long positions, each covered by the engine's stop", seed
    )


def _wash_trade(broker: SimulatedBroker) -> LocalBookSeed:
    """AAPL is held long with no stop anywhere, and the trading engine's own entry scales in
    with a resting buy limit: while that buy is open, Alpaca refuses recon's sell stop as a
    potential wash trade."""
    day = _Day(broker)
    broker.market_open = True
    day.position("AAPL", "100", "187.20", "189.50")
    day.filled_entry("AAPL", Side.BUY, "100", "187.20", at=day.ago(hours=2))
    day.working_entry("AAPL-entry-2", "AAPL", Side.BUY, "50", "185.00", at=day.ago(minutes=30))
    return LocalBookSeed(orders=tuple(day.local))


def _bracket_by_hand(broker: SimulatedBroker) -> LocalBookSeed:
    """NVDA was bought by hand through a bracket: the entry filled, its take-profit works and
    its stop loss is `held`. The trading engine knows nothing of it: no local rows at all."""
    day = _Day(broker)
    broker.market_open = True
    day.position("NVDA", "10", "495.00", "502.40")
    day.hand_bracket(
        "NVDA", "10", filled="495.00", take_profit="540.00", stop_loss="480.00",
        at=day.ago(hours=1),
    )  # fmt: skip
    return LocalBookSeed()


def _bracket_flat(broker: SimulatedBroker) -> LocalBookSeed:
    """`bracket_by_hand` four days on, listed as Alpaca has been seen to list a filled bracket:
    its take-profit and held stop loss each an open order of its own, naming no parent, and
    the entry older than the last 24 hours' orders."""
    return _bracket_listed(broker, GroupListing.FLAT)


def _bracket_held_hidden(broker: SimulatedBroker) -> LocalBookSeed:
    """As `bracket_flat`, but the open orders leave the held stop loss out altogether: it shows
    only among the closed orders, still `held`."""
    return _bracket_listed(broker, GroupListing.HELD_HIDDEN)


def _bracket_listed(broker: SimulatedBroker, listing: GroupListing) -> LocalBookSeed:
    day = _Day(broker)
    broker.market_open = True
    broker.group_listing = listing
    day.position("NVDA", "10", "495.00", "502.40")
    # Older than the last 24 hours of orders a client reads; from `CRASH_TIME`, a Tuesday, the
    # Friday before, when the market was open.
    day.hand_bracket(
        "NVDA", "10", filled="495.00", take_profit="540.00", stop_loss="480.00",
        at=day.ago(days=4),
    )  # fmt: skip
    return LocalBookSeed()


def _stop_falls_through(broker: SimulatedBroker) -> LocalBookSeed:
    """TSLA is held long below its entry with no stop anywhere, and the market falls through
    each new stop as it arrives: the first stop recon places fills at once, closing the shares
    it covers, before recon reads it back."""
    day = _Day(broker)
    broker.market_open = True
    broker.gap_through_new_stops = True
    day.position("TSLA", "100", "250.00", "240.00")
    day.filled_entry("TSLA", Side.BUY, "100", "250.00", at=day.ago(hours=2))
    return LocalBookSeed(orders=tuple(day.local))


def _take_profit_kept(broker: SimulatedBroker) -> LocalBookSeed:
    """MSFT's entry filled but no stop was placed, and someone put a take-profit sell limit on
    the broker by hand for every share: the shares are held, so a plain stop cannot go in."""
    day = _Day(broker)
    broker.market_open = True
    day.position("MSFT", "50", "415.30", "417.10")
    day.filled_entry("MSFT", Side.BUY, "50", "415.30", at=day.ago(hours=2))
    day.broker_order(
        "MSFT", "sell", "50", "limit", "new", at=day.ago(minutes=45), limit="440.00",
        client_order_id="web-msft-take-profit",
    )  # fmt: skip
    return LocalBookSeed(orders=tuple(day.local))


def _over_covered(broker: SimulatedBroker) -> LocalBookSeed:
    """AMD's entry filled 15 and the trading engine's stop covers 15, but 5 were sold by hand
    while the engine was down: the position is 10, and a triggered stop would sell 5 short."""
    day = _Day(broker)
    broker.market_open = True
    # Seeded directly: on Alpaca the stop holds all 15 shares, so the 5 would have left some
    # other way (a partial fill, a stop shrunk and restored); the book recon meets is the same.
    day.position("AMD", "10", "142.00", "143.20")
    day.filled_entry("AMD", Side.BUY, "15", "142.00", at=day.ago(hours=3))
    day.stop("AMD", Side.SELL, "15", "139.16", at=day.ago(hours=3, minutes=-1))
    day.broker_order(
        "AMD", "sell", "5", "market", "filled", at=day.ago(minutes=50), filled="143.00",
        client_order_id="web-amd-sell-by-hand", time_in_force="day",
    )  # fmt: skip
    return LocalBookSeed(orders=tuple(day.local))


def _mixed_assets(broker: SimulatedBroker) -> LocalBookSeed:
    """Equities, crypto and an option in one account. AAPL is covered by the trading engine's
    stop and MSFT's entry filled bare; 0.5 BTC/USD and 0.25 ETH/USD are held with no stop, and
    3 AAPL calls too. The engine wrote its BTC row under the compact `BTCUSD`, as Alpaca lists
    the position, not the `BTC/USD` its order carries; ETH was bought by hand, so has no row."""
    day = _Day(broker)
    broker.market_open = True
    buy = Side.BUY
    day.position("AAPL", "100", "187.20", "189.50")
    day.filled_entry("AAPL", buy, "100", "187.20", at=day.ago(hours=3))
    day.stop("AAPL", Side.SELL, "100", "183.45", at=day.ago(hours=3, minutes=-1))

    day.position("MSFT", "50", "415.30", "417.10")
    day.filled_entry("MSFT", buy, "50", "415.30", at=day.ago(hours=2))

    day.crypto_position("BTC/USD", "0.5", "60000", "61000")
    entered = day.ago(hours=5)
    day.broker_order(
        "BTC/USD", "buy", "0.5", "market", "filled", at=entered, filled="60000",
        client_order_id="eng-BTCUSD-entry-0001",
    )  # fmt: skip
    # Its crypto rows carry the engine's client order id and no broker id: the engine reads
    # its crypto fills back by the id it sent.
    day.local_order(
        "BTCUSD-entry", "BTCUSD", buy, OrderRole.ENTRY, OrderType.MARKET, OrderState.FILLED, "0.5",
        at=entered, client_order_id="eng-BTCUSD-entry-0001", filled="60000",
    )  # fmt: skip

    day.crypto_position("ETH/USD", "0.25", "3400.0", "3452.5")

    day.position("AAPL261218C00200000", "3", "4.10", "4.35")
    day.filled_entry("AAPL261218C00200000", buy, "3", "4.10", at=day.ago(hours=1))
    return LocalBookSeed(orders=tuple(day.local))


def _suspended_account(broker: SimulatedBroker) -> LocalBookSeed:
    """AAPL and MSFT held with no stop on an account whose owner has suspended its trading:
    Alpaca refuses every new order, so nothing can cover them until the suspension is lifted."""
    day = _Day(broker)
    broker.market_open = True
    broker.set_account_state(trade_suspended_by_user=True)
    for symbol, qty, entry, price in (
        ("AAPL", "100", "187.20", "189.50"),
        ("MSFT", "50", "415.30", "417.10"),
    ):
        day.position(symbol, qty, entry, price)
        day.filled_entry(symbol, Side.BUY, qty, entry, at=day.ago(hours=2))
    return LocalBookSeed(orders=tuple(day.local))


SCENARIOS: dict[str, Scenario] = {
    "empty": Scenario("empty", "an account with nothing in it", _empty),
    "crashed_day": Scenario(
        "crashed_day",
        "the trading engine died at 10:31 with positions open and every SPEC §3 case waiting",
        _crashed_day,
    ),
    "protected_book": Scenario(
        "protected_book",
        "every position covered by the trading engine's own stops, a DAY stop on SPY's half share",
        _protected_book,
    ),
    "wash_trade": Scenario(
        "wash_trade",
        "a long with no stop while the trading engine's buy limit rests: a stop is a wash trade",
        _wash_trade,
    ),
    "bracket_by_hand": Scenario(
        "bracket_by_hand",
        "a position opened by hand through a bracket: take-profit working, stop loss held",
        _bracket_by_hand,
    ),
    "bracket_flat": Scenario(
        "bracket_flat",
        "a filled hand bracket from days ago whose open legs are listed flat, naming no parent",
        _bracket_flat,
    ),
    "bracket_held_hidden": Scenario(
        "bracket_held_hidden",
        "as bracket_flat, and the held stop loss is missing from the open orders altogether",
        _bracket_held_hidden,
    ),
    "stop_falls_through": Scenario(
        "stop_falls_through",
        "a long with no stop whose market gaps through each new stop as it arrives: it fills",
        _stop_falls_through,
    ),
    "take_profit_kept": Scenario(
        "take_profit_kept",
        "a long with no stop whose every share a hand-placed take-profit limit holds",
        _take_profit_kept,
    ),
    "over_covered": Scenario(
        "over_covered",
        "shares sold by hand while the engine was down: its stop covers more than is held",
        _over_covered,
    ),
    "mixed_assets": Scenario(
        "mixed_assets",
        "equities beside bare crypto (BTC/USD, ETH/USD) and a bare option; BTC's local row BTCUSD",
        _mixed_assets,
    ),
    "suspended_account": Scenario(
        "suspended_account",
        "bare equities on an account whose owner suspended trading: every new order refused",
        _suspended_account,
    ),
}
