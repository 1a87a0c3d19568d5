"""Before the first change on a live account, the operator types its number: a deliberate act,
not a reflex on `y`."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class LiveGateScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "dismiss(False)", "Back out")]

    def __init__(self, account_number: str, *, account: str | None = None) -> None:
        super().__init__()
        self.account_number = account_number
        self.account = account  # named when several accounts may ask

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -live"):
            named = f" {self.account}" if self.account is not None else ""
            yield Label(f"LIVE ACCOUNT{named} — real orders, real money", classes="dialog-title")
            yield Static(f"Type the account number ({self.account_number}) to go on.")
            yield Input(placeholder="account number", id="live-account")
            yield Static("", id="live-gate-error")

    @on(Input.Submitted, "#live-account")
    def check(self, submitted: Input.Submitted) -> None:
        if submitted.value.strip() == self.account_number:
            self.dismiss(True)
        else:
            self.query_one("#live-gate-error", Static).update("That is not this account's number.")
            submitted.input.value = ""
