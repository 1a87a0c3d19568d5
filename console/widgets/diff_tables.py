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


class PositionsTable(DataTable[Text]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns(
            "match",
            "symbol",
            "local side",
            "local qty",
            DIVIDER,
            "broker side",
            "broker qty",
            "avg entry",
            "price",
            "stops cover",
            "protection",
        )

    def show(self, lines: list[PositionLine], protection: dict[str, Protection]) -> None:
        self.clear()
        for line in lines:
            status = protection.get(line.symbol, line.protection)
            # The whole row carries its protection colour, so red reads from across the room.
            row_style = {
                Protection.UNPROTECTED: "red",
                Protection.STOP_PENDING: "yellow",
                Protection.PROTECTED: "green",
            }[status]
            local_side, local_qty = line.local
            broker_side, broker_qty, entry, price = line.broker
            self.add_row(
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
                key=line.symbol,
            )


def _cells(values: tuple[str, ...], differing: frozenset[str]) -> list[Text]:
    return [
        _cell(value, name in differing, "")
        for name, value in zip(ORDER_FIELDS, values, strict=True)
    ]


def _cell(value: str, differs: bool, style: str) -> Text:
    return Text(value, style=DIFFERS if differs and value else style)
