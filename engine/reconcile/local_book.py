"""The local rows a reconciliation reads, over the store: each need one query, each in a short
read transaction of its own."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.domain import LocalOrder, Trade
from engine.store import queries, typed_store_errors


class StoreLocalBook:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def open_orders(self) -> list[LocalOrder]:
        async with typed_store_errors("read the open local orders"), self._sessions() as session:
            return await queries.load_open_orders(session)

    async def orders_linked_to(
        self, broker_ids: Iterable[str], client_order_ids: Iterable[str]
    ) -> list[LocalOrder]:
        async with typed_store_errors("read the local orders"), self._sessions() as session:
            return await queries.load_orders_linked_to(session, broker_ids, client_order_ids)

    async def round_trips_in(self, symbols: Iterable[str]) -> list[LocalOrder]:
        async with typed_store_errors("read the local round trips"), self._sessions() as session:
            return await queries.load_round_trips(session, symbols)

    async def trades_between(self, start: datetime, end: datetime) -> list[Trade]:
        async with typed_store_errors("read today's trades"), self._sessions() as session:
            return await queries.load_trades_between(session, start, end)
