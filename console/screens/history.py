"""Run history (`h`): every run and guard run in the journal, newest first; enter opens one to
its actions in order, each with the operator's decision and what came of it, and `w` writes
its JSON report again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from engine.secrets import scrub

if TYPE_CHECKING:  # the console reads the journal through the engine, never the store itself
    from engine.reconcile.history import RunHistoryEntry
    from engine.store.journal import JournaledAction

LoadActions = Callable[[str], Awaitable[list["JournaledAction"]]]
WriteReport = Callable[[str, dict[str, Any]], Path | None]
OUTCOME_STYLES = {"succeeded": "green", "failed": "bold red", "skipped": "yellow"}


class HistoryScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,h", "app.pop_screen", "Back"),
        Binding("enter", "open_run", "Open run"),
    ]

    def __init__(
        self,
        entries: list[RunHistoryEntry],
        load_actions: LoadActions,
        write_report: WriteReport,
    ) -> None:
        super().__init__()
        self.entries = {entry.run_id: entry for entry in entries}
        self._load_actions = load_actions
        self._write_report = write_report

    def compose(self) -> ComposeResult:
        yield Label("Run history", id="history-title", classes="section-title")
        runs = f"{len(self.entries)} run{'' if len(self.entries) == 1 else 's'}"
        yield Static(f"{runs}, newest first — [b]enter[/] opens one", classes="counts")
        yield DataTable[Text](id="history", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#history", DataTable)
        table.add_columns("run", "kind", "started", "operator", "outcome", "exit", "what it did")
        for entry in self.entries.values():
            table.add_row(
                Text(entry.run_id, style="bold"),
                Text("guard" if entry.is_guard_run else "run"),
                Text(f"{entry.started_at:%Y-%m-%d %H:%M:%SZ}"),
                Text(entry.operator),
                Text(entry.outcome, style="" if entry.exit_code == 0 else "yellow"),
                Text("—" if entry.exit_code is None else str(entry.exit_code)),
                Text(" · ".join(tally for tally in entry.tallies if not tally.startswith("0 "))),
                key=entry.run_id,
            )
        table.focus()

    def action_open_run(self) -> None:
        table = self.query_one("#history", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            self.open_run(self.entries[str(key.value)])

    @on(DataTable.RowSelected, "#history")
    def _selected(self, selected: DataTable.RowSelected) -> None:
        self.open_run(self.entries[str(selected.row_key.value)])

    @work(exclusive=True, group="history")
    async def open_run(self, entry: RunHistoryEntry) -> None:
        actions = await self._load_actions(entry.run_id)
        await self.app.push_screen(RunScreen(entry, actions, self._write_report))


class RunScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("w", "write_report", "Write report"),
    ]

    def __init__(
        self, entry: RunHistoryEntry, actions: list[JournaledAction], write_report: WriteReport
    ) -> None:
        super().__init__()
        self.entry = entry
        self.actions = actions
        self._write_report = write_report

    def compose(self) -> ComposeResult:
        entry = self.entry
        kind = "Guard run" if entry.is_guard_run else "Run"
        finished = f"{entry.finished_at:%H:%M:%SZ}" if entry.finished_at else "—"
        yield Label(f"{kind} {entry.run_id}", id="run-title", classes="section-title")
        yield Static(
            f"started {entry.started_at:%Y-%m-%d %H:%M:%SZ} by {entry.operator} · finished "
            f"{finished} · {entry.outcome}\n{' · '.join(entry.tallies)}",
            id="run-facts",
        )
        yield DataTable[Text](id="run-actions", cursor_type="row")
        yield Static("", id="run-report")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#run-actions", DataTable)
        table.add_columns("#", "phase", "action", "symbol", "decision", "outcome", "detail")
        for action in self.actions:
            decision = ""
            if action.needs_decision:
                decision = action.decision or "not asked"
                if action.decided_by and action.decided_at:
                    decision += f" by {action.decided_by} {action.decided_at:%H:%M:%SZ}"
            table.add_row(
                Text(str(action.seq)),
                Text(action.phase),
                Text(action.kind.replace("_", " ")),
                Text(action.symbol, style="bold"),
                Text(decision, style="magenta"),
                Text(
                    action.outcome or "not done", style=OUTCOME_STYLES.get(action.outcome or "", "")
                ),
                Text(scrub(action.outcome_detail or action.reason)),
            )
        table.focus()

    def action_write_report(self) -> None:
        shown = self.query_one("#run-report", Static)
        if self.entry.summary is None:
            shown.update("[b red]This run has no report: it never finished.[/]")
            return
        path = self._write_report(self.entry.run_id, self.entry.summary)
        if path is not None:
            shown.update(f"Report written to {path}")
