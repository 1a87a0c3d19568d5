"""Local | Broker, side by side: one row per match key so each reads across, a blank side where
there is no partner, differing cells highlighted; and the positions with their protection."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from console.views import ORDER_FIELDS, OrderLine, PositionLine
from engine.reconcile.diff import Match, Protection

DIFFERS = "bold black on #d7af00"
DIVIDER = "│"
MATCH_STYLES = {
    Match.MATCHED: "green",
    Match.DIVERGED: "yellow",
    Match.ORPHAN: "magenta",
    Match.MISSING_AT_BROKER: "cyan",
    Match.GROUP_LEG: "green",
}
PROTECTION_STYLES = {
    Protection.UNPROTECTED: "bold white on #8b0000",
    Protection.STOP_PENDING: "bold black on #d7af00",
    Protection.PROTECTED: "bold black on #00875f",
}


Line = TypeVar("Line")

# Rows are added this many at a time, yielding between batches, so a 10,000-order book never
# holds the screen still for long while it is measured and drawn.
ROWS_PER_BATCH = 100
# (label, key): the section title and the divider say which side is which, so each side's
# headers are the bare field names and the broker's price fits on a 160-column screen.
ORDER_COLUMNS = (
    ("match", "match"),
    ("symbol", "symbol"),
    *((name, f"local {name}") for name in ORDER_FIELDS),
    (DIVIDER, DIVIDER),
    *((name, f"broker {name}") for name in ORDER_FIELDS),
)


class _KeyedTable(DataTable[Text], Generic[Line]):
    """A table whose rows are redrawn only where their line changed."""

    column_keys: tuple[str, ...] = ()

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self._drawn: dict[str, Line] = {}

    def cells(self, line: Line) -> list[Text]:
        raise NotImplementedError

    async def show_rows(self, rows: list[tuple[str, Line]]) -> None:
        if [key for key, _ in rows] == list(self._drawn):
            for n, (key, line) in enumerate(rows, start=1):
                if line != self._drawn[key]:
                    self._replace(key, line)
                if n % ROWS_PER_BATCH == 0:
                    await asyncio.sleep(0)
            return
        self.clear()
        self._drawn = {}
        for start in range(0, len(rows), ROWS_PER_BATCH):
            for key, line in rows[start : start + ROWS_PER_BATCH]:
                self.add_row(*self.cells(line), key=key)
                self._drawn[key] = line
            await asyncio.sleep(0)

    def _replace(self, key: str, line: Line) -> None:
        old_cells = self.cells(self._drawn[key])
        for column, old, new in zip(self.column_keys, old_cells, self.cells(line), strict=True):
            if old != new:
                # A cell may outgrow its column ("0 of 1,000" becoming "1,000 of 1,000"). Only
                # that is asked for: any narrower cell makes the table re-measure the column.
                shown = self.columns[ColumnKey(column)]
                wider = shown.auto_width and new.cell_len > shown.content_width
                self.update_cell(key, column, new, update_width=wider)
        self._drawn[key] = line


class OrdersTable(_KeyedTable[OrderLine]):
    column_keys = tuple(key for _, key in ORDER_COLUMNS)

    def on_mount(self) -> None:
        super().on_mount()
        self.zebra_stripes = True
        for label, key in ORDER_COLUMNS:
            self.add_column(label, key=key)

    async def show(self, lines: list[OrderLine]) -> None:
        await self.show_rows([(line.key, line) for line in lines])

    def cells(self, line: OrderLine) -> list[Text]:
        return _order_cells(line)


def _order_cells(line: OrderLine) -> list[Text]:
    return [
        Text(str(line.match), style=MATCH_STYLES[line.match]),
        Text(line.symbol, style="bold"),
        *_cells(line.local, line.differing),
        Text(DIVIDER, style="dim"),
        *_cells(line.broker, line.differing),
    ]


# Symbol, protection and cover lead, so that on a narrow screen what is bare is still read
# without scrolling sideways; the two sides follow.
POSITION_COLUMNS = (
    ("symbol", "symbol"),
    ("protection", "protection"),
    ("stops cover", "stops"),
    ("match", "match"),
    ("local side", "local_side"),
    ("local qty", "local_qty"),
    (DIVIDER, "divider"),
    ("broker side", "broker_side"),
    ("broker qty", "broker_qty"),
    ("avg entry", "entry"),
    ("price", "price"),
)
# The protection cell changes with every stop; at its widest from the start, the column never
# has to be measured again.
PROTECTION_WIDTH = max(len(f" {status} ") for status in Protection)
ROW_STYLES = {
    Protection.UNPROTECTED: "red",
    Protection.STOP_PENDING: "yellow",
    Protection.PROTECTED: "green",
}


class PositionsTable(_KeyedTable[tuple[PositionLine, Protection]]):
    column_keys = tuple(key for _, key in POSITION_COLUMNS)

    def on_mount(self) -> None:
        super().on_mount()
        for label, key in POSITION_COLUMNS:
            self.add_column(label, key=key, width=PROTECTION_WIDTH if key == "protection" else None)

    async def show(self, lines: list[PositionLine], protection: dict[str, Protection]) -> None:
        await self.show_rows(
            [(line.symbol, (line, protection.get(line.symbol, line.protection))) for line in lines]
        )

    def cells(self, line: tuple[PositionLine, Protection]) -> list[Text]:
        return _position_cells(*line)

    def set_protection(self, symbol: str, status: Protection) -> None:
        """Recolour one row in place: a large book is not redrawn for every stop."""
        drawn = self._drawn.get(symbol)
        if drawn is not None:  # else filtered out of view
            self._replace(symbol, (drawn[0], status))


def _position_cells(line: PositionLine, status: Protection) -> list[Text]:
    # The whole row carries its protection colour, so red reads from across the room.
    row_style = ROW_STYLES[status]
    local_side, local_qty = line.local
    broker_side, broker_qty, entry, price = line.broker
    return [
        Text(line.symbol, style=f"bold {row_style}"),
        Text(f" {status} ", style=PROTECTION_STYLES[status]),
        Text(line.stops, style=row_style),
        Text(str(line.match), style=MATCH_STYLES[line.match]),
        _cell(local_side, "side" in line.differing, row_style),
        _cell(local_qty, "qty" in line.differing, row_style),
        Text(DIVIDER, style="dim"),
        _cell(broker_side, "side" in line.differing, row_style),
        _cell(broker_qty, "qty" in line.differing, row_style),
        Text(entry, style=row_style),
        Text(price, style=row_style),
    ]


def _cells(values: tuple[str, ...], differing: frozenset[str]) -> list[Text]:
    return [
        _cell(value, name in differing, "")
        for name, value in zip(ORDER_FIELDS, values, strict=True)
    ]


def _cell(value: str, differs: bool, style: str) -> Text:
    return Text(value, style=DIFFERS if differs and value else style)
