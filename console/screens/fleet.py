"""The fleet screen (`recon fleet console`): one row per account — paper or live, its positions,
how many are protected, how its last run ended, its guard, what it is doing now — kept up to
date while the accounts work. Enter opens an account; `r` runs them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from engine.reconcile.result import RunResult

REFRESH_SECONDS = 0.25
COLUMNS = ("account", "mode", "positions", "protected", "last run", "guard", "now")


@dataclass(frozen=True, slots=True)
class AccountState:
    """What the fleet screen shows of an account."""

    name: str
    paper: bool | None  # not known until connected
    positions: int | None  # not known until the broker was read
    protected: int
    last_run: RunResult | None
    guard: str
    now: str
    trouble: bool


class ShownAccount(Protocol):
    def state(self) -> AccountState: ...


def account_row(state: AccountState) -> tuple[Text, ...]:
    """An account's cells: unprotected positions and trouble in red, a live account marked."""
    positions = Text("…", style="dim") if state.positions is None else Text(str(state.positions))
    return (
        Text(state.name, style="bold"),
        _mode(state.paper),
        positions,
        _protected(state.protected, state.positions),
        _last_run(state.last_run),
        _guard(state.guard),
        Text(state.now, style="bold red" if state.trouble else ""),
    )


def fleet_totals(states: Sequence[AccountState]) -> Text:
    """The whole desk in a line: how many positions, and how many of them are bare."""
    read = [state for state in states if state.positions is not None]
    positions = sum(state.positions or 0 for state in read)
    bare = positions - sum(state.protected for state in read)
    line = Text(f"{len(read)} of {len(states)} accounts read · {positions} positions · ")
    line.append(f"{bare} unprotected" if bare else "all protected", "bold red" if bare else "green")
    return line


def _mode(paper: bool | None) -> Text:
    if paper is None:
        return Text("…", style="dim")
    return Text("paper", style="green") if paper else Text(" LIVE ", style="bold white on red")


def _protected(protected: int, positions: int | None) -> Text:
    if positions is None:
        return Text("…", style="dim")
    return Text(
        f"{protected} of {positions}", style="green" if protected == positions else "bold red"
    )


def _guard(guard: str) -> Text:
    if not guard:
        return Text("—", style="dim")
    return Text(guard, style="" if guard.startswith("watching") else "yellow")


def _last_run(run: RunResult | None) -> Text:
    if run is None:
        return Text("—", style="dim")
    if run.aborted is not None:
        return Text(f"aborted, exit {run.exit_code}", style="bold red")
    return Text(
        f"exit {run.exit_code} · {run.run_id}", style="green" if run.exit_code == 0 else "yellow"
    )


class FleetScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "app.run", "Run every account"),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit_asking", "Quit"),
    ]

    class AccountChosen(Message):
        """Enter on an account: the app opens its console."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, accounts: Sequence[ShownAccount]) -> None:
        super().__init__()
        self.accounts = accounts
        self._shown: dict[str, tuple[Text, ...]] = {}

    def compose(self) -> ComposeResult:
        yield Label(f"Fleet — {len(self.accounts)} accounts", classes="section-title")
        yield Static(
            "[b]enter[/] opens an account, [b]escape[/] there comes back · [b]r[/] runs every "
            "account · [b]?[/] help",
            id="fleet-status",
            classes="counts",
        )
        yield Static("", id="fleet-totals", classes="counts")
        yield DataTable[Text](id="fleet", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#fleet", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        states = [account.state() for account in self.accounts]
        for state in states:
            cells = self._shown[state.name] = account_row(state)
            table.add_row(*cells, key=state.name)
        table.focus()
        self._show_totals(states)
        self.set_interval(REFRESH_SECONDS, self.refresh_rows)

    def refresh_rows(self) -> None:
        """Each account's row as it is now; only the cells that changed are redrawn."""
        table = self.query_one("#fleet", DataTable)
        states = [account.state() for account in self.accounts]
        for state in states:
            cells, shown = account_row(state), self._shown[state.name]
            for column, cell, before in zip(COLUMNS, cells, shown, strict=True):
                if (cell.plain, cell.style) != (before.plain, before.style):
                    table.update_cell(state.name, column, cell, update_width=True)
            self._shown[state.name] = cells
        self._show_totals(states)

    def _show_totals(self, states: list[AccountState]) -> None:
        self.query_one("#fleet-totals", Static).update(fleet_totals(states))

    @on(DataTable.RowSelected, "#fleet")
    def _chosen(self, selected: DataTable.RowSelected) -> None:
        if selected.row_key.value is not None:
            self.post_message(self.AccountChosen(selected.row_key.value))

    def on_screen_resume(self) -> None:
        self.refresh_rows()
