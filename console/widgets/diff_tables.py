"""Local | Broker, side by side: one row per match key so each reads across, a blank side where
there is no partner, differing cells highlighted; and the positions with their protection."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from console.views import ORDER_FIELDS, OrderLine, PositionLine
from engine.reconcile.diff import Match, Protection

DIFFERS = "bold black on #d7af00"
DIVIDER = "│"
MATCH_STYLES = {
    Match.MATCHED: "green",
    Match.DIVERGED: "yellow",
    Match.ORPHAN: "magenta",
    Match.MISSING_AT_BROKER: "cyan",
}
PROTECTION_STYLES = {
    Protection.UNPROTECTED: "bold white on #8b0000",
    Protection.STOP_PENDING: "bold black on #d7af00",
    Protection.PROTECTED: "bold black on #00875f",
}


class OrdersTable(DataTable[Text]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(
            "match",
            "symbol",
            *(f"local {name}" for name in ORDER_FIELDS),
            DIVIDER,
            *(f"broker {name}" for name in ORDER_FIELDS),
        )

    def show(self, lines: list[OrderLine]) -> None:
        self.clear()
        for line in lines:
            self.add_row(
                Text(str(line.match), style=MATCH_STYLES[line.match]),
                Text(line.symbol, style="bold"),
                *_cells(line.local, line.differing),
                Text(DIVIDER, style="dim"),
                *_cells(line.broker, line.differing),
                key=line.key,
            )


POSITION_COLUMNS = (
    ("match", "match"),
    ("symbol", "symbol"),
    ("local side", "local_side"),
    ("local qty", "local_qty"),
    (DIVIDER, "divider"),
    ("broker side", "broker_side"),
    ("broker qty", "broker_qty"),
    ("avg entry", "entry"),
    ("price", "price"),
    ("stops cover", "stops"),
    ("protection", "protection"),
)
ROW_STYLES = {
    Protection.UNPROTECTED: "red",
    Protection.STOP_PENDING: "yellow",
    Protection.PROTECTED: "green",
}


class PositionsTable(DataTable[Text]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self._lines: dict[str, PositionLine] = {}
        for label, key in POSITION_COLUMNS:
            self.add_column(label, key=key)

    def show(self, lines: list[PositionLine], protection: dict[str, Protection]) -> None:
        self.clear()
        self._lines = {line.symbol: line for line in lines}
        for line in lines:
            self.add_row(
                *_position_cells(line, protection.get(line.symbol, line.protection)),
                key=line.symbol,
            )

    def set_protection(self, symbol: str, status: Protection) -> None:
        """Recolour one row in place: a large book is not redrawn for every stop."""
        line = self._lines.get(symbol)
        if line is None:
            return  # filtered out of view
        for (_, key), cell in zip(POSITION_COLUMNS, _position_cells(line, status), strict=True):
            self.update_cell(symbol, key, cell)


def _position_cells(line: PositionLine, status: Protection) -> list[Text]:
    # The whole row carries its protection colour, so red reads from across the room.
    row_style = ROW_STYLES[status]
    local_side, local_qty = line.local
    broker_side, broker_qty, entry, price = line.broker
    return [
        Text(str(line.match), style=MATCH_STYLES[line.match]),
        Text(line.symbol, style=f"bold {row_style}"),
        _cell(local_side, "side" in line.differing, row_style),
        _cell(local_qty, "qty" in line.differing, row_style),
        Text(DIVIDER, style="dim"),
        _cell(broker_side, "side" in line.differing, row_style),
        _cell(broker_qty, "qty" in line.differing, row_style),
        Text(entry, style=row_style),
        Text(price, style=row_style),
        Text(line.stops, style=row_style),
        Text(f" {status} ", style=PROTECTION_STYLES[status]),
    ]


def _cells(values: tuple[str, ...], differing: frozenset[str]) -> list[Text]:
    return [
        _cell(value, name in differing, "")
        for name, value in zip(ORDER_FIELDS, values, strict=True)
    ]


def _cell(value: str, differs: bool, style: str) -> Text:
    return Text(value, style=DIFFERS if differs and value else style)
