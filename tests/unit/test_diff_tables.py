"""What a narrow screen shows of each pair: one line, the broker's value where the sides agree
and both where they differ."""

from console.views import order_line, position_line
from console.widgets.book_table import measure, total_width
from console.widgets.diff_tables import OrdersTable, PositionsTable, ShownPosition, between
from engine.domain import BrokerOrderStatus, OrderState
from engine.reconcile.diff import diff
from tests.factories import make_broker_order, make_local_order, make_position, make_snapshot


def test_between_names_the_shared_words_once() -> None:
    assert between("sell stop accepted", "sell stop canceled") == "sell stop accepted›canceled"
    assert between("buy market submitted", "buy market filled") == "buy market submitted›filled"
    assert between("0", "50") == "0›50"
    assert between("long", "short") == "long›short"


def folded(table: type[OrdersTable] | type[PositionsTable], line: object) -> dict[str, str]:
    return {column.key: column.text(line) for column in table.COMPACT}


def test_a_diverged_order_folds_to_one_line_with_both_states() -> None:
    broker = make_broker_order("NVDA", status=BrokerOrderStatus.CANCELED, id="b-nvda")
    local = make_local_order("NVDA-stop", "NVDA", broker_id="b-nvda", state=OrderState.ACCEPTED)
    [row] = diff(make_snapshot(recent_orders=(broker,), local_open=(local,))).orders
    cells = folded(OrdersTable, order_line(row))
    assert cells["match"] == "differs"
    assert cells["state"] == "sell stop accepted›canceled"
    assert cells["qty"] == "100"  # the sides agree: said once


def test_an_orphan_folds_to_the_brokers_side_alone() -> None:
    [row] = diff(make_snapshot(open_orders=(make_broker_order("GOOGL", id="b-googl"),))).orders
    cells = folded(OrdersTable, order_line(row))
    assert (cells["match"], cells["state"], cells["id"]) == ("orphan", "sell stop new", "b")


def test_a_position_folds_to_its_brokers_side_and_qty() -> None:
    position = make_position("TSLA", qty="50")
    [row] = diff(make_snapshot(positions=(position,))).positions
    line = position_line(row)
    cells = folded(PositionsTable, ShownPosition(line, line.protection))
    assert (cells["symbol"], cells["side"], cells["qty"]) == ("TSLA", "long", "50")
    assert cells["protection"].strip() == "UNPROTECTED"


def test_columns_are_as_wide_as_their_widest_cell() -> None:
    orders = [
        make_local_order("short", "A"),
        make_local_order("a-much-longer-local-id", "B"),
    ]
    lines = [order_line(row) for row in diff(make_snapshot(local_open=tuple(orders))).orders]
    widths = measure(OrdersTable.FULL, lines)
    ids = [column.key for column in OrdersTable.FULL].index("local id")
    assert widths[ids] == len("a-much-longer-local-id")
    assert total_width(widths) == sum(widths) + 2 * len(widths)
