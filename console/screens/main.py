"""The main screen: the book side by side, the run phase by phase, protection in colour, the
event log. It draws what the engine reports; the app does the engine's work and hands it over."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime

from rich.markup import escape
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from console.collector import DRAWING_COLLECTOR
from console.protection import ProtectionBook
from console.slices import made_in_slices
from console.views import order_line, position_line
from console.widgets.account_bar import AccountBar
from console.widgets.diff_tables import OrdersTable, PositionsTable
from console.widgets.event_log import FAILED, SKIPPED, SUCCEEDED, EventLog
from console.widgets.phase_pane import PhasePane
from engine.reconcile.actions import Phase, Plan, PlanAction
from engine.reconcile.diff import Diff, Match
from engine.reconcile.events import (
    AccountOrderState,
    ActionFailed,
    ActionSkipped,
    ActionSucceeded,
    BookReread,
    DecisionNeeded,
    Event,
    GuardChecked,
    GuardCheckFailed,
    GuardRunFinished,
    GuardStreamStatus,
    PhaseFinished,
    PhaseProgress,
    PhaseStarted,
    RateLimitWaiting,
    RunStarted,
    SnapshotReady,
)
from engine.reconcile.result import RunResult
from engine.secrets import scrub

TALLY_SECONDS = 0.25
# Below this a terminal is laid out for what matters most: the positions and their cover.
SHORT_SCREEN_ROWS = 40


class MainScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "app.run", "Run"),
        Binding("p", "app.plan", "Plan"),
        Binding("slash", "filter", "Filter"),
        Binding("h", "app.history", "History"),
        Binding("z", "zoom", "Zoom"),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit_asking", "Quit"),
        Binding("escape", "back", "Back", show=False),
    ]

    filter_text: reactive[str] = reactive("")

    class Ready(Message):
        """Mounted: from now on the screen draws the account's news itself."""

        def __init__(self, screen: MainScreen) -> None:
            super().__init__()
            self.screen = screen

    class PositionChosen(Message):
        """Enter on a position row: the app opens what recon knows of that symbol."""

        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def __init__(
        self, protection: ProtectionBook, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._clock = clock
        self.diff: Diff | None = None
        self.plan: Plan | None = None
        self.last_run: RunResult | None = None
        # The account's: read here, fed by the account whether this screen is open or not.
        self.protection = protection
        self.guard_status = ""  # what the guard says of itself, once it watches
        self._guard_stream = "connecting to the stream"
        self._preview_status = ""
        self._rate_limit_status = ""
        self._uncovered: dict[str, float] = {}
        self._pending_log: list[str] = []
        self._recount_pending = False
        # Positions whose protection moved since their rows were last coloured.
        self._recolour_pending: set[str] = set()

    def compose(self) -> ComposeResult:
        yield AccountBar("connecting…", id="account")
        yield Static("Loading…", id="status")
        yield Input(placeholder="symbol", id="filter", classes="-hidden", disabled=True)
        with Vertical(id="book"):
            # Positions first: which are bare is the last thing to leave a small screen.
            yield Label("Positions — local │ broker", classes="section-title")
            yield Static("", id="position-counts", classes="counts")
            yield PositionsTable(id="positions")
            yield Label("Orders — local │ broker", classes="section-title")
            yield Static("", id="order-counts", classes="counts")
            yield OrdersTable(id="orders")
        with Horizontal(id="phases"):
            for phase in Phase:
                yield PhasePane(phase, self._clock)
        yield EventLog(id="log")
        yield Footer()

    def on_mount(self) -> None:
        # Held, not queried: the catch-up timer and a long draw may still be at work while the
        # app shuts down and the screen's widgets are already gone.
        self._event_log = self.query_one(EventLog)
        self._position_counts = self.query_one("#position-counts", Static)
        self._order_counts = self.query_one("#order-counts", Static)
        self._orders = self.query_one(OrdersTable)
        self._positions = self.query_one(PositionsTable)
        self._panes = {pane.phase: pane for pane in self.query(PhasePane)}
        self._fit(self.app.size.height)
        # The log and the tallies change with every event of a run; they are brought up to
        # date a few times a second, since each update makes the screen lay itself out again.
        self.set_interval(TALLY_SECONDS, self.catch_up)
        self.post_message(self.Ready(self))

    # Keys ----------------------------------------------------------------------------------

    def action_zoom(self) -> None:
        """The focused table or pane fills the screen; again, and it goes back."""
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.height)

    def on_screen_resume(self) -> None:
        self._fit(self.app.size.height)  # the terminal may have changed under a dialog

    def _fit(self, height: int) -> None:
        """A short screen folds the phase panes to a line each and keeps fewer log lines."""
        self.set_class(height < SHORT_SCREEN_ROWS, "-short")

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.disabled = False
        box.remove_class("-hidden")
        box.focus()

    def action_back(self) -> None:
        """Escape clears the filter; with none, a fleet's account goes back to the fleet."""
        if not self.query_one("#filter", Input).disabled:
            self.action_clear_filter()
        elif self.app.screen_stack[0] is not self:
            self.dismiss()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.add_class("-hidden")
        box.disabled = True
        self._orders.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, changed: Input.Changed) -> None:
        self.filter_text = changed.value.strip().upper()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self._orders.focus()

    def watch_filter_text(self) -> None:
        self._draw_book()

    @on(PositionsTable.RowSelected, "#positions")
    def _position_chosen(self, chosen: PositionsTable.RowSelected) -> None:
        if self.diff is not None:
            self.post_message(self.PositionChosen(chosen.key))

    def open_position(self) -> None:
        """The detail of the position under the positions table's cursor."""
        if self.diff is not None and self._positions.cursor_key is not None:
            self.post_message(self.PositionChosen(self._positions.cursor_key))

    def actions_of(self, symbol: str) -> list[tuple[PlanAction, str]]:
        """The symbol's actions: what the last run did with each, or the plan's, not yet
        taken."""
        results = self.last_run.report.results if self.last_run and self.last_run.report else []
        taken = [
            (r.action, f"{r.outcome}: {r.detail}") for r in results if r.action.symbol == symbol
        ]
        if taken:
            return taken
        planned = self.plan.actions if self.plan else ()
        return [(action, "planned") for action in planned if action.symbol == symbol]

    # What the app hands over ---------------------------------------------------------------

    def show_account(
        self, result: RunResult | None, *, key: str, db: str, order_refusal: str | None
    ) -> None:
        account = result.account if result else None
        self.query_one(AccountBar).show(
            account=account.number if account else "…",
            masked_key_id=account.masked_key_id if account else key,
            paper=account.paper if account else None,
            market_open=result.market_open if result else None,
            database=db,
            order_refusal=order_refusal,
        )

    def show_preview(self, result: RunResult) -> None:
        if result.diff is not None and result.plan is not None:
            self._adopt(result.diff, result.plan)
        status = self.query_one("#status", Static)
        status.set_class(result.aborted is not None, "-error")
        if result.aborted is not None:
            trouble = (
                "Could not refresh from the broker"
                if self.last_run
                else "Aborted before any change"
            )
            self._preview_status = (
                f"[b red]{trouble}:[/] {escape(scrub(result.aborted))} — [b]p[/] to try again"
            )
        else:
            actions = len(result.plan.actions) if result.plan else 0
            decisions = (
                sum(1 for a in result.plan.actions if a.needs_decision) if result.plan else 0
            )
            self._preview_status = (
                f"{actions} actions planned, {decisions} need your decision — "
                "[b]r[/] run · [b]p[/] plan · [b]?[/] help"
                if actions
                else "Nothing to do: local state matches the broker."
            )
        self._show_status()

    def show_trouble(self, trouble: str) -> None:
        """The account could not start, read or run: said where the plan would be, until the
        next read of the book says what stands."""
        self.query_one("#status", Static).add_class("-error")
        self._preview_status = escape(trouble)
        self._show_status()

    def run_starting(self) -> None:
        self.write_log("run started")

    def show_run(self, run: RunResult) -> None:
        self.last_run = run
        self._preview_status = ""
        self._show_status()
        self.write_log(_how_it_ended(run))
        self.catch_up()

    def show_guard(self, state: str) -> None:
        self.guard_status = f"[b]Guarding[/] {state}" if state else ""
        self._show_status()

    def _show_status(self) -> None:
        # How the last run ended stays in front, then what the guard is doing, then what the
        # broker says now.
        parts = [
            self._rate_limit_status,
            _how_it_ended(self.last_run) if self.last_run else "",
            self.guard_status,
            self._preview_status,
        ]
        # Scrubbed: the broker's and the libraries' words are drawn here as they came.
        self.query_one("#status", Static).update(scrub(" · ".join(part for part in parts if part)))

    # Engine news ---------------------------------------------------------------------------

    def show_event(self, event: Event) -> None:
        match event:
            case PhaseStarted(phase, total):
                self._pane(phase).start(total)
            case PhaseProgress(phase, done, _, current):
                self._pane(phase).progress(done, current)
            case PhaseFinished(phase, done, _, errors):
                self._pane(phase).finish(done, errors)
            case SnapshotReady(diff, plan):
                self._adopt(diff, plan)
            case BookReread(read, found):
                self.write_log(
                    f"re-read {read}: " + ("; ".join(found) if found else "nothing changed")
                )
            case RunStarted(run_id, _, unfinished):
                self.write_log(f"run {run_id}")
                for earlier in unfinished:
                    self.write_log(f"previous run interrupted: {earlier}")
            case DecisionNeeded(action):
                self.write_log(f"decision needed {action.symbol}: {action.reason}")
            case ActionSucceeded(action, detail):
                self.write_log(f"{SUCCEEDED} {_label(action)} {detail}")
            case ActionSkipped(action, detail):
                self.write_log(f"{SKIPPED} {_label(action)} {detail}")
            case ActionFailed(action, error):
                self.write_log(f"{FAILED} {_label(action)} {error}")
                self._pane(action.phase).fail(error)
            case GuardStreamStatus(up, detail):
                self._guard_stream = "stream up" if up else f"polling ({escape(scrub(detail))})"
            case GuardChecked(diff, uncovered, at):
                self._guarded(diff, uncovered)
                self.show_guard(f"{self._guard_stream} · book read {at:%H:%M:%S}Z")
            case RateLimitWaiting(waiting, last_goes_at):
                self._rate_limit_status = _rate_limited(waiting, last_goes_at)
                self._show_status()
            case AccountOrderState(refusal):
                self.write_log(
                    "the account takes orders again: covering what needs it"
                    if refusal is None
                    else f"the account refuses orders: {refusal}; nothing is sent until it clears"
                )
            case GuardRunFinished(run_id, exit_code):
                self.write_log(f"run {run_id} finished: exit {exit_code}")
            case GuardCheckFailed(error):
                self.show_guard(
                    f"{self._guard_stream} · [b red]could not read the book:[/] "
                    f"{escape(scrub(error))}"
                )

    def _guarded(self, diff: Diff, uncovered: dict[str, float]) -> None:
        """What the guard found: a position that lost its cover is logged with why (the account
        has its row recoloured); the tables are drawn again only when the positions themselves
        changed."""
        rows = {row.symbol: row for row in diff.positions}
        for symbol, wait in uncovered.items():
            row = rows.get(symbol)
            if symbol not in self._uncovered and row is not None and row.broker is not None:
                self.write_log(
                    f"{symbol} needs cover: stops cover {row.covered_qty} of "
                    f"{row.broker.qty}; recon acts in {wait:.0f}s"
                )
        self._uncovered = dict(uncovered)
        if self.diff is None or diff.positions != self.diff.positions:
            self.diff = diff
            self._draw_book()

    # Drawing -------------------------------------------------------------------------------

    def _adopt(self, diff: Diff, plan: Plan) -> None:
        self.diff, self.plan = diff, plan
        self._draw_book()

    @property
    def drawing(self) -> bool:
        return any(w.group == "draw" and w.is_running for w in self.workers)

    @work(exclusive=True, group="draw")
    async def _draw_book(self) -> None:
        if self.diff is None:
            return
        diff, wanted = self.diff, self.filter_text
        with DRAWING_COLLECTOR.held():
            orders = await made_in_slices(
                order_line, [row for row in diff.orders if wanted in row.symbol]
            )
            positions = await made_in_slices(
                position_line, [row for row in diff.positions if wanted in row.symbol]
            )
            await self._orders.show(orders)
            await self._positions.show_positions(positions, self.protection.by_symbol)
            self._recolour_pending.clear()  # every row just took the book's colour
        self._order_counts.update(_counts(diff.order_counts()))
        self._count_positions()

    def recolour(self, symbols: Iterable[str]) -> None:
        """These positions' protection moved: their rows take its colour in place at the next
        catch-up, all at once, with the tally — a read that moves ten thousand positions (and
        is drawn anew right after) is one refresh, not ten thousand."""
        self._recolour_pending.update(symbols)
        self._recount_pending = True

    def _recolour_rows(self) -> None:
        symbols, self._recolour_pending = self._recolour_pending, set()
        book = self.protection
        # One gone goes with the next drawing of the book.
        self._positions.set_protections(
            {symbol: status for symbol in symbols if (status := book.protection_of(symbol))}
        )

    def _count_positions(self) -> None:
        self._recount_pending = False
        if self.diff is None:
            return
        book = self.protection
        self._position_counts.update(
            f"{_counts(self.diff.position_counts())} · {book.protected} of {book.positions} "
            "protected"
        )

    def _pane(self, phase: Phase) -> PhasePane:
        return self._panes[phase]

    def write_log(self, line: str) -> None:
        self._pending_log.append(scrub(line))

    def catch_up(self) -> None:
        """The log, the positions' colours and their tally brought up to what has happened."""
        if self._recolour_pending:
            self._recolour_rows()
        if self._recount_pending:
            self._count_positions()
        lines, self._pending_log = self._pending_log, []
        if lines:
            self._event_log.write_lines(lines)


def _how_it_ended(run: RunResult) -> str:
    return (
        f"Run {run.run_id} finished: exit {run.exit_code} — "
        f"{sum(p.protected for p in run.positions)} of {len(run.positions)} positions protected"
    )


def _rate_limited(waiting: int, last_goes_at: datetime | None) -> str:
    if not waiting or last_goes_at is None:
        return ""
    requests = "request waits" if waiting == 1 else "requests wait"
    return (
        f"[b yellow]{waiting} {requests} for the broker's rate limit[/], "
        f"the last goes at {last_goes_at:%H:%M:%S}Z"
    )


def _label(action: PlanAction) -> str:
    return f"{action.symbol} {str(action.kind).replace('_', ' ')}:"


def _counts(counts: dict[Match, int]) -> str:
    # Group legs are rare; their count shows only when a book has some.
    return " · ".join(
        f"{count} {match}"
        for match, count in counts.items()
        if count or match is not Match.GROUP_LEG
    )
