"""The operator's decision on one order recon would cancel — an orphan, or an order that blocks a
position's stop: `y` cancels it, `n` keeps it, `a` cancels it and every remaining one of the same
kind."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from console.views import short_id
from engine.reconcile.actions import ActionKind, PlanAction
from engine.reconcile.events import Decision


@dataclass(frozen=True, slots=True)
class DecisionChoice:
    decision: Decision
    for_all_of_kind: bool = False


class DecisionScreen(ModalScreen[DecisionChoice]):
    BINDINGS = [
        Binding("y", "answer('confirm')", "Cancel it"),
        Binding("n", "answer('keep')", "Keep it"),
        Binding("a", "answer('all')", "Cancel all remaining"),
    ]

    def __init__(self, action: PlanAction, *, account: str | None = None) -> None:
        super().__init__()
        self.action = action
        self.account = account  # named when several accounts may ask

    def compose(self) -> ComposeResult:
        order = self.action.broker_order
        blocking = self.action.kind is ActionKind.CANCEL_BLOCKING_ORDER
        what = "blocking order" if blocking else "orphan order"
        with Vertical(id="decision", classes="dialog"):
            title = f"Cancel {what} {short_id(order.id) if order else self.action.target}?"
            if self.account is not None:
                title = f"{self.account}: {title}"
            yield Label(title, id="decision-title", classes="dialog-title")
            if order is not None:
                price = order.stop_price or order.limit_price
                yield Static(
                    f"{order.symbol}  {order.side} {order.order_type} {order.qty}"
                    f"{f' @ {price}' if price else ''}  {order.time_in_force}  "
                    f"status {order.status}\nbroker id {order.id}\n"
                    f"client order id {order.client_order_id}",
                    id="decision-order",
                )
            yield Static(f"Why: {self.action.reason}", id="decision-reason")
            yield Static(
                f"[b]y[/] cancel it   [b]n[/] keep it   [b]a[/] cancel all remaining "
                f"{'blocking orders' if blocking else 'orphans'}",
                classes="dialog-keys",
            )

    def action_answer(self, answer: str) -> None:
        if answer == "keep":
            self.dismiss(DecisionChoice(Decision.DECLINED))
        else:
            self.dismiss(DecisionChoice(Decision.CONFIRMED, for_all_of_kind=answer == "all"))
