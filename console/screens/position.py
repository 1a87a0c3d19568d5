"""One position in full (enter on its row): both sides' orders in its symbol, the stops that
cover it and the groups they belong to, what the plan would do or the last run did, and the
order_event history of its local rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from console.views import order_line, short_id
from engine.domain import BrokerOrder, OrderEvent
from engine.reconcile.actions import PlanAction
from engine.reconcile.diff import Diff, PositionRow
from engine.secrets import scrub

LoadHistory = Callable[[str], Awaitable[list[OrderEvent]]]


class PositionScreen(Screen[None]):
    BINDINGS = [Binding("escape,enter", "app.pop_screen", "Back")]

    def __init__(
        self,
        symbol: str,
        diff: Diff,
        actions: list[tuple[PlanAction, str]],
        load_history: LoadHistory,
    ) -> None:
        """`actions` are the symbol's actions, each with what came of it ("planned" where the
        run has not taken it)."""
        super().__init__()
        self.symbol = symbol
        self.diff = diff
        self.actions = actions
        self._load_history = load_history

    def compose(self) -> ComposeResult:
        row = next((r for r in self.diff.positions if r.symbol == self.symbol), None)
        yield Label(
            f"{self.symbol} — position detail", id="position-title", classes="section-title"
        )
        with VerticalScroll():
            yield Static(_facts(row), id="position-facts")
            yield Label("Orders — local │ broker", classes="section-title")
            yield DataTable[Text](id="position-orders", cursor_type="row")
            yield Label("Actions", classes="section-title")
            yield DataTable[Text](id="position-actions", cursor_type="row")
            yield Label("History of its local orders, newest first", classes="section-title")
            yield DataTable[Text](id="position-events", cursor_type="row")
        yield Footer()

    async def on_mount(self) -> None:
        orders = self.query_one("#position-orders", DataTable)
        orders.add_columns("match", "local", "local state", "│", "broker", "broker state", "price")
        for line in (order_line(r) for r in self.diff.orders if r.symbol == self.symbol):
            orders.add_row(
                Text(str(line.match)),
                Text(line.local[0]),
                Text(line.local[1]),
                Text("│", style="dim"),
                Text(line.broker[0]),
                Text(line.broker[1]),
                Text(line.broker[4] or line.local[4]),
            )
        actions = self.query_one("#position-actions", DataTable)
        actions.add_columns("#", "action", "outcome", "why")
        for action, outcome in self.actions:
            actions.add_row(
                Text(str(action.seq)),
                Text(str(action.kind).replace("_", " ")),
                Text(scrub(outcome)),
                Text(action.reason),
            )
        events = self.query_one("#position-events", DataTable)
        events.add_columns("at", "order", "event", "state", "detail")
        for event in await self._load_history(self.symbol):
            old = f"{event.old_state} → " if event.old_state else ""
            events.add_row(
                Text(f"{event.recorded_at:%m-%d %H:%M:%SZ}"),
                Text(event.order_local_id),
                Text(event.event_type),
                Text(f"{old}{event.new_state}"),
                Text(scrub(event.detail or "")),
            )


def _facts(row: PositionRow | None) -> Text:
    if row is None:
        return Text("No position: the broker holds none and the engine believes none.")
    facts = Text()
    if row.broker is not None:
        broker = row.broker
        facts.append(
            f"broker: {broker.side} {broker.qty} at {broker.avg_entry_price}, "
            f"now {broker.current_price}\n"
        )
    local = f"{row.local_side} {row.local_qty}" if row.local_side else "none"
    facts.append(f"engine believes: {local}\n")
    facts.append(f"stops cover {row.covered_qty}, uncovered {row.uncovered_qty}: ")
    facts.append(str(row.protection), style="bold")
    for stop in row.stops:
        facts.append(f"\n  stop {_order(stop)}")
        for leg in row.group_legs:
            if leg.group_id == stop.group_id:
                facts.append(f"\n    with its {stop.order_class} leg {_order(leg)}")
    return facts


def _order(order: BrokerOrder) -> str:
    return f"{short_id(order.id)} {order.describe()} ({order.status})"
