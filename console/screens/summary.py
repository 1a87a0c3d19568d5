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
from engine.secrets import scrub

# A dialog lists this many positions at most: a 10,000-position summary held the screen still
# while it was laid out.
POSITIONS_LISTED = 40


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
                yield Static(_positions(result))
                if result.circuit_breaker is not None:
                    yield Static(describe(result.circuit_breaker), id="summary-breaker")
                for error in result.errors:
                    yield Static(Text(scrub(f"error: {error}"), style="bold red"))
                if result.aborted:
                    aborted = scrub(f"aborted before any change: {result.aborted}")
                    yield Static(Text(aborted, style="bold red"))
            where = f"Report written to {self.report_path}" if self.report_path else ""
            yield Static(f"{where}\n[b]escape[/] close", classes="dialog-keys")


def _positions(result: RunResult) -> Text:
    """Every position where the book is small; on a large one, the count and the unprotected
    ones, which are what the operator must see (the tables and the report hold the rest)."""
    shown = list(result.positions)
    lines = Text()
    if len(shown) > POSITIONS_LISTED:
        protected = sum(position.protected for position in shown)
        lines.append(f"{protected:,} of {len(shown):,} positions protected\n", style="bold")
        shown = [position for position in shown if not position.protected]
        if len(shown) > POSITIONS_LISTED:
            lines.append(f"the first {POSITIONS_LISTED} unprotected:\n")
        shown = shown[:POSITIONS_LISTED]
    for position in shown:
        lines.append(f"{position.symbol:<6} {position.side:<5} {position.qty:>8}  ")
        status = "PROTECTED" if position.protected else "UNPROTECTED"
        lines.append(status + "\n", style="green" if position.protected else "bold red")
    return lines
