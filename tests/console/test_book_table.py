"""The book's tables under the pilot: only the rows on screen are drawn, and the cursor, the
keys and the mouse move through a book far taller than the screen."""

from textual import on
from textual.app import App, ComposeResult

from console.views import OrderLine, order_line
from console.widgets.diff_tables import OrdersTable
from engine.reconcile.diff import diff
from tests.factories import make_local_order, make_snapshot

ROWS = 500


class OneTable(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    def compose(self) -> ComposeResult:
        yield OrdersTable(id="orders")

    @on(OrdersTable.RowSelected)
    def _opened(self, selected: OrdersTable.RowSelected) -> None:
        self.opened.append(selected.key)


def book() -> list[OrderLine]:
    orders = tuple(make_local_order(f"L{n:03d}", f"S{n:03d}") for n in range(ROWS))
    return [order_line(row) for row in diff(make_snapshot(local_open=orders)).orders]


def in_view(table: OrdersTable) -> bool:
    top = round(table.scroll_y)
    return top <= table.cursor_row < top + table.scrollable_content_region.height - 1


async def test_the_cursor_stays_in_view_from_the_first_row_to_the_last() -> None:
    app = OneTable()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(OrdersTable)
        await table.show(book())
        table.focus()
        await pilot.press("pagedown", "pagedown", "down")
        assert table.cursor_row > 20 and in_view(table)
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_key == "L499" and in_view(table)
        assert "L499" in table.render_line(table.size.height - 1).text
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_row == 0 and round(table.scroll_y) == 0


async def test_a_click_moves_the_cursor_and_a_second_opens_the_row() -> None:
    app = OneTable()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(OrdersTable)
        await table.show(book())
        await pilot.click(OrdersTable, offset=(4, 3))  # the header, then rows 0, 1, 2
        assert table.cursor_key == "L002" and app.opened == []
        await pilot.click(OrdersTable, offset=(4, 3))
        await pilot.pause()
        assert app.opened == ["L002"]
