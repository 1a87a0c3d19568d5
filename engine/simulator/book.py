"""The simulated paper broker's state and what changes it, without HTTP: account, market,
positions and orders, submitted, replaced, canceled, expired, filled and triggered as Alpaca does
them, groups (bracket, OCO, multi-leg) included, after the checks in `rules`, for equities, crypto
pairs (traded round the clock) and options alike; the assets it answers for; and what a person
does to the account by hand, which no rule checks."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.simulator import assets, rules
from engine.simulator.assets import CRYPTO, US_OPTION, asset_class_of, listed_symbol, multiplier
from engine.simulator.holdings import SimAccount, SimPosition, account_wire, position_wire
from engine.simulator.listing import GroupListing, OrderQuery, list_wire, order_wire
from engine.simulator.order_request import OrderRequest, OrderTerms, ReplaceRequest
from engine.simulator.orders import (
    MLEG,
    OCO,
    SIMPLE,
    STOP_TYPES,
    SimOrder,
    awaits_entry,
    exit_members,
    group_members,
    wire_time,
)
from engine.simulator.rejections import invalid, not_found, unprocessable
from engine.simulator.session import NEW_YORK, session_edges

ID_NAMESPACE = uuid.UUID("5f1d8c3e-2b7a-4c55-9d0e-7a1b2c3d4e5f")
# What a hand order's client order id starts with: placed on the broker's web page.
BY_HAND_PREFIX = "web-"
# The orders a price reaching their stop triggers, and a market gapping through new stops fills:
# a trailing stop trails, it has no level.
TRIGGERED_TYPES = frozenset({"stop", "stop_limit"})


@dataclass
class SimulatedBroker:
    """Thread-safe: the HTTP server and the test that drives it may touch it at once."""

    now: Callable[[], datetime]
    id_seed: str = "recon-sim"
    account: SimAccount = field(default_factory=SimAccount)
    market_open: bool = True
    # A new order starts `pending_new` and reads `new` once this much time has passed; zero
    # accepts at once. Lets a console show STOP PENDING before the broker confirms.
    accept_delay: timedelta = timedelta(0)
    # How `GET /v2/orders` lists a group whose entry has filled: nested under it, as Alpaca
    # documents, or either way Alpaca has been seen to list it (see `GroupListing`).
    group_listing: GroupListing = GroupListing.NESTED
    # The market falls through every new stop as it arrives: while set, a simple stop or stop
    # limit submitted is answered `pending_new` (whatever `accept_delay` says), and by the next
    # read or change of the book its symbol's price has gapped one tick past the stop (below a
    # sell stop, above a buy stop), where it triggers and fills, closing the shares it covered;
    # the stream hears `new`, then `fill`. A stop a closed market cannot trigger waits for the
    # open. Orders already on the book when the flag is set are not gapped through, though a gap
    # triggers any stop it crosses, as a falling market would. Lets a test see a stop recon
    # placed fill before recon reads its answer back.
    gap_through_new_stops: bool = False
    prices: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, SimPosition] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    _by_client_id: dict[str, str] = field(default_factory=dict)
    _by_symbol: dict[str, list[SimOrder]] = field(default_factory=dict)
    _ids_issued: int = 0
    _stops_to_gap: list[str] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _listeners: list[Callable[[str, dict[str, Any]], None]] = field(default_factory=list)

    # Reading -------------------------------------------------------------------------------

    def account_wire(self) -> dict[str, Any]:
        with self._lock:
            self._accept_pending()
            return account_wire(
                self.account,
                list(self.positions.values()),
                self.prices,
                # Named, not counted: how often the account is read must not move order ids.
                account_id=str(uuid.uuid5(ID_NAMESPACE, f"{self.id_seed}:account")),
                today=self.now().astimezone(NEW_YORK).date(),
            )

    def clock_wire(self) -> dict[str, Any]:
        now = self.now()
        with self._lock:
            is_open = self.market_open
        next_open, next_close = session_edges(now, is_open)
        return {
            "timestamp": wire_time(now),
            "is_open": is_open,
            "next_open": wire_time(next_open),
            "next_close": wire_time(next_close),
        }

    def positions_wire(self) -> list[dict[str, Any]]:
        with self._lock:
            self._accept_pending()
            return [self._position_wire(p) for p in sorted(self.positions.values(), key=_symbol)]

    def position_wire(self, symbol: str) -> dict[str, Any]:
        """Asked for by the symbol it is listed under: a crypto position by `BTCUSD`, never by
        its pair (alpaca-py #537)."""
        with self._lock:
            self._accept_pending()
            position = self.positions.get(self._trading_symbol(symbol))
            if position is None or listed_symbol(position.symbol, position.asset_class) != symbol:
                raise not_found("position does not exist")
            return self._position_wire(position)

    def position_qty(self, symbol: str) -> Decimal:
        """Signed shares held: negative for a short, zero when flat. Never catches up on pending
        orders: the stream asks it from inside a fill."""
        with self._lock:
            position = self.positions.get(symbol)
            return Decimal(0) if position is None else position.qty

    def list_orders(self, query: OrderQuery) -> list[dict[str, Any]]:
        with self._lock:
            self._accept_pending()
            return list_wire(self.orders, query, self.group_listing)

    def get_order(self, order_id: str, *, nested: bool = False) -> dict[str, Any]:
        with self._lock:
            self._accept_pending()
            return order_wire(self._order(order_id), self.orders, nested=nested)

    def get_order_by_client_id(
        self, client_order_id: str, *, nested: bool = False
    ) -> dict[str, Any]:
        with self._lock:
            self._accept_pending()
            order_id = self._by_client_id.get(client_order_id)
            if order_id is None:
                raise not_found()
            return order_wire(self.orders[order_id], self.orders, nested=nested)

    def asset_wire(self, symbol_or_id: str) -> dict[str, Any]:
        """`GET /v2/assets/{symbol_or_id}` for an equity or crypto pair the book knows, a pair by
        `BTC/USD` or `BTCUSD` alike."""
        with self._lock:
            symbol = self._known_symbol(symbol_or_id)
            if symbol is None or asset_class_of(symbol) == US_OPTION:
                raise not_found(f"asset not found for {symbol_or_id}")
            return assets.asset_wire(symbol, self._asset_id(symbol))

    def option_contract_wire(self, symbol_or_id: str) -> dict[str, Any]:
        """`GET /v2/options/contracts/{symbol_or_id}`: any contract an OCC symbol names, or one
        the book knows by its id."""
        with self._lock:
            symbol = self._known_symbol(symbol_or_id) or symbol_or_id
            contract = assets.option_symbol(symbol)
            if contract is None:
                raise not_found(f"option contract {symbol_or_id} not found")
            return assets.option_contract_wire(
                contract,
                contract_id=self._asset_id(symbol),
                underlying_asset_id=self._asset_id(contract.root),
                close_price=self.prices.get(symbol),
                today=self.now().astimezone(NEW_YORK).date(),
            )

    # Trading -------------------------------------------------------------------------------

    def submit(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A simple order, or a bracket or OCO answered as Alpaca does: the parent, legs
        nested."""
        with self._lock:
            self._accept_pending()
            rules.check_account(self.account)
            request = OrderRequest.parse(body, quoted=self.prices)
            terms = request.terms
            client_order_id = self._unique_client_order_id(request.client_order_id)
            price = self._market_price(terms.symbol)
            position_qty = self.position_qty(terms.symbol)
            if request.order_class == SIMPLE:
                rules.check_terms(terms, price)
                rules.check_wash_trade(terms, self._orders_in(terms.symbol))
            else:
                rules.check_group(request, price, position_qty)
                rules.check_terms(terms, price)
            rules.check_available_qty(terms, terms.qty, position_qty, self._orders_in(terms.symbol))
            gapped = (
                self.gap_through_new_stops
                and request.order_class == SIMPLE
                and terms.type in TRIGGERED_TYPES
            )
            order = self._new_order(
                terms,
                client_order_id,
                order_class=request.order_class,
                status="pending_new" if gapped else None,
            )
            legs = self._new_legs(request, order)
            for member in (order, *legs):
                self._store(member)
            if gapped:
                self._stops_to_gap.append(order.id)
            trading = self._trading(order.symbol)
            if order.type == "market" and not trading:
                order.status = "accepted"  # fills when the market opens
            self._notify("pending_new" if order.status == "pending_new" else "new", order)
            if order.type == "market" and trading:
                self._fill(order, price)
            return order_wire(order, self.orders, nested=True)

    def replace(self, order_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Alpaca's PATCH: a new order on the changed terms takes the old one's place, in its
        group too; the old one reads `replaced`. Held shares are counted without the old one,
        and there is no wash-trade check: the side cannot change."""
        with self._lock:
            self._accept_pending()
            rules.check_account(self.account)
            old = self._order(order_id)
            request = ReplaceRequest.parse(body)
            rules.check_replaceable(old)
            terms = request.terms_for(old)
            rules.check_replacement_qty(old, terms.qty)
            client_order_id = self._unique_client_order_id(request.client_order_id)
            rules.check_terms(terms, self._market_price(old.symbol))
            rules.check_available_qty(
                terms,
                terms.qty - old.filled_qty,
                self.position_qty(old.symbol),
                self._orders_in(old.symbol),
                excluding_group=old.group_id,
            )
            now = self.now()
            trail_price, trail_percent = request.trail_for(old)
            new = dataclasses.replace(
                old,
                id=self._uuid("order"),
                client_order_id=client_order_id,
                qty=terms.qty,
                time_in_force=terms.time_in_force,
                stop_price=terms.stop_price,
                limit_price=terms.limit_price,
                trail_price=trail_price,
                trail_percent=trail_percent,
                # A held leg still waits on its sibling; a working order starts over as new.
                status="held" if old.status == "held" else self._accepted_status(),
                submitted_at=now,
                updated_at=now,
                replaces=old.id,
                leg_ids=list(old.leg_ids),
            )
            self._store(new)
            self._take_place_in_group(old, new)
            old.status = "replaced"
            old.replaced_by, old.replaced_at, old.updated_at = new.id, now, now
            self._notify("replaced", old)
            if new.status != "held":
                self._notify(new.status, new)
            return new.to_wire()

    def cancel(self, order_id: str) -> None:
        """A client's cancel, or someone's on the broker's web page: the book cannot tell them
        apart. Cancelling any member of a bracket or OCO cancels every open member of it; a
        multi-leg order is canceled through its parent only. An account that refuses orders
        still takes cancels."""
        with self._lock:
            self._accept_pending()
            rules.check_cancelable(self._order(order_id), self.orders)
            self._end_group(order_id, self._cancel_one)

    def cancel_all(self) -> list[dict[str, Any]]:
        with self._lock:
            self._accept_pending()
            results = []
            for order in [o for o in self.orders.values() if o.is_open]:
                self._cancel_one(order)
                results.append({"id": order.id, "status": 200, "body": order.to_wire()})
            return results

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move the market; stops it crosses trigger and fill at the new price, a group's held
        stop leg too once nothing but its trigger holds it back. A stop limit it crosses fills
        only at a price its limit takes (a sell's at or above it); otherwise it rests as a limit,
        which fills as the simulator's limits do: never, unless a later price crosses its stop
        again within its limit. A crypto pair trades while the stock market is shut."""
        with self._lock:
            symbol = self._trading_symbol(symbol)
            self.prices[symbol] = price
            if not self._trading(symbol):
                return
            for order in list(self.orders.values()):
                if (
                    order.symbol != symbol
                    or not order.is_open  # a sibling's fill may have canceled it just now
                    or order.type not in TRIGGERED_TYPES
                    or awaits_entry(order, self.orders)
                ):
                    continue
                stop = order.stop_price or Decimal(0)
                limit = order.limit_price
                if order.side == "sell":
                    triggered = price <= stop and (limit is None or price >= limit)
                else:
                    triggered = price >= stop and (limit is None or price <= limit)
                if triggered:
                    self._fill(order, price)

    def expire(self, order_id: str) -> None:
        """The order reaches the end of its time in force. The members of its bracket or OCO
        share that time in force, so they expire with it."""
        with self._lock:
            self._end_group(order_id, self._expire_one)

    def set_market_open(self, is_open: bool) -> None:
        """Open or close the market. At the close every open DAY order expires, as Alpaca's do;
        on opening, market orders accepted meanwhile fill."""
        with self._lock:
            closing = self.market_open and not is_open
            self.market_open = is_open
            if closing:
                for order in self.orders.values():
                    if order.is_open and order.time_in_force == "day":
                        self._expire_one(order)
            if not is_open:
                return
            for order in list(self.orders.values()):
                price = self.prices.get(order.symbol)
                if order.type == "market" and order.status == "accepted" and price is not None:
                    self._fill(order, price)

    # By hand (tests) -----------------------------------------------------------------------

    def fill_by_hand(
        self, symbol: str, side: str, qty: Decimal, price: Decimal | None = None
    ) -> dict[str, Any]:
        """Someone buys or sells at market on the broker's web page, and it fills at once: at
        `price`, or else at the current price. A symbol with no price needs one, and takes it
        as its price. This is the test's hand, not a client's request: it bypasses every rule
        of the broker's (wash trades, held shares, fractions, the market's hours) and any accept
        delay. The stream hears `new`, then `fill`."""
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be buy or sell, not {side!r}")
        with self._lock:
            symbol = self._trading_symbol(symbol)
            fill_price = price if price is not None else self.prices.get(symbol)
            if fill_price is None:
                raise ValueError(f"{symbol} has no price yet: give the price it filled at")
            crypto = asset_class_of(symbol) == CRYPTO
            if crypto and side == "sell":
                _no_crypto_short(symbol, self.position_qty(symbol) - qty)
            self.prices.setdefault(symbol, fill_price)
            # A crypto order is never a DAY order, even one placed by hand.
            time_in_force = "gtc" if crypto else "day"
            terms = OrderTerms(symbol, side, "market", qty, time_in_force=time_in_force)
            order = self._new_order(terms, BY_HAND_PREFIX + self._uuid("client"), status="new")
            self._store(order)
            self._notify("new", order)
            self._fill(order, fill_price)
            return order.to_wire()

    # Seeding (scenarios and tests) ---------------------------------------------------------

    def seed_position(
        self,
        symbol: str,
        qty: Decimal,
        avg_entry_price: Decimal,
        *,
        asset_class: str | None = None,
    ) -> None:
        """A position, of the class its symbol names (`BTC/USD` crypto, an OCC symbol an option)
        unless told another, one recon does not know included. Alpaca holds no crypto short:
        seeding one is a ValueError."""
        with self._lock:
            symbol = self._trading_symbol(symbol)
            asset_class = asset_class or asset_class_of(symbol)
            if asset_class == CRYPTO:
                _no_crypto_short(symbol, qty)
            self.positions[symbol] = SimPosition(
                symbol, qty, avg_entry_price, self._asset_id(symbol), asset_class
            )

    def seed_order(self, **fields: Any) -> SimOrder:
        """Place an order in any state, however odd — unknown statuses included — as a broker
        could hold it after events recon did not see. A crypto pair's compact symbol is held as
        the pair, as Alpaca lists every crypto order."""
        with self._lock:
            submitted_at = fields.pop("submitted_at", None) or self.now()
            fields["symbol"] = self._trading_symbol(fields["symbol"])
            fields.setdefault("updated_at", submitted_at)
            fields.setdefault("id", self._uuid("order"))
            fields.setdefault("client_order_id", self._uuid("client"))
            fields.setdefault("time_in_force", "gtc")
            fields.setdefault("status", "new")
            fields.setdefault("asset_id", self._asset_id(fields["symbol"]))
            fields.setdefault("asset_class", asset_class_of(fields["symbol"]))
            order = SimOrder(submitted_at=submitted_at, **fields)
            self._store(order)
            return order

    def seed_group(
        self, order_class: str, *, parent: Mapping[str, Any], legs: Sequence[Mapping[str, Any]]
    ) -> tuple[SimOrder, ...]:
        """Place a bracket, OCO or OTO in any state: the parent, then its legs in order (each
        `held`, on the closing side, for the parent's symbol, qty and time in force, unless
        told otherwise). Returns the parent followed by its legs.

        A multi-leg (`mleg`) group as Alpaca prints one: its parent names no symbol, side or
        asset; each leg names its own contract and side (both required) and is typeless, with
        `ratio_qty` (one unless told) times the parent's qty, in the parent's status unless told
        otherwise."""
        with self._lock:
            if order_class == MLEG:
                parent = {"symbol": "", "side": "", "asset_id": "", "asset_class": "", **parent}
            head = self.seed_order(**{**parent, "order_class": order_class})
            leg_side = head.side if order_class == OCO else rules.opposite(head.side)
            members = [head]
            for leg in legs:
                defaults: dict[str, Any] = {
                    "time_in_force": head.time_in_force,
                    "submitted_at": head.submitted_at,
                }
                if order_class == MLEG:
                    ratio = leg.get("ratio_qty", Decimal(1))
                    defaults.update(
                        type="", qty=head.qty * ratio, ratio_qty=ratio, status=head.status
                    )
                else:
                    defaults.update(symbol=head.symbol, side=leg_side, qty=head.qty, status="held")
                fields = {**defaults, **leg, "order_class": order_class, "parent_id": head.id}
                members.append(self.seed_order(**fields))
            head.leg_ids = [member.id for member in members[1:]]
            return tuple(members)

    def set_account_state(
        self,
        *,
        status: str | None = None,
        trading_blocked: bool | None = None,
        account_blocked: bool | None = None,
        trade_suspended_by_user: bool | None = None,
    ) -> None:
        """Change whether the account takes orders, the flags given and no others: Alpaca's
        compliance, or its owner, blocking or suspending it while recon runs."""
        with self._lock:
            account = self.account
            if status is not None:
                account.status = status
            if trading_blocked is not None:
                account.trading_blocked = trading_blocked
            if account_blocked is not None:
                account.account_blocked = account_blocked
            if trade_suspended_by_user is not None:
                account.trade_suspended_by_user = trade_suspended_by_user

    def subscribe(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        """Hear every order event (`new`, `fill`, `canceled`, `expired`, `replaced`) as the trade
        stream reports it. Listeners run under the book's lock on whichever thread changed it: hand
        off, never block."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        with self._lock:
            self._listeners.remove(listener)

    # Internals -----------------------------------------------------------------------------

    def _new_order(
        self,
        terms: OrderTerms,
        client_order_id: str,
        *,
        order_class: str = SIMPLE,
        parent_id: str | None = None,
        status: str | None = None,
    ) -> SimOrder:
        now = self.now()
        return SimOrder(
            id=self._uuid("order"),
            client_order_id=client_order_id,
            symbol=terms.symbol,
            side=terms.side,
            type=terms.type,
            time_in_force=terms.time_in_force,
            qty=terms.qty,
            status=status or self._accepted_status(),
            submitted_at=now,
            updated_at=now,
            stop_price=terms.stop_price,
            limit_price=terms.limit_price,
            asset_id=self._asset_id(terms.symbol),
            asset_class=asset_class_of(terms.symbol),
            order_class=order_class,
            parent_id=parent_id,
        )

    def _new_legs(self, request: OrderRequest, parent: SimOrder) -> list[SimOrder]:
        """A bracket's take-profit and stop loss, or an OCO's stop loss (its parent is the
        take-profit): `held`, each with a client order id of its own."""
        if request.take_profit is None or request.stop_loss is None:
            return []
        side = parent.side if request.order_class == OCO else rules.opposite(parent.side)
        unpriced = dataclasses.replace(request.terms, side=side, stop_price=None, limit_price=None)
        exits = [
            dataclasses.replace(
                unpriced,
                type=request.stop_loss.type,
                stop_price=request.stop_loss.stop_price,
                limit_price=request.stop_loss.limit_price,
            )
        ]
        if request.order_class != OCO:  # an OCO's take-profit is its parent
            exits.insert(
                0, dataclasses.replace(unpriced, type="limit", limit_price=request.take_profit)
            )
        legs = [
            self._new_order(
                terms,
                self._uuid("client"),
                order_class=request.order_class,
                parent_id=parent.id,
                status="held",
            )
            for terms in exits
        ]
        parent.leg_ids = [leg.id for leg in legs]
        return legs

    def _take_place_in_group(self, old: SimOrder, new: SimOrder) -> None:
        if old.parent_id is not None:
            parent = self.orders[old.parent_id]
            parent.leg_ids[parent.leg_ids.index(old.id)] = new.id
        for leg_id in old.leg_ids:
            self.orders[leg_id].parent_id = new.id
        old.leg_ids = []  # the replacement leads the group now

    def _after_fill(self, order: SimOrder) -> None:
        """A filled exit cancels its open sibling exits; a filled bracket entry sets its
        take-profit working, while its stop loss stays `held` until triggered."""
        if order.order_class == SIMPLE:
            return
        exits = exit_members(order, self.orders)
        if any(member.id == order.id for member in exits):
            for sibling in exits:
                if sibling.is_open:
                    self._cancel_one(sibling)
            return
        for leg in exits:
            if leg.status == "held" and leg.type not in STOP_TYPES:
                leg.status, leg.updated_at = "new", self.now()
                self._notify("new", leg)

    def _end_group(self, order_id: str, end: Callable[[SimOrder], None]) -> None:
        """End an open order and every open member of its group, one by one."""
        order = self._order(order_id)
        if not order.is_open:
            raise unprocessable(f'order is already in "{order.status}" state')
        for member in group_members(order, self.orders):
            if member.is_open:
                end(member)

    def _cancel_one(self, order: SimOrder) -> None:
        order.status = "canceled"
        order.canceled_at = order.updated_at = self.now()
        self._notify("canceled", order)

    def _expire_one(self, order: SimOrder) -> None:
        order.status = "expired"
        order.expired_at = order.updated_at = self.now()
        self._notify("expired", order)

    def _unique_client_order_id(self, given: str | None) -> str:
        client_order_id = given or self._uuid("client")
        if client_order_id in self._by_client_id:
            raise invalid("client_order_id must be unique")
        return client_order_id

    def _market_price(self, symbol: str) -> Decimal:
        price = self.prices.get(symbol)
        if price is None:
            raise unprocessable(f"asset {symbol} is not tradable here")
        return price

    def _accepted_status(self) -> str:
        return "pending_new" if self.accept_delay else "new"

    def _fill(self, order: SimOrder, price: Decimal) -> None:
        now = self.now()
        qty = order.remaining_qty
        order.filled_qty = order.qty
        order.filled_avg_price = price
        order.status = "filled"
        order.filled_at = order.updated_at = now
        signed = qty if order.side == "buy" else -qty
        self.account.cash -= signed * price * multiplier(order.asset_class)
        self._move_position(order.symbol, signed, price)
        self._notify("fill", order)
        self._after_fill(order)

    def _move_position(self, symbol: str, signed: Decimal, price: Decimal) -> None:
        position = self.positions.get(symbol)
        if position is None:
            self.positions[symbol] = SimPosition(
                symbol, signed, price, self._asset_id(symbol), asset_class_of(symbol)
            )
            return
        new_qty = position.qty + signed
        if new_qty == 0:
            del self.positions[symbol]
            return
        if (position.qty > 0) == (signed > 0):  # adding to the position
            position.avg_entry_price = (
                position.avg_entry_price * abs(position.qty) + price * abs(signed)
            ) / abs(new_qty)
        elif (position.qty > 0) != (new_qty > 0):  # crossed through zero
            position.avg_entry_price = price
        position.qty = new_qty

    def _accept_pending(self) -> None:
        """Catch up before a read or a change: stops the market gaps through fill, and orders
        pending longer than `accept_delay` read `new`."""
        self._gap_through_stops()
        if not self.accept_delay:
            return
        due = self.now() - self.accept_delay
        for order in self.orders.values():
            if order.status == "pending_new" and order.submitted_at <= due:
                order.status = "new"
                order.updated_at = order.submitted_at + self.accept_delay
                self._notify("new", order)

    def _gap_through_stops(self) -> None:
        """The market falls one tick past each stop waiting to be gapped, oldest first: every
        stop the new price crosses fills at it, and the gapped stop (a stop limit too) with
        them."""
        if not self.market_open:
            return  # nothing triggers until the open; the stops wait
        while self._stops_to_gap:
            order = self.orders[self._stops_to_gap.pop(0)]
            if not order.is_open or order.stop_price is None:
                continue  # canceled while the market was shut, or filled by an earlier gap
            step = rules.tick(order.stop_price)
            gapped = order.stop_price - step if order.side == "sell" else order.stop_price + step
            if order.status == "pending_new":
                order.status, order.updated_at = "new", self.now()
                self._notify("new", order)
            self.set_price(order.symbol, gapped)
            if order.is_open:  # set_price fills plain stops only
                self._fill(order, gapped)

    def _store(self, order: SimOrder) -> None:
        self.orders[order.id] = order
        self._by_client_id[order.client_order_id] = order.id
        self._by_symbol.setdefault(order.symbol, []).append(order)

    def _orders_in(self, symbol: str) -> list[SimOrder]:
        """The orders the book holds in `symbol`, found without a walk through every order: a
        check each submission makes would otherwise read the whole book, and a thousand stops
        would cost the broker a million reads. An order no longer in `orders` (a test may clear
        them) is not among them."""
        listed = self._by_symbol.get(symbol, ())
        return [order for order in listed if self.orders.get(order.id) is order]

    def _order(self, order_id: str) -> SimOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise not_found()
        return order

    def _position_wire(self, position: SimPosition) -> dict[str, Any]:
        closing_side = "sell" if position.qty > 0 else "buy"
        held = rules.held_qty(self._orders_in(position.symbol), position.symbol, closing_side)
        price = self.prices.get(position.symbol, position.avg_entry_price)
        return position_wire(position, price, held)

    def _notify(self, event: str, order: SimOrder) -> None:
        for listener in list(self._listeners):
            listener(event, order.to_wire())

    def _uuid(self, kind: str) -> str:
        self._ids_issued += 1
        return str(uuid.uuid5(ID_NAMESPACE, f"{self.id_seed}:{kind}:{self._ids_issued}"))

    def _asset_id(self, symbol: str) -> str:
        return str(uuid.uuid5(ID_NAMESPACE, f"asset:{symbol}"))

    def _trading_symbol(self, symbol: str) -> str:
        """The symbol the book holds `symbol` under: a crypto pair's for its compact spelling."""
        if symbol in self.prices or symbol in self.positions:
            return symbol
        return assets.trading_symbol(symbol, [*self.prices, *self.positions])

    def _known_symbol(self, symbol_or_id: str) -> str | None:
        """The symbol of an asset the book knows (listed in the crypto table, priced, held or
        ordered) by any of its spellings or by its id; None for one it does not."""
        known = {*assets.CRYPTO_PAIRS, *self.prices, *self.positions}
        known.update(order.symbol for order in self.orders.values() if order.symbol)
        symbol = self._trading_symbol(symbol_or_id)
        if symbol in known:
            return symbol
        return next((s for s in known if self._asset_id(s) == symbol_or_id), None)

    def _trading(self, symbol: str) -> bool:
        """Whether `symbol` trades now: a crypto pair always does, the rest while the market is
        open."""
        return self.market_open or asset_class_of(symbol) == CRYPTO


def _no_crypto_short(symbol: str, qty: Decimal) -> None:
    if qty < 0:
        raise ValueError(f"Alpaca holds no crypto short: {symbol} cannot go to {qty}")


def _symbol(position: SimPosition) -> str:
    return position.symbol
