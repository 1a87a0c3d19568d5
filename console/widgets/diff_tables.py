"""Local | Broker, side by side: one row per match key so each reads across, a blank side where
there is no partner, differing cells highlighted; and the positions with their protection.

Where the side by side does not fit the screen, each pair folds to one line: the broker's value
where the sides agree (the broker is the truth), `local›broker` highlighted where they differ."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple, TypeVar

from console.views import ORDER_FIELDS, OrderLine, PositionLine
from console.widgets.book_table import BookTable, Column
from engine.reconcile.diff import Match, Protection

DIFFERS = "bold black on #d7af00"
DIVIDER = "│"
BETWEEN = "›"  # local›broker, in a folded cell whose sides differ
MATCH_STYLES = {
    Match.MATCHED: "green",
    Match.DIVERGED: "yellow",
    Match.ORPHAN: "magenta",
    Match.MISSING_AT_BROKER: "cyan",
    Match.GROUP_LEG: "green",
}
# A compact row's match, whole words only.
MATCH_SHORT = {
    Match.MATCHED: "ok",
    Match.DIVERGED: "differs",
    Match.ORPHAN: "orphan",
    Match.MISSING_AT_BROKER: "missing",
    Match.GROUP_LEG: "leg",
}
PROTECTION_STYLES = {
    Protection.UNPROTECTED: "bold white on #8b0000",
    Protection.STOP_PENDING: "bold black on #d7af00",
    Protection.PROTECTED: "bold black on #00875f",
}
ROW_STYLES = {
    Protection.UNPROTECTED: "red",
    Protection.STOP_PENDING: "yellow",
    Protection.PROTECTED: "green",
}
PROTECTION_WIDTH = max(len(f" {status} ") for status in Protection)
NUMBERS = frozenset({"qty", "filled", "price"})
Row = TypeVar("Row")


def between(local: str, broker: str) -> str:
    """Both sides of a differing cell in one: the words they share once, then `local›broker`
    ("sell stop accepted›canceled")."""
    local_words, broker_words = local.split(" "), broker.split(" ")
    shared = 0
    while (
        shared < min(len(local_words), len(broker_words)) - 1
        and local_words[shared] == broker_words[shared]
    ):
        shared += 1
    return " ".join(
        [
            *local_words[:shared],
            " ".join(local_words[shared:]) + BETWEEN + " ".join(broker_words[shared:]),
        ]
    )


def folded(local: str, broker: str, differs: bool) -> str:
    """A pair's cell on one line: the broker's value where the sides agree (the broker is the
    truth) or only one side has one, both where they differ."""
    if differs and local and broker:
        return between(local, broker)
    return broker or local


def _match_column(match_of: Callable[[Row], Match], *, short: bool) -> Column[Row]:
    def text(row: Row) -> str:
        return MATCH_SHORT[match_of(row)] if short else str(match_of(row))

    return Column("match", "match", text, lambda row: MATCH_STYLES[match_of(row)])


# Orders ------------------------------------------------------------------------------------


def _side_column(side: str, n: int, name: str) -> Column[OrderLine]:
    def text(line: OrderLine) -> str:
        return (line.local if side == "local" else line.broker)[n]

    def style(line: OrderLine) -> str:
        return DIFFERS if name in line.differing and text(line) else ""

    return Column(f"{side} {name}", name, text, style, right=name in NUMBERS)


def _folded_column(n: int, name: str) -> Column[OrderLine]:
    def text(line: OrderLine) -> str:
        return folded(line.local[n], line.broker[n], name in line.differing)

    def style(line: OrderLine) -> str:
        return DIFFERS if name in line.differing else ""

    return Column(name, name, text, style, right=name in NUMBERS)


_ORDER_SYMBOL: Column[OrderLine] = Column(
    "symbol", "symbol", lambda line: line.symbol, lambda _: "bold"
)
_FIELD_AT = {name: n for n, name in enumerate(ORDER_FIELDS)}


class OrdersTable(BookTable[OrderLine]):
    # The section title and the divider say which side is which, so each side's headers are the
    # bare field names and the broker's price fits on a 160-column screen.
    FULL = (
        _match_column(lambda line: line.match, short=False),
        _ORDER_SYMBOL,
        *(_side_column("local", n, name) for n, name in enumerate(ORDER_FIELDS)),
        Column(DIVIDER, DIVIDER, lambda _: DIVIDER, lambda _: "dim"),
        *(_side_column("broker", n, name) for n, name in enumerate(ORDER_FIELDS)),
    )
    # What differs first, the ids last: a long local id runs off a narrow screen, not the state.
    COMPACT = (
        _match_column(lambda line: line.match, short=True),
        _ORDER_SYMBOL,
        *(_folded_column(_FIELD_AT[name], name) for name in ("state", "qty", "filled", "price")),
        _folded_column(_FIELD_AT["id"], "id"),
    )
    ZEBRA = True

    def key_of(self, line: OrderLine) -> str:
        return line.key


# Positions ---------------------------------------------------------------------------------


class ShownPosition(NamedTuple):
    """A position row as drawn: its line, and its protection now (which a run changes)."""

    line: PositionLine
    protection: Protection

    @property
    def style(self) -> str:
        # The whole row carries its protection colour, so red reads from across the room.
        return ROW_STYLES[self.protection]


PositionText = Callable[[ShownPosition], str]


def _position_cell(
    key: str, label: str, value: PositionText, field: str | None = None, right: bool = False
) -> Column[ShownPosition]:
    def style(shown: ShownPosition) -> str:
        differs = field is not None and field in shown.line.differing and value(shown)
        return DIFFERS if differs else shown.style

    return Column(key, label, value, style, right=right)


def _folded_position(field: str, n: int) -> Column[ShownPosition]:
    def text(shown: ShownPosition) -> str:
        return folded(shown.line.local[n], shown.line.broker[n], field in shown.line.differing)

    return _position_cell(field, field, text, field, right=field == "qty")


_SYMBOL: Column[ShownPosition] = Column(
    "symbol", "symbol", lambda shown: shown.line.instrument, lambda shown: f"bold {shown.style}"
)
_PROTECTION: Column[ShownPosition] = Column(
    "protection",
    "protection",
    # At its widest from the start, so a row turning red never widens the column.
    lambda shown: f" {shown.protection} ".center(PROTECTION_WIDTH),
    lambda shown: PROTECTION_STYLES[shown.protection],
)
_COVER = _position_cell("stops", "stops cover", lambda shown: shown.line.stops)
_ENTRY = _position_cell("entry", "avg entry", lambda shown: shown.line.broker[2], right=True)
_PRICE = _position_cell("price", "price", lambda shown: shown.line.broker[3], right=True)


class PositionsTable(BookTable[ShownPosition]):
    # Symbol, protection and cover lead, so that on a narrow screen what is bare is still read
    # without scrolling sideways; the two sides follow.
    FULL = (
        _SYMBOL,
        _PROTECTION,
        _COVER,
        _match_column(lambda shown: shown.line.match, short=False),
        _position_cell("local_side", "local side", lambda shown: shown.line.local[0], "side"),
        _position_cell(
            "local_qty", "local qty", lambda shown: shown.line.local[1], "qty", right=True
        ),
        Column("divider", DIVIDER, lambda _: DIVIDER, lambda _: "dim"),
        _position_cell("broker_side", "broker side", lambda shown: shown.line.broker[0], "side"),
        _position_cell(
            "broker_qty", "broker qty", lambda shown: shown.line.broker[1], "qty", right=True
        ),
        _ENTRY,
        _PRICE,
    )
    COMPACT = (
        _SYMBOL,
        _PROTECTION,
        _COVER,
        _folded_position("side", 0),
        _folded_position("qty", 1),
        _match_column(lambda shown: shown.line.match, short=True),
        _ENTRY,
        _PRICE,
    )

    def key_of(self, line: ShownPosition) -> str:
        return line.line.symbol

    async def show_positions(
        self, lines: list[PositionLine], protection: Mapping[str, Protection]
    ) -> None:
        await self.show(
            [ShownPosition(line, protection.get(line.symbol, line.protection)) for line in lines]
        )
        # A stop confirmed while the rows were being measured has its colour already.
        self.set_protections(protection)

    def set_protections(self, protection: Mapping[str, Protection]) -> None:
        """Recolour rows in place, in one drawing of the table: a large book is not redrawn
        for every stop, nor a row for each."""
        changed = {}
        for symbol, status in protection.items():
            shown = self.line(symbol)
            if shown is not None and shown.protection is not status:  # else same, or not shown
                changed[symbol] = shown._replace(protection=status)
        self.update(changed)
