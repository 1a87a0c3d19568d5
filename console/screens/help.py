"""Every key and what it does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

Keys = tuple[tuple[str, str], ...]
KEYS: Keys = (
    ("r", "run the reconciliation"),
    ("p", "show the plan of a dry run; nothing changes"),
    ("/", "filter rows by symbol (escape clears)"),
    ("enter", "on a position: its detail — orders, stops, actions, history"),
    ("z", "zoom: the focused table or pane full screen, and back"),
    ("h", "run history: every run and guard run; enter opens one, w writes its report"),
    ("y / n", "in a decision: cancel the order / keep it"),
    ("a", "in a decision: cancel this and every remaining one of its kind"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("q", "quit (asks first while a run is in progress)"),
)
FLEET_KEYS: Keys = (
    ("enter", "open the account under the cursor; escape comes back to the fleet"),
    ("r", "run every account; each one's decisions come one at a time, named by account"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("q", "quit (asks first while a run is in progress)"),
)
# An account opened from the fleet screen: its own keys, and the way back.
FLEET_ACCOUNT_KEYS: Keys = (*KEYS, ("escape", "back to the fleet (a filter open is cleared first)"))
NARROW = (
    "Too narrow for local and broker side by side, each pair folds to one line: the broker's "
    "value where they agree, local›broker (highlighted) where they differ."
)
PROTECTION = (
    "UNPROTECTED (red): the broker confirms no stop for all of the position's shares.\n"
    "STOP PENDING (yellow): a stop was submitted; the broker has not confirmed it working.\n"
    "PROTECTED (green): the broker confirms stops covering every share."
)


class HelpScreen(ModalScreen[None]):
    """The keys of the screen it was opened from: an account's, or the fleet's."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, keys: Keys = KEYS) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("recon — keys", classes="dialog-title")
            yield Static("\n".join(f"[b]{key:>7}[/]  {what}" for key, what in self.keys))
            yield Static(PROTECTION, id="help-protection")
            yield Static(NARROW, id="help-narrow")
            yield Static("[b]escape[/] close", classes="dialog-keys")
