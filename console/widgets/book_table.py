"""A table over Textual's Line API: it renders only the rows on screen, so a 50,000-order book
scrolls and updates as fast as a ten-row one. Column widths come from the rows' text, measured
a slice at a time when the rows arrive; a cell is never cut to fit its column.

Each table has two layouts: the full one, and a compact one for when the full one is wider
than the screen."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.slices import slices

Line = TypeVar("Line")
CELL_PADDING = 1  # a space either side of every cell


@dataclass(frozen=True, slots=True)
class Column(Generic[Line]):
    """One column: its header, the plain text of its cell, and that cell's Rich style."""

    key: str
    label: str
    text: Callable[[Line], str]
    style: Callable[[Line], str] = lambda _: ""
    right: bool = False  # quantities and prices line up on their last digit


Widths = tuple[int, ...]


def measure(columns: Sequence[Column[Line]], lines: Sequence[Line]) -> Widths:
    """Each column as wide as its widest cell or its header."""
    return tuple(
        max(cell_len(column.label), max((cell_len(column.text(line)) for line in lines), default=0))
        for column in columns
    )


def total_width(widths: Widths) -> int:
    return sum(widths) + 2 * CELL_PADDING * len(widths)


class BookTable(ScrollView, Generic[Line], can_focus=True):
    """Rows keyed by a string, a row cursor, enter to open the row under it."""

    FULL: ClassVar[Sequence[Column]] = ()  # type: ignore[type-arg]
    COMPACT: ClassVar[Sequence[Column]] = ()  # type: ignore[type-arg]
    ZEBRA: ClassVar[bool] = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First row", show=False),
        Binding("end,ctrl+end", "last", "Last row", show=False),
        Binding("enter", "select", "Open", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "book-table--header",
        "book-table--cursor",
        "book-table--even-row",
    }
    DEFAULT_CSS = """
    BookTable {
        background: $surface;
        color: $foreground;
        & > .book-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .book-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .book-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .book-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """

    class RowSelected(Message):
        """Enter, or a click on the row under the cursor."""

        def __init__(self, table: BookTable[Any], key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> BookTable[Any]:
            return self.table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Line] = []
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._full: list[int] = list(measure(self.FULL, []))
        self._compact: list[int] = list(measure(self.COMPACT, []))
        self.compact = False
        self.cursor_row = 0

    # What subclasses say ---------------------------------------------------------------------

    def key_of(self, line: Line) -> str:
        raise NotImplementedError

    # Rows ------------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._lines)

    @property
    def keys(self) -> list[str]:
        return list(self._keys)

    @property
    def cursor_key(self) -> str | None:
        return self._keys[self.cursor_row] if self._keys else None

    def line(self, key: str) -> Line | None:
        index = self._index.get(key)
        return None if index is None else self._lines[index]

    @property
    def labels(self) -> list[str]:
        """The headers, in the current layout."""
        return [column.label for column in self._columns]

    def column(self, key: str) -> list[str]:
        """Every row's cell in one column of the current layout, top to bottom."""
        shown = next(column for column in self._columns if column.key == key)
        return [shown.text(line) for line in self._lines]

    async def show(self, lines: list[Line]) -> None:
        """Every row anew; the cursor stays on its row if the row is still there."""
        full, compact = list(measure(self.FULL, [])), list(measure(self.COMPACT, []))
        keys: list[str] = []
        async for part in slices(lines):
            _widen(full, self.FULL, part)
            _widen(compact, self.COMPACT, part)
            keys.extend(self.key_of(line) for line in part)
        index: dict[str, int] = {}
        async for numbers in slices(range(len(keys))):
            index.update((keys[n], n) for n in numbers)
        kept = self.cursor_key
        self._lines, self._keys, self._index = lines, keys, index
        self._full, self._compact = full, compact
        row = self._index.get(kept, self.cursor_row) if kept is not None else 0
        self.cursor_row = max(0, min(row, len(lines) - 1))
        self._lay_out()
        self.refresh()

    def update(self, lines: Mapping[str, Line]) -> None:
        """Rows changed in place, by key: one row is drawn again alone; several, or a cell
        that outgrew its column, are drawn in one refresh of what is on screen."""
        shown = {self._index[key]: line for key, line in lines.items() if key in self._index}
        if not shown:  # every one filtered out of view
            return
        for row, line in shown.items():
            self._lines[row] = line
        changed = list(shown.values())
        grew = _widen(self._full, self.FULL, changed) | _widen(self._compact, self.COMPACT, changed)
        if grew:
            self._lay_out()
        if grew or len(shown) > 1:
            self.refresh()
        else:
            self.refresh_line(next(iter(shown)) + 1)

    # Layout ----------------------------------------------------------------------------------

    @property
    def _columns(self) -> Sequence[Column[Line]]:
        return self.COMPACT if self.compact else self.FULL

    @property
    def _widths(self) -> list[int]:
        return self._compact if self.compact else self._full

    def on_resize(self) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        """Side by side when it fits the screen, compact when it does not."""
        self.compact = total_width(tuple(self._full)) > self.size.width
        self.virtual_size = Size(total_width(tuple(self._widths)), len(self._lines) + 1)

    # Drawing ---------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("book-table--header")
            strip = self._strip([c.label for c in self._columns], base + header, None)
        else:
            row = y - 1 + scroll_y
            if row >= len(self._lines):
                return Strip.blank(width, base)
            strip = self._strip(None, base + self._row_style(row), self._lines[row])
        # Plain cells share their row's style: simplified, a row is a few segments, not three
        # per cell, which is what every repaint and every dialog's dimmed backdrop walks.
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, base).simplify()

    def _row_style(self, row: int) -> Style:
        if row == self.cursor_row:
            return self.get_component_rich_style("book-table--cursor")
        if self.ZEBRA and row % 2:
            return self.get_component_rich_style("book-table--even-row")
        return Style()

    def _strip(self, labels: list[str] | None, row_style: Style, line: Line | None) -> Strip:
        segments = []
        pad = " " * CELL_PADDING
        for n, (column, width) in enumerate(zip(self._columns, self._widths, strict=True)):
            if line is None:
                assert labels is not None
                text, style = labels[n], row_style
            else:
                text, style = column.text(line), row_style + Style.parse(column.style(line))
            room = width - cell_len(text)
            aligned = " " * room + text if column.right else text + " " * room
            segments.append(Segment(pad, row_style))
            segments.append(Segment(aligned, style))
            segments.append(Segment(pad, row_style))
        return Strip(segments)

    # Cursor ----------------------------------------------------------------------------------

    @property
    def _rows_on_screen(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def move_cursor(self, row: int) -> None:
        if not self._lines:
            return
        row = max(0, min(row, len(self._lines) - 1))
        self.refresh_line(self.cursor_row + 1)
        self.cursor_row = row
        self.refresh_line(row + 1)
        top = round(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + self._rows_on_screen:
            self.scroll_to(y=row - self._rows_on_screen + 1, animate=False)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step)

    def action_page(self, pages: int) -> None:
        self.move_cursor(self.cursor_row + pages * self._rows_on_screen)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._lines) - 1)

    def action_select(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.RowSelected(self, self.cursor_key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        row = offset.y - 1 + round(self.scroll_y)
        if row >= len(self._lines):
            return
        if row == self.cursor_row:
            self.action_select()
        else:
            self.move_cursor(row)


def _widen(widths: list[int], columns: Sequence[Column[Line]], lines: Sequence[Line]) -> bool:
    """Each column at least as wide as these lines need; whether any grew."""
    needed = measure(columns, lines)
    grew = any(need > width for need, width in zip(needed, widths, strict=True))
    widths[:] = [max(pair) for pair in zip(needed, widths, strict=True)]
    return grew
