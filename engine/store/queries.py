"""Bulk reads and the few writes reconciliation makes: one query per need whatever the book's
size, rows turned into domain objects (or a `CorruptRow` naming the row and column), and each
state change written together with its `order_event` row."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Row, Select, Text, insert, or_, select, type_coerce, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from engine.domain import (
    LARGEST_STORED_NUMBER,
    TERMINAL_STATES,
    LocalOrder,
    OrderEvent,
    OrderRole,
    OrderState,
    OrderType,
    PositionSide,
    Side,
    Trade,
    brief,
    implausible_number,
    implausible_time,
    quoted,
)
from engine.store.errors import ConcurrentChange, CorruptRow
from engine.store.models import Base, OrderEventRow, OrderStateRow, TradeRow
from engine.store.types import CorruptValue, format_utc, parse_decimal, parse_utc

E = TypeVar("E", bound=StrEnum)
V = TypeVar("V")
AnySelect = Select[*tuple[Any, ...]]
_O = OrderStateRow.__table__.c
_T = TradeRow.__table__.c
# SQLite allows 32766 bound parameters per statement; stay well inside it.
MAX_IDS_PER_QUERY = 10_000
# Columns are read as the text they are stored as, through one type: a type made for each
# column of each query would have its cache key worked out again every time.
STORED_TEXT = Text()
_TERMINAL_STATES = sorted(state.value for state in TERMINAL_STATES)
_FILLED_ENTRY_STATES = [OrderState.FILLED.value, OrderState.PARTIALLY_FILLED.value]
# An entry canceled or expired after a partial fill still holds the shares it bought.
_ENDED_ENTRY_STATES = [OrderState.CANCELED.value, OrderState.EXPIRED.value]
CREATED_EVENT = "created"
_INSERT_ORDER = insert(Base.metadata.tables[OrderStateRow.__tablename__])
_INSERT_EVENT = insert(Base.metadata.tables[OrderEventRow.__tablename__])
# How SQLite says a TEXT value is not UTF-8: the whole read fails, naming only the column.
_NOT_UTF8 = re.compile(r"Could not decode to UTF-8 column '(?P<column>[^']*)'")


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """What an order asks for, as the broker now holds it (a replacement may change them)."""

    qty_requested: Decimal
    stop_price: Decimal | None
    limit_price: Decimal | None

    def columns(self) -> dict[str, Decimal | None]:
        return {
            "qty_requested": self.qty_requested,
            "stop_price": self.stop_price,
            "limit_price": self.limit_price,
        }


async def load_open_orders(session: AsyncSession) -> list[LocalOrder]:
    """Every order the trading engine still considers working. Selected as "not terminal" so a
    row with a state nobody knows is read, and reported, rather than silently left out."""
    return await _orders(session, _select_orders().where(_O.state.not_in(_TERMINAL_STATES)))


async def load_orders_linked_to(
    session: AsyncSession, broker_ids: Iterable[str], client_order_ids: Iterable[str]
) -> list[LocalOrder]:
    """Rows in any state naming one of these broker orders."""
    broker_ids, client_order_ids = sorted(set(broker_ids)), sorted(set(client_order_ids))
    found: dict[str, LocalOrder] = {}
    for start in range(0, max(len(broker_ids), len(client_order_ids)), MAX_IDS_PER_QUERY):
        chunk = slice(start, start + MAX_IDS_PER_QUERY)
        query = _select_orders().where(
            or_(
                _O.broker_id.in_(broker_ids[chunk]),
                _O.client_order_id.in_(client_order_ids[chunk]),
            )
        )
        found.update((order.local_id, order) for order in await _orders(session, query))
    return list(found.values())


async def load_round_trips(session: AsyncSession, symbols: Iterable[str]) -> list[LocalOrder]:
    """Every row of each round trip whose entry may hold shares in one of these symbols — the
    entries (an entry canceled or expired after a partial fill included) and the stops and
    exits that share their correlation id."""
    entries = (
        select(_O.correlation_id)
        .where(_O.symbol.in_(sorted(set(symbols))))
        .where(_O.order_role == OrderRole.ENTRY.value)
        .where(_O.state.in_(_FILLED_ENTRY_STATES + _ENDED_ENTRY_STATES))
    )
    return await _orders(session, _select_orders().where(_O.correlation_id.in_(entries)))


async def load_trades_between(session: AsyncSession, start: datetime, end: datetime) -> list[Trade]:
    """Closed round trips with `exit_at` in [start, end), in exit order. The text range is
    widened to whole seconds, since `...00Z`, `...00.5Z` and `...00+00:00` do not sort as the
    times they name; the exact range and order are then applied to the parsed times."""
    exit_text = type_coerce(_T.exit_at, STORED_TEXT)
    query = (
        select(TradeRow.__table__)
        .where(exit_text >= _second_prefix(start))
        .where(exit_text < _second_prefix(end + timedelta(seconds=1)))
    )
    rows = await _rows(session, query, "trade")
    trades = [trade for trade in map(_trade, rows) if start <= trade.exit_at < end]
    return sorted(trades, key=lambda trade: (trade.exit_at, trade.trade_id))


async def load_symbol_history(
    session: AsyncSession, symbol: str, *, limit: int
) -> list[OrderEvent]:
    """The newest `limit` order_event rows of every order the engine keeps in `symbol`,
    newest first, in one query."""
    events = OrderEventRow.__table__
    query = (
        select(events)
        .join(OrderStateRow.__table__, _O.local_id == events.c.order_local_id)
        .where(_O.symbol == symbol)
        .order_by(events.c.id.desc())
        .limit(limit)
    )
    rows = await _rows(session, query, "order_event")
    return [_order_event(row) for row in rows]


@dataclass(frozen=True, slots=True)
class NewOrderRecord:
    """A new row and the event that says how it came to be (at `at`, else its `created_at`)."""

    order: LocalOrder
    event_type: str = CREATED_EVENT
    detail: str | None = None
    at: datetime | None = None


async def insert_order(
    session: AsyncSession,
    order: LocalOrder,
    *,
    event_type: str = CREATED_EVENT,
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    """A new row and its creation event (recorded at `at`, else the order's `created_at`), in
    the caller's transaction."""
    await insert_orders(session, [NewOrderRecord(order, event_type, detail, at)])


async def insert_orders(session: AsyncSession, records: Sequence[NewOrderRecord]) -> None:
    """New rows and their creation events in the caller's transaction: two statements for any
    number of rows, every row before any event. Core inserts built once: a run recording
    hundreds of stops would otherwise spend more building, coercing and keying each statement,
    and handing each to the database's thread, than the write itself costs."""
    await session.execute(_INSERT_ORDER, [_order_columns(record.order) for record in records])
    await session.execute(_INSERT_EVENT, [_creation_event(record) for record in records])


def _order_columns(order: LocalOrder) -> dict[str, Any]:
    return {
        "local_id": order.local_id,
        "broker_id": order.broker_id,
        "client_order_id": order.client_order_id,
        "correlation_id": order.correlation_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "order_type": order.order_type.value,
        "order_role": order.order_role.value,
        "strategy": order.strategy,
        "qty_requested": order.qty_requested,
        "qty_filled": order.qty_filled,
        "avg_fill_price": order.avg_fill_price,
        "stop_price": order.stop_price,
        "limit_price": order.limit_price,
        "state": order.state.value,
        "parent_id": order.parent_id,
        "last_error": order.last_error,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }


def _creation_event(record: NewOrderRecord) -> dict[str, Any]:
    order = record.order
    return {
        "order_local_id": order.local_id,
        "event_type": record.event_type,
        "old_state": None,
        "new_state": order.state.value,
        "qty_filled": order.qty_filled,
        "fill_price": order.avg_fill_price,
        "broker_id": order.broker_id,
        "detail": record.detail,
        "recorded_at": record.at or order.created_at,
    }


async def apply_state_change(
    session: AsyncSession,
    local_id: str,
    *,
    expected_state: OrderState,
    new_state: OrderState,
    broker_id: str | None,
    qty_filled: Decimal,
    avg_fill_price: Decimal | None,
    event_type: str,
    detail: str,
    at: datetime,
    terms: OrderTerms | None = None,
    last_error: str | None = None,
) -> None:
    """Update only if the row is still in `expected_state` — the trading engine may have moved
    it meanwhile, and then `ConcurrentChange` is raised and nothing is written — and append the
    event, both in the caller's transaction, which this never commits. `at` is the row's new
    `updated_at` and the event's `recorded_at`; `terms` and `last_error` change only if given."""
    changes: dict[str, object] = {
        "state": new_state.value,
        "broker_id": broker_id,
        "qty_filled": qty_filled,
        "avg_fill_price": avg_fill_price,
        "updated_at": at,
    }
    if terms is not None:
        changes.update(terms.columns())
    if last_error is not None:
        changes["last_error"] = last_error
    result = await session.execute(
        update(OrderStateRow)
        .where(OrderStateRow.local_id == local_id, OrderStateRow.state == expected_state.value)
        .values(changes)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        # Only on this rare path is the row read again, to say what it became.
        actual = await session.scalar(select(_O.state).where(_O.local_id == local_id))
        raise ConcurrentChange(local_id, expected_state.value, actual)
    await session.execute(
        _INSERT_EVENT,
        {
            "order_local_id": local_id,
            "event_type": event_type,
            "old_state": expected_state.value,
            "new_state": new_state.value,
            "qty_filled": qty_filled,
            "fill_price": avg_fill_price,
            "broker_id": broker_id,
            "detail": detail,
            "recorded_at": at,
        },
    )


async def insert_trade(session: AsyncSession, trade: Trade) -> None:
    session.add(
        TradeRow(
            trade_id=trade.trade_id,
            correlation_id=trade.correlation_id,
            symbol=trade.symbol,
            side=trade.side.value,
            qty=trade.qty,
            entry_price=trade.entry_price,
            exit_price=trade.exit_price,
            entry_at=trade.entry_at,
            exit_at=trade.exit_at,
            pnl=trade.pnl,
            pnl_pct=trade.pnl_pct,
            strategy=trade.strategy,
            duration_seconds=trade.duration_seconds,
            commission=trade.commission,
        )
    )
    await session.flush()


# Reading rows ---------------------------------------------------------------------------------
# Columns are read as plain text and converted here, so a corrupt value is reported with the
# row it sits in instead of failing somewhere inside the ORM.


def _second_prefix(moment: datetime) -> str:
    """`2026-11-24T15:31:00`: every stored form of a time within that second starts with it."""
    return format_utc(moment)[:19]


def _select_orders() -> AnySelect:
    return select(OrderStateRow.__table__).order_by(_O.id)


def _as_text(query: AnySelect) -> AnySelect:
    return query.with_only_columns(
        *(type_coerce(column, STORED_TEXT).label(column.name) for column in query.selected_columns),
        maintain_column_froms=True,
    )


async def _orders(session: AsyncSession, query: AnySelect) -> list[LocalOrder]:
    rows = await _rows(session, query, "order_state")
    return [_local_order(row) for row in rows]


async def _rows(session: AsyncSession, query: AnySelect, table: str) -> Sequence[Row[Any]]:
    """The query's rows, every column as stored; a TEXT value that is not UTF-8, which SQLite
    will not hand over at all, is a corrupt row like any other value that cannot be read."""
    try:
        return (await session.execute(_as_text(query))).all()
    except OperationalError as exc:
        not_utf8 = _NOT_UTF8.search(str(exc.orig))
        if not_utf8 is None:
            raise
        raise CorruptRow(table, "a row", not_utf8["column"], "is not UTF-8 text") from None


def _local_order(row: Row[Any]) -> LocalOrder:
    key = _row_key("local_id", row.local_id, row.id)
    reader = _Reader("order_state", key, row)
    return LocalOrder(
        local_id=reader.text("local_id"),
        broker_id=reader.optional_text("broker_id"),
        client_order_id=reader.optional_text("client_order_id"),
        correlation_id=reader.text("correlation_id"),
        symbol=reader.text("symbol"),
        side=reader.enum(Side, "side"),
        order_type=reader.enum(OrderType, "order_type"),
        order_role=reader.enum(OrderRole, "order_role"),
        strategy=reader.optional_text("strategy"),
        qty_requested=reader.decimal("qty_requested"),
        qty_filled=reader.decimal("qty_filled"),
        avg_fill_price=reader.optional_decimal("avg_fill_price"),
        stop_price=reader.optional_decimal("stop_price"),
        limit_price=reader.optional_decimal("limit_price"),
        state=reader.enum(OrderState, "state"),
        parent_id=reader.optional_text("parent_id"),
        last_error=reader.optional_text("last_error"),
        created_at=reader.timestamp("created_at"),
        updated_at=reader.timestamp("updated_at"),
    )


def _order_event(row: Row[Any]) -> OrderEvent:
    reader = _Reader("order_event", f"id {brief(str(row.id))}", row)
    return OrderEvent(
        order_local_id=reader.text("order_local_id"),
        event_type=reader.text("event_type"),
        old_state=None if row.old_state is None else reader.enum(OrderState, "old_state"),
        new_state=reader.enum(OrderState, "new_state"),
        qty_filled=reader.optional_decimal("qty_filled"),
        fill_price=reader.optional_decimal("fill_price"),
        broker_id=reader.optional_text("broker_id"),
        detail=reader.optional_text("detail"),
        recorded_at=reader.timestamp("recorded_at"),
    )


def _trade(row: Row[Any]) -> Trade:
    reader = _Reader("trade", _row_key("trade_id", row.trade_id, row.id), row)
    return Trade(
        trade_id=reader.text("trade_id"),
        correlation_id=reader.text("correlation_id"),
        symbol=reader.text("symbol"),
        side=reader.enum(PositionSide, "side"),
        qty=reader.decimal("qty"),
        entry_price=reader.decimal("entry_price"),
        exit_price=reader.decimal("exit_price"),
        entry_at=reader.timestamp("entry_at"),
        exit_at=reader.timestamp("exit_at"),
        pnl=reader.decimal("pnl"),
        pnl_pct=reader.decimal("pnl_pct"),
        strategy=reader.optional_text("strategy"),
        duration_seconds=reader.integer("duration_seconds"),
        commission=reader.decimal("commission"),
    )


def _row_key(name: str, value: object, row_id: object) -> str:
    """How an error names a row: by its key if it has one, else by its id."""
    if isinstance(value, str) and value:
        return f"{name} {brief(value)}"
    return f"id {brief(str(row_id))}, no {name}"


class _Reader:
    """One row's columns, read as stored and turned into what they promise; anything they
    cannot be, or that no real book holds (a date in year 1, a number of a million digits),
    is a `CorruptRow` naming the row and the column."""

    def __init__(self, table: str, key: str, row: Row[Any]) -> None:
        self._table, self._key, self._values = table, key, row._mapping

    def text(self, column: str) -> str:
        value = self._values[column]
        if not isinstance(value, str) or not value:
            raise self._corrupt(column, f"is {_quoted(value)}, expected text")
        return value

    def optional_text(self, column: str) -> str | None:
        value = self._values[column]
        if value is not None and not isinstance(value, str):  # a BLOB where text belongs
            raise self._corrupt(column, f"is {_quoted(value)}, expected text")
        return value

    def integer(self, column: str) -> int:
        value = self._values[column]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._corrupt(column, f"is {_quoted(value)}, expected a whole number")
        return value

    def decimal(self, column: str) -> Decimal:
        value = self.optional_decimal(column)
        if value is None:
            raise self._corrupt(column, "is empty, expected a number")
        return value

    def optional_decimal(self, column: str) -> Decimal | None:
        value = self._converted(column, parse_decimal)
        if value is None:
            return None
        problem = implausible_number(value, largest=LARGEST_STORED_NUMBER)
        if problem is not None:
            raise self._corrupt(column, f"is {_quoted(str(value))}, {problem}")
        return value

    def timestamp(self, column: str) -> datetime:
        value = self._converted(column, parse_utc)
        if value is None:
            raise self._corrupt(column, "is empty, expected a timestamp")
        problem = implausible_time(value)
        if problem is not None:
            raise self._corrupt(column, f"is {_quoted(self._values[column])}, {problem}")
        return value

    def enum(self, kind: type[E], column: str) -> E:
        value = self.text(column)
        try:
            return kind(value)
        except ValueError:
            raise self._corrupt(column, f"is {_quoted(value)}, not a known value") from None

    def _converted(self, column: str, convert: Callable[[str], V]) -> V | None:
        value = self._values[column]
        if value is None:
            return None
        if isinstance(value, bytes):  # a BLOB: its str() would read as text it never held
            raise self._corrupt(column, f"is {_quoted(value)}, expected text")
        try:
            return convert(str(value))
        except CorruptValue as exc:
            raise self._corrupt(column, str(exc)) from None

    def _corrupt(self, column: str, problem: str) -> CorruptRow:
        return CorruptRow(self._table, self._key, column, problem)


def _quoted(value: object) -> str:
    """A stored value as an error quotes it: short, whatever it is."""
    return quoted(value) if isinstance(value, str) else brief(repr(value))
