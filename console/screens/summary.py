"""The end of a run in human words: what was done, each position's protection, the circuit
breaker, the errors, and where the report was written."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from engine.reconcile.circuit_breaker import describe
from engine.reconcile.result import RunResult


class SummaryScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter", "dismiss", "Close")]

    def __init__(self, result: RunResult, report_path: Path | None) -> None:
        super().__init__()
        self.result = result
        self.report_path = report_path

    def compose(self) -> ComposeResult:
        result = self.result
        verdict = {0: "completed", 1: "completed with errors", 2: "aborted"}.get(
            result.exit_code, "ended"
        )
        with Vertical(id="summary", classes="dialog -wide"):
            yield Label(f"Run {result.run_id}: {verdict}", classes="dialog-title")
            with VerticalScroll():
                yield Static(" · ".join(result.tallies()))
                positions = Text()
                for position in result.positions:
                    status = "PROTECTED" if position.protected else "UNPROTECTED"
                    positions.append(
                        f"{position.symbol:<6} {position.side:<5} {position.qty:>8}  ",
                    )
                    positions.append(
                        status + "\n", style="green" if position.protected else "bold red"
                    )
                yield Static(positions)
                if result.circuit_breaker is not None:
                    yield Static(describe(result.circuit_breaker), id="summary-breaker")
                for error in result.errors:
                    yield Static(Text(f"error: {error}", style="bold red"))
                if result.aborted:
                    yield Static(
                        Text(f"aborted before any change: {result.aborted}", style="bold red")
                    )
            where = f"Report written to {self.report_path}" if self.report_path else ""
            yield Static(f"{where}\n[b]escape[/] close", classes="dialog-keys")
