"""What the side-by-side tables show, computed from a diff without a screen."""

from console.views import order_line, position_line
from engine.reconcile.diff import diff
from tests.factories import make_broker_order, make_local_order, make_position, make_snapshot


def test_a_stop_price_reads_the_same_on_both_sides_to_the_cent() -> None:
    broker = make_broker_order("NVDA", stop_price="485.10", id="b-nvda")
    local = make_local_order("NVDA-stop", "NVDA", stop_price="485.1", broker_id="b-nvda")
    [row] = diff(make_snapshot(open_orders=(broker,), local_open=(local,))).orders
    line = order_line(row)
    assert line.local[-1] == line.broker[-1] == "485.10"
    assert "price" not in line.differing


def test_a_sub_penny_price_keeps_its_digits() -> None:
    [row] = diff(make_snapshot(open_orders=(make_broker_order(stop_price="0.8589"),))).orders
    line = order_line(row)
    assert line.broker[-1] == "0.8589"


def test_thousands_are_grouped_in_prices_and_quantities() -> None:
    position = make_position("BRK", qty="1000", entry="1234.5", current="1240")
    [row] = diff(make_snapshot(positions=(position,))).positions
    line = position_line(row)
    assert line.broker[1:] == ("1,000", "1,234.50", "1,240.00")
