"""The operator console: the app wires the engine to the screens. Broker and database work run
in workers so the screen never blocks; the engine's events go to the main screen, and its one
decision callback becomes a dialog."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.markup import escape
from textual import on, work
from textual.app import App, SystemCommand
from textual.reactive import reactive
from textual.screen import Screen

from console.messages import EngineEvent, PreviewReady, RunFinished
from console.screens.confirm import ConfirmScreen
from console.screens.decision import DecisionScreen
from console.screens.help import HelpScreen
from console.screens.history import HistoryScreen
from console.screens.live_gate import LiveGateScreen
from console.screens.main import MainScreen
from console.screens.plan_preview import PlanScreen
from console.screens.position import PositionScreen
from console.screens.summary import SummaryScreen
from engine.domain import OrderEvent
from engine.private_files import private_folder, write_private
from engine.reconcile.actions import ActionKind, PlanAction
from engine.reconcile.events import Decision, DecisionAnswer, DecisionCallback, Event, Listener
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


class ReconApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "recon"

    running: reactive[bool] = reactive(False)
    busy: reactive[bool] = reactive(False)  # any engine work in flight, preview included

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
        self.last_result: RunResult | None = None  # what the screen shows: a preview or a run
        self.last_run: RunResult | None = None
        self._confirm_all: set[ActionKind] = set()
        self._live_confirmed = False
        self._guard_stopping: asyncio.Event | None = None

    def get_default_screen(self) -> MainScreen:
        return MainScreen(self._clock)

    @property
    def main(self) -> MainScreen:
        screen = self.screen_stack[0]  # a dialog may be on top; the book lives below it
        assert isinstance(screen, MainScreen)
        return screen

    def on_mount(self) -> None:
        # After the first frame: connecting imports alpaca-py and SQLAlchemy, which take a while.
        self.call_after_refresh(self.connect)

    @property
    def settled(self) -> bool:
        """No engine work and no drawing in flight: what is on screen is the whole story."""
        return not self.busy and not self.main.drawing

    # Work ----------------------------------------------------------------------------------

    @work(group="engine")
    async def connect(self) -> None:
        """Heavy imports and connections happen here, after the first frame."""
        self.busy = True
        try:
            self.backend = await self._backend_factory()
            self._show_account()
            self.post_message(PreviewReady(await self.backend.preview(self._emit)))
        finally:
            self.busy = False

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
        self.main.show_guard("starting")
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
            self.main.show_guard(f"[b red]stopped:[/] {escape(str(exc).splitlines()[0])}")
            return
        finally:
            self._guard_stopping = None
        self.main.show_guard("" if covered else "stopped with a position uncovered")

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
            self.main.write_log(f"{action.symbol} confirmed with the others of its kind")
            return DecisionAnswer(Decision.CONFIRMED, operator)
        self.main.catch_up()  # the log up to now, behind the question
        choice = await self.push_screen_wait(DecisionScreen(action))
        if choice.for_all_of_kind:
            self._confirm_all.add(action.kind)
        return DecisionAnswer(choice.decision, operator)

    # Keys ----------------------------------------------------------------------------------

    def action_run(self) -> None:
        if self.busy or self.backend is None or self.main.diff is None:
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
        self.main.run_starting()
        self.run_reconciliation()

    def action_plan(self) -> None:
        if not self.busy and self.backend is not None:
            self.refresh_preview(then_show_plan=True)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_history(self) -> None:
        if self.backend is not None:
            self.show_history()

    @work(exclusive=True, group="history")
    async def show_history(self) -> None:
        assert self.backend is not None
        entries = await self.backend.history()
        await self.push_screen(HistoryScreen(entries, self.backend.run_actions, self._write_report))

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
        yield SystemCommand(
            "Filter by symbol", "Show only matching rows (/)", self.main.action_filter
        )
        yield SystemCommand(
            "Run history", "Every run and guard run; enter opens one (h)", self.action_history
        )
        yield SystemCommand(
            "Position detail",
            "The position under the cursor: orders, stops, actions, history (enter)",
            self.main.open_position,
        )
        yield SystemCommand(
            "Zoom", "The focused table or pane full screen, and back (z)", self.main.action_zoom
        )
        yield SystemCommand("Help", "Keys and colours (?)", self.action_help)
        yield SystemCommand("Quit recon", "Asks first during a run (q)", self.action_quit_asking)

    @on(MainScreen.PositionChosen)
    def _open_position(self, chosen: MainScreen.PositionChosen) -> None:
        main = self.main
        if self.backend is None or main.diff is None:
            return
        self.push_screen(
            PositionScreen(
                chosen.symbol,
                main.diff,
                main.actions_of(chosen.symbol),
                self.backend.symbol_history,
            )
        )

    # Engine news ---------------------------------------------------------------------------

    def on_engine_event(self, message: EngineEvent) -> None:
        self.main.show_event(message.event)

    def on_preview_ready(self, message: PreviewReady) -> None:
        self.last_result = message.result
        if message.result.account is not None:  # a failed refresh keeps the account shown
            self._show_account()
        self.main.show_preview(message.result)

    async def on_run_finished(self, message: RunFinished) -> None:
        self.main.catch_up()
        result = self.last_result = self.last_run = message.result
        self.main.show_run(result)
        # `a` answered for the rest of that run; what the guard asks next is asked anew.
        self._confirm_all.clear()
        self.push_screen(SummaryScreen(result, self._export(result)))
        if result.aborted is None:
            # The tables still hold the state from before the run; the broker says what it is now.
            self.refresh_preview(then_show_plan=False)
            self.guard_book()

    def _show_account(self) -> None:
        if self.backend is None:
            return
        self.main.show_account(
            self.last_result if self.last_result and self.last_result.account else None,
            key=self.backend.masked_key_id,
            paper=self.backend.paper,
            db=self.backend.database,
        )

    # Reports -------------------------------------------------------------------------------

    def _export(self, result: RunResult) -> Path | None:
        """The run's report, written off the event loop: a large run's JSON takes a while to
        build. Where it will be is known at once."""
        if self._reports_dir is None:
            return None
        self.run_worker(
            lambda: self._write_report(result.run_id, result.to_json()),
            thread=True,
            group="reports",
            description=f"report of run {result.run_id}",  # not the repr of a large run
        )
        return self._reports_dir / _report_name(result.run_id)

    def _write_report(self, run_id: str, summary: dict[str, Any]) -> Path | None:
        if self._reports_dir is None:
            return None
        path = self._reports_dir / _report_name(run_id)
        try:
            private_folder(self._reports_dir)
            write_private(path, json.dumps(summary, indent=2))
        except OSError as exc:  # the run itself stands; only its report is missing
            self.notify(f"Could not write {path}: {exc.strerror}", severity="error")
            return None
        return path


def _report_name(run_id: str) -> str:
    return f"recon-run-{run_id}.json"
