"""The broker as reconciliation sees it: an async protocol any adapter (Alpaca, a test double of
the same shape) implements. Every method raises only `engine.broker.errors` types."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from engine.broker.rate_limit import RateQueueListener
from engine.domain import (
    Account,
    AssetClass,
    AssetTerms,
    BrokerOrder,
    BrokerPosition,
    MarketClock,
    NewOrder,
)

if TYPE_CHECKING:
    from engine.broker.trade_updates import TradeUpdates


class Broker(Protocol):
    async def get_account(self) -> Account: ...

    async def get_clock(self) -> MarketClock: ...

    async def get_positions(self) -> list[BrokerPosition]:
        """Every open position, each under the symbol its orders carry (a crypto pair's)."""
        ...

    async def get_position(self, symbol: str) -> BrokerPosition | None:
        """The open position in `symbol` as the broker holds it now, None when flat."""
        ...

    async def get_asset(self, symbol: str, asset_class: AssetClass) -> AssetTerms:
        """What the broker says shapes an order in a crypto pair or an option contract."""
        ...

    async def get_open_orders(self) -> list[BrokerOrder]: ...

    async def get_recent_orders(self, hours: int) -> list[BrokerOrder]:
        """Every order, in any status, submitted in the last `hours` hours: all pages."""
        ...

    async def get_order(self, broker_id: str) -> BrokerOrder: ...

    async def get_group_orders(self, symbol: str, until: datetime) -> list[BrokerOrder]:
        """Every order in `symbol` submitted before `until`, newest first (one page), each
        group's legs knowing their parent: how a leg listed flat finds its group."""
        ...

    async def find_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client_order_id, or None if the broker has never seen it."""
        ...

    async def submit_order(self, order: NewOrder) -> BrokerOrder:
        """Send once; never retried blindly. An unknown outcome raises `AmbiguousSubmit`."""
        ...

    async def replace_order(self, broker_id: str, order: NewOrder) -> BrokerOrder:
        """Replace an open order by one with `order`'s quantity and client_order_id; the answer
        is the new order. Never retried blindly, like a submission."""
        ...

    async def cancel_order(self, broker_id: str) -> None:
        """Ask the broker to cancel; a group's other members go with it. Cancelling takes
        effect when the broker reports the order canceled, not when it answers."""
        ...

    async def open_trade_updates(self) -> TradeUpdates:
        """The broker's live order stream, started; `StreamUnavailable` when it cannot be
        had, saying why."""
        ...

    def reporting_rate_queue(self, listener: RateQueueListener) -> AbstractContextManager[None]:
        """While inside, `listener` hears how many requests wait for the client-side rate
        limit, and when the last of them will go, each time that number changes."""
        ...

    async def close(self) -> None: ...
