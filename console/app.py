"""The operator console: the side-by-side diff, the run phase by phase, protection in colour,
and the operator's decisions — all driven through the engine's events and its one decision
callback, with broker and database work in workers so the screen never blocks."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, RichLog, Static

from console.messages import EngineEvent, PreviewReady, RunFinished
from console.screens.confirm import ConfirmScreen
from console.screens.decision import DecisionScreen
from console.screens.help import HelpScreen
from console.screens.history import HistoryScreen
from console.screens.live_gate import LiveGateScreen
from console.screens.plan_preview import PlanScreen
from console.screens.position import PositionScreen
from console.screens.summary import SummaryScreen
from console.views import OrderLine, PositionLine, order_lines, position_lines
from console.widgets.account_bar import AccountBar
from console.widgets.diff_tables import OrdersTable, PositionsTable
from console.widgets.phase_pane import PhasePane
from engine.domain import OrderEvent
from engine.reconcile.actions import STOP_PLACING_KINDS, ActionKind, Phase, Plan, PlanAction
from engine.reconcile.diff import Diff, Match, Protection
from engine.reconcile.events import (
    ActionFailed,
    ActionSkipped,
    ActionSucceeded,
    Decision,
    DecisionAnswer,
    DecisionCallback,
    DecisionNeeded,
    Event,
    GuardChecked,
    GuardCheckFailed,
    GuardStreamStatus,
    Listener,
    PhaseFinished,
    PhaseProgress,
    PhaseStarted,
    RunStarted,
    SnapshotReady,
    StopConfirmed,
    StopSubmitted,
)
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.result import RunResult

if TYPE_CHECKING:  # the journal comes through the engine; the console never loads the store
    from engine.reconcile.history import RunHistoryEntry
    from engine.store.journal import JournaledAction


class Backend(Protocol):
    """What the console needs from the engine: a preview, a run, and who is at the keys."""

    @property
    def database(self) -> str: ...

    @property
    def masked_key_id(self) -> str: ...

    @property
    def paper(self) -> bool: ...

    @property
    def operator(self) -> str: ...

    async def preview(self, emit: Listener) -> RunResult: ...

    async def run(self, decide: DecisionCallback, emit: Listener) -> RunResult: ...

    async def keep_covered(
        self,
        decide: DecisionCallback,
        emit: Listener,
        settings: GuardSettings,
        stopping: asyncio.Event,
        after: RunResult,
    ) -> bool: ...

    async def history(self) -> list[RunHistoryEntry]: ...

    async def symbol_history(self, symbol: str) -> list[OrderEvent]: ...

    async def run_actions(self, run_id: str) -> list[JournaledAction]: ...


BackendFactory = Callable[[], Awaitable[Backend]]
DEFAULT_GUARD = GuardSettings()
LOG_LINES_KEPT = 1_000
TALLY_SECONDS = 0.25
# A catch-up writes the log this many lines at a time and lets a frame through between, so a
# burst of hundreds of events never holds the screen still while it is rendered.
LOG_LINES_PER_WRITE = 100
# Below this a terminal is laid out for what matters most: the positions and their cover.
SHORT_SCREEN_ROWS = 40


class ReconApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "recon"
    BINDINGS = [
        Binding("r", "run", "Run"),
        Binding("p", "plan", "Plan"),
        Binding("slash", "filter", "Filter"),
        Binding("h", "history", "History"),
        Binding("z", "zoom", "Zoom"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_asking", "Quit"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    running: reactive[bool] = reactive(False)
    busy: reactive[bool] = reactive(False)  # any engine work in flight, preview included
    filter_text: reactive[str] = reactive("")

    def __init__(
        self,
        backend_factory: BackendFactory,
        *,
        reports_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        guard_settings: GuardSettings = DEFAULT_GUARD,
    ) -> None:
        super().__init__()
        self._backend_factory = backend_factory
        self._reports_dir = reports_dir
        self._clock = clock
        self._guard_settings = guard_settings
        self.backend: Backend | None = None
        self.diff: Diff | None = None
        self.plan: Plan | None = None
        self.protection: dict[str, Protection] = {}
        self.last_result: RunResult | None = None  # what the screen shows: a preview or a run
        self.last_run: RunResult | None = None
        self._protection_counts: Counter[Protection] = Counter()
        self._stops_planned: Counter[str] = Counter()
        self._stops_confirmed: Counter[str] = Counter()
        self._confirm_all: set[ActionKind] = set()
        self._pending_log: list[str] = []
        self._catching_up = asyncio.Lock()
        self._recount_pending = False
        self._live_confirmed = False
        self._guard_stopping: asyncio.Event | None = None
        self._guard_stream = "connecting to the stream"
        self._uncovered: dict[str, float] = {}
        self.guard_status = ""  # what the guard says of itself, once it watches
        self._preview_status = ""

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
        yield RichLog(id="log", markup=True, wrap=True, max_lines=LOG_LINES_KEPT)
        yield Footer()

    def on_mount(self) -> None:
        # Held, not queried: the catch-up timer may tick while the app is shutting down and its
        # screen is already gone.
        self._event_log = self.query_one(RichLog)
        self._position_counts = self.query_one("#position-counts", Static)
        self._fit(self.size.height)
        # After the first frame: connecting imports alpaca-py and SQLAlchemy, which take a while.
        self.call_after_refresh(self.connect)
        # The log and the tallies change with every event of a run; they are brought up to
        # date a few times a second, since each update makes the screen lay itself out again.
        self.set_interval(TALLY_SECONDS, self._catch_up)

    # Work ----------------------------------------------------------------------------------

    @work(group="engine")
    async def connect(self) -> None:
        """Heavy imports and connections happen here, after the first frame."""
        self.busy = True
        try:
            await self._connect()
        finally:
            self.busy = False

    async def _connect(self) -> None:
        self.backend = await self._backend_factory()
        self.query_one(AccountBar).show(
            account="…",
            masked_key_id=self.backend.masked_key_id,
            paper=self.backend.paper,
            market_open=None,
            database=self.backend.database,
        )
        self.post_message(PreviewReady(await self.backend.preview(self._emit)))

    @work(group="engine")
    async def refresh_preview(self, then_show_plan: bool) -> None:
        assert self.backend is not None
        self.busy = True
        try:
            result = await self.backend.preview(self._emit)
        finally:
            self.busy = False
        self.post_message(PreviewReady(result))
        if then_show_plan and result.plan is not None:
            await self.push_screen_wait(PlanScreen(result.plan))

    @work(group="engine")
    async def run_reconciliation(self) -> None:
        assert self.backend is not None
        self.running = self.busy = True
        try:
            await self._stop_guarding()  # the run takes the database's lock the guard holds
            result = await self.backend.run(self._decide, self._emit)
        finally:
            self.running = self.busy = False
        self.post_message(RunFinished(result))

    @work(group="guard", exclusive=True)
    async def guard_book(self) -> None:
        """After a run, every position stays covered while the console is open."""
        # The run is read here, not passed in: a worker's description is the repr of its
        # arguments, and a 10,000-order run's repr held the screen for half a second.
        assert self.backend is not None and self.last_run is not None
        after = self.last_run
        stopping = self._guard_stopping = asyncio.Event()
        self._show_guard("starting")
        try:
            guarding = asyncio.ensure_future(
                self.backend.keep_covered(
                    self._decide, self._emit, self._guard_settings, stopping, after
                )
            )
            covered = await asyncio.shield(guarding)
        except asyncio.CancelledError:
            # The console is closing: the guard ends as `recon guard` does on SIGTERM, its
            # database connections closed, not cut off in the middle of a read.
            stopping.set()
            await asyncio.wait({guarding})
            raise
        except Exception as exc:  # shown, not raised: the console stays up to say so
            self._show_guard(f"[b red]stopped:[/] {str(exc).splitlines()[0]}")
            return
        finally:
            self._guard_stopping = None
        self._show_guard("" if covered else "stopped with a position uncovered")

    async def _stop_guarding(self) -> None:
        if self._guard_stopping is not None:
            self._guard_stopping.set()
        for worker in self.workers:
            if worker.group == "guard":
                await worker.wait()

    def _emit(self, event: Event) -> None:
        self.post_message(EngineEvent(event))

    async def _decide(self, action: PlanAction) -> DecisionAnswer:
        assert self.backend is not None
        operator = self.backend.operator
        if action.kind in self._confirm_all:
            self._write_log(f"[b]{action.symbol}[/] confirmed with the others of its kind")
            return DecisionAnswer(Decision.CONFIRMED, operator)
        await self._catch_up()  # the log up to now, behind the question
        choice = await self.push_screen_wait(DecisionScreen(action))
        if choice.for_all_of_kind:
            self._confirm_all.add(action.kind)
        return DecisionAnswer(choice.decision, operator)

    # Keys ----------------------------------------------------------------------------------

    def action_run(self) -> None:
        if self.busy or self.backend is None or self.diff is None:
            return
        if not self.backend.paper and not self._live_confirmed:
            account = (
                self.last_result.account.number
                if self.last_result and self.last_result.account
                else ""
            )
            self.push_screen(LiveGateScreen(account), self._after_live_gate)
            return
        self._start_run()

    def _after_live_gate(self, confirmed: bool | None) -> None:
        if confirmed:
            self._live_confirmed = True
            self._start_run()

    def _start_run(self) -> None:
        self._confirm_all.clear()
        self._stops_confirmed.clear()
        self._write_log("[b]run started[/]")
        self.run_reconciliation()

    def action_plan(self) -> None:
        if not self.busy and self.backend is not None:
            self.refresh_preview(then_show_plan=True)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_zoom(self) -> None:
        """The focused table or pane fills the screen; again, and it goes back."""
        if self.screen.maximized is not None:
            self.screen.minimize()
        elif self.focused is not None:
            self.screen.maximize(self.focused)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.height)

    def _fit(self, height: int) -> None:
        """A short screen folds the phase panes to a line each and keeps fewer log lines."""
        main = self.screen_stack[0]  # a dialog may be on top; the book lives below it
        main.set_class(height < SHORT_SCREEN_ROWS, "-short")

    def action_history(self) -> None:
        if self.backend is not None:
            self.show_history()

    @work(exclusive=True, group="history")
    async def show_history(self) -> None:
        assert self.backend is not None
        entries = await self.backend.history()
        await self.push_screen(HistoryScreen(entries, self.backend.run_actions, self._write_report))

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.disabled = False
        box.remove_class("-hidden")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.add_class("-hidden")
        box.disabled = True
        self.query_one(OrdersTable).focus()

    def action_quit_asking(self) -> None:
        if not self.running:
            shown = self.last_run or self.last_result
            self.exit(shown.exit_code if shown else 0)
            return
        self.push_screen(
            ConfirmScreen(
                "Quit?",
                "A reconciliation is running. Quitting stops it where it is; "
                "the next run reports it and picks up from the broker's state.",
            ),
            self._after_quit_question,
        )

    def _after_quit_question(self, quit_now: bool | None) -> None:
        if quit_now:
            self.exit(1)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:  # type: ignore[type-arg]
        yield from super().get_system_commands(screen)
        yield SystemCommand("Run reconciliation", "Fetch, plan and execute (r)", self.action_run)
        yield SystemCommand("Show plan", "Dry run: the plan, nothing changes (p)", self.action_plan)
        yield SystemCommand("Filter by symbol", "Show only matching rows (/)", self.action_filter)
        yield SystemCommand(
            "Run history", "Every run and guard run; enter opens one (h)", self.action_history
        )
        yield SystemCommand(
            "Zoom", "The focused table or pane full screen, and back (z)", self.action_zoom
        )
        yield SystemCommand("Help", "Keys and colours (?)", self.action_help)
        yield SystemCommand("Quit recon", "Asks first during a run (q)", self.action_quit_asking)

    @on(PositionsTable.RowSelected, "#positions")
    def _position_chosen(self, chosen: PositionsTable.RowSelected) -> None:
        if self.backend is None or self.diff is None:
            return
        symbol = str(chosen.row_key.value)
        self.push_screen(
            PositionScreen(symbol, self.diff, self._actions_of(symbol), self.backend.symbol_history)
        )

    def _actions_of(self, symbol: str) -> list[tuple[PlanAction, str]]:
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

    @on(Input.Changed, "#filter")
    def _filter_changed(self, changed: Input.Changed) -> None:
        self.filter_text = changed.value.strip().upper()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(OrdersTable).focus()

    def watch_filter_text(self) -> None:
        self._draw_book()

    # Engine news ---------------------------------------------------------------------------

    def on_preview_ready(self, message: PreviewReady) -> None:
        self._show_result(message.result)
        result = message.result
        status = self.query_one("#status", Static)
        if result.aborted is not None:
            trouble = (
                "Could not refresh from the broker"
                if self.last_run
                else "Aborted before any change"
            )
            self._preview_status = f"[b red]{trouble}:[/] {result.aborted} — [b]p[/] to try again"
            status.set_class(True, "-error")
        else:
            status.set_class(False, "-error")
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

    def _show_status(self) -> None:
        # How the last run ended stays in front, then what the guard is doing, then what the
        # broker says now.
        parts = [
            _how_it_ended(self.last_run) if self.last_run else "",
            self.guard_status,
            self._preview_status,
        ]
        self.query_one("#status", Static).update(" · ".join(part for part in parts if part))

    def _show_guard(self, state: str) -> None:
        self.guard_status = f"[b]Guarding[/] {state}" if state else ""
        self._show_status()

    async def on_run_finished(self, message: RunFinished) -> None:
        await self._catch_up()
        result = self.last_result = self.last_run = message.result
        for position in result.positions:
            if position.symbol in self.protection:
                self._set_protection(
                    position.symbol,
                    Protection.PROTECTED if position.protected else Protection.UNPROTECTED,
                )
        self._preview_status = ""
        self._show_status()
        # `a` answered for the rest of that run; what the guard asks next is asked anew.
        self._confirm_all.clear()
        self.push_screen(SummaryScreen(result, self._export(result)))
        if result.aborted is None:
            # The tables still hold the state from before the run; the broker says what it is now.
            self.refresh_preview(then_show_plan=False)
            self.guard_book()

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        match event:
            case PhaseStarted(phase, total):
                self._pane(phase).start(total)
            case PhaseProgress(phase, done, _, current):
                self._pane(phase).progress(done, current)
            case PhaseFinished(phase, done, _, errors):
                self._pane(phase).finish(done, errors)
            case SnapshotReady(diff, plan):
                self._adopt(diff, plan)
            case RunStarted(run_id, _, unfinished):
                self._write_log(f"run [b]{run_id}[/]")
                for earlier in unfinished:
                    self._write_log(f"[yellow]previous run interrupted:[/] {earlier}")
            case DecisionNeeded(action):
                self._write_log(f"[magenta]decision needed[/] {action.symbol}: {action.reason}")
            case ActionSucceeded(action, detail):
                self._write_log(f"[green]✓[/] {_label(action)} {detail}")
            case ActionSkipped(action, detail):
                self._write_log(f"[yellow]–[/] {_label(action)} {detail}")
            case ActionFailed(action, error):
                self._write_log(f"[b red]✗ {_label(action)} {error}[/]")
                self._pane(action.phase).fail(error)
            case StopSubmitted(symbol, _, _):
                if self.protection.get(symbol) is not Protection.PROTECTED:
                    self._set_protection(symbol, Protection.STOP_PENDING)
            case StopConfirmed(symbol, _, _):
                self._stops_confirmed[symbol] += 1
                if self._stops_confirmed[symbol] >= self._stops_planned[symbol]:
                    self._set_protection(symbol, Protection.PROTECTED)
            case GuardStreamStatus(up, detail):
                self._guard_stream = "stream up" if up else f"polling ({detail})"
            case GuardChecked(diff, uncovered, at):
                self._guarded(diff, uncovered)
                self._show_guard(f"{self._guard_stream} · book read {at:%H:%M:%S}Z")
            case GuardCheckFailed(error):
                self._show_guard(
                    f"{self._guard_stream} · [b red]could not read the book:[/] {error}"
                )

    def _guarded(self, diff: Diff, uncovered: dict[str, float]) -> None:
        """What the guard found: a position that lost its cover turns red at once, with why;
        the tables are drawn again only when the positions themselves changed."""
        rows = {row.symbol: row for row in diff.positions}
        for symbol, wait in uncovered.items():
            row = rows.get(symbol)
            if symbol not in self._uncovered and row is not None and row.broker is not None:
                self._write_log(
                    f"[b red]{symbol}[/] needs cover: stops cover {row.covered_qty} of "
                    f"{row.broker.qty}; recon acts in {wait:.0f}s"
                )
        self._uncovered = dict(uncovered)
        if self.diff is None or position_lines(diff) != position_lines(self.diff):
            self.diff = diff
            self.protection = {row.symbol: row.protection for row in diff.positions}
            self._protection_counts = Counter(self.protection.values())
            self._draw_book()
            return
        for symbol, row in rows.items():
            if self.protection.get(symbol) is not row.protection:
                self._set_protection(symbol, row.protection)

    # Drawing -------------------------------------------------------------------------------

    def _show_result(self, result: RunResult) -> None:
        self.last_result = result
        if result.account is not None and self.backend is not None:
            self.query_one(AccountBar).show(
                account=result.account.number,
                masked_key_id=result.account.masked_key_id,
                paper=result.account.paper,
                market_open=result.market_open,
                database=self.backend.database,
            )
        if result.diff is not None and result.plan is not None:
            self._adopt(result.diff, result.plan)

    def _adopt(self, diff: Diff, plan: Plan) -> None:
        self.diff, self.plan = diff, plan
        self.protection = {row.symbol: row.protection for row in diff.positions}
        self._protection_counts = Counter(self.protection.values())
        self._stops_planned = Counter(
            action.symbol for action in plan.actions if action.kind in STOP_PLACING_KINDS
        )
        self._draw_book()

    @property
    def settled(self) -> bool:
        """No engine work and no drawing in flight: what is on screen is the whole story."""
        drawing = any(w.group == "draw" and w.is_running for w in self.workers)
        return not self.busy and not drawing

    @work(exclusive=True, group="draw")
    async def _draw_book(self) -> None:
        if self.diff is None:
            return
        diff, wanted = self.diff, self.filter_text
        # Turning 10,000 orders into lines is pure work: off the event loop, so frames keep
        # coming while it runs.
        orders, positions = await asyncio.to_thread(_lines, diff, wanted)
        await self.query_one(OrdersTable).show(orders)
        self.query_one("#order-counts", Static).update(_counts(diff.order_counts()))
        await self.query_one(PositionsTable).show(positions, self.protection)
        self._count_positions()
        # A large book is hundreds of thousands of long-lived objects; a full collection that
        # walks them all stalls the screen for a third of a second. They stay until the next
        # draw, so the collector is told to leave them be.
        gc.freeze()

    def _set_protection(self, symbol: str, status: Protection) -> None:
        self._protection_counts[self.protection[symbol]] -= 1
        self._protection_counts[status] += 1
        self.protection[symbol] = status
        self.query_one(PositionsTable).set_protection(symbol, status)
        self._recount_pending = True

    def _count_positions(self) -> None:
        self._recount_pending = False
        if self.diff is None:
            return
        protected = self._protection_counts[Protection.PROTECTED]
        self._position_counts.update(
            f"{_counts(self.diff.position_counts())} · {protected} of {len(self.protection)} "
            "protected"
        )

    def _pane(self, phase: Phase) -> PhasePane:
        return self.query_one(f"#phase-{phase.value}", PhasePane)

    def _write_log(self, line: str) -> None:
        self._pending_log.append(line)

    async def _catch_up(self) -> None:
        # One catch-up at a time, each writing what was pending when it began: lines that
        # arrive meanwhile wait for the next, so they keep their order and their batching.
        async with self._catching_up:
            if self._recount_pending:
                self._count_positions()
            lines, self._pending_log = self._pending_log, []
            for start in range(0, len(lines), LOG_LINES_PER_WRITE):
                if start:
                    await asyncio.sleep(0)
                self._event_log.write("\n".join(lines[start : start + LOG_LINES_PER_WRITE]))

    def _export(self, result: RunResult) -> Path | None:
        return self._write_report(result.run_id, result.to_json())

    def _write_report(self, run_id: str, summary: dict[str, Any]) -> Path | None:
        if self._reports_dir is None:
            return None
        self._reports_dir.mkdir(parents=True, exist_ok=True)
        path = self._reports_dir / f"recon-run-{run_id}.json"
        path.write_text(json.dumps(summary, indent=2))
        return path


def _lines(diff: Diff, wanted: str) -> tuple[list[OrderLine], list[PositionLine]]:
    return (
        [line for line in order_lines(diff) if wanted in line.symbol],
        [line for line in position_lines(diff) if wanted in line.symbol],
    )


def _how_it_ended(run: RunResult) -> str:
    return (
        f"Run {run.run_id} finished: exit {run.exit_code} — "
        f"{sum(p.protected for p in run.positions)} of {len(run.positions)} positions protected"
    )


def _label(action: PlanAction) -> str:
    return f"[b]{action.symbol}[/] {str(action.kind).replace('_', ' ')}:"


def _counts(counts: dict[Match, int]) -> str:
    # Group legs are rare; their count shows only when a book has some.
    return " · ".join(
        f"{count} {match}"
        for match, count in counts.items()
        if count or match is not Match.GROUP_LEG
    )
