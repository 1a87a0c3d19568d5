"""The plan of a dry run as a table, before anything runs."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from engine.reconcile.actions import Plan
from engine.reconcile.circuit_breaker import describe


class PlanScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,p,q", "dismiss", "Close")]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical(id="plan", classes="dialog -wide"):
            yield Label(
                f"Plan: {len(self.plan.actions)} actions — nothing has changed yet",
                classes="dialog-title",
            )
            yield DataTable[Text](id="plan-table", cursor_type="row")
            yield Static(describe(self.plan.circuit_breaker), id="plan-breaker")
            for finding in self.plan.findings:
                yield Static(Text(finding.text, style="bold red"))
            yield Static("[b]escape[/] close", classes="dialog-keys")

    def on_mount(self) -> None:
        table = self.query_one("#plan-table", DataTable)
        table.add_columns("#", "phase", "action", "symbol", "why", "decision")
        for action in self.plan.actions:
            table.add_row(
                Text(str(action.seq)),
                Text(str(action.phase)),
                Text(str(action.kind).replace("_", " ")),
                Text(action.symbol, style="bold"),
                Text(action.reason + "".join(f" ({flag})" for flag in action.flags)),
                Text("yours" if action.needs_decision else "", style="bold magenta"),
            )
