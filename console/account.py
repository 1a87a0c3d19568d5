"""One account in the console: its engine, what its last preview and run said, each position's
protection, its guard, its decisions and its main screen. `recon console` has one; `recon fleet
console` one per account of the fleet file. An account's screen is built when it is first opened;
until then what it would have drawn waits in order, so opening an account late loses nothing of
its log."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.markup import escape
from textual.app import App
from textual.worker import get_current_worker

from console.messages import EngineEvent, PreviewReady, RunFinished
from console.protection import ProtectionBook
from console.screens.decision import DecisionScreen
from console.screens.fleet import AccountState
from console.screens.history import HistoryScreen
from console.screens.live_gate import LiveGateScreen
from console.screens.main import MainScreen
from console.screens.plan_preview import PlanScreen
from console.screens.position import PositionScreen
from console.unseen import Unseen
from engine import secrets
from engine.domain import OrderEvent
from engine.errors import first_line
from engine.private_files import private_folder, write_private
from engine.reconcile.actions import ActionKind, PlanAction
from engine.reconcile.diff import Diff
from engine.reconcile.events import (
    AccountOrderState,
    Decision,
    DecisionAnswer,
    DecisionNeeded,
    Event,
    GuardChecked,
    GuardCheckFailed,
    GuardStreamStatus,
    PhaseFinished,
    PhaseProgress,
    PhaseStarted,
    RateLimitWaiting,
    SnapshotReady,
)
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.result import GuardOutcome, RunResult

if TYPE_CHECKING:  # the journal comes through the engine; the console never loads the store
    from engine.reconcile.events import DecisionCallback, Listener
    from engine.reconcile.history import RunHistoryEntry
    from engine.store.journal import JournaledAction

# The screen says each failure in one line; the log keeps its traceback.


def _log_failure(event: str, **fields: object) -> None:
    """The traceback of what the console caught, to its log. structlog is imported here, not
    before the first frame, which waits for every module-level import."""
    import structlog

    structlog.get_logger("recon.console").exception(event, **fields)


class Backend(Protocol):
    """What the console needs from the engine: a preview, a run and the guard after it, and
    who is at the keys."""

    @property
    def database(self) -> str: ...

    @property
    def masked_key_id(self) -> str: ...

    @property
    def operator(self) -> str: ...

    async def preview(self, emit: Listener) -> RunResult: ...

    async def guard(
        self,
        decide: DecisionCallback,
        emit: Listener,
        settings: GuardSettings,
        stopping: asyncio.Event,
        *,
        after: RunResult | None = None,
        ran: Callable[[RunResult], None] = ...,
    ) -> GuardOutcome:
        """Run (unless `after` is the run to guard), telling `ran`, then guard until
        `stopping` is set, under one hold of the database's lock."""
        ...

    async def history(self) -> list[RunHistoryEntry]: ...

    async def symbol_history(self, symbol: str) -> list[OrderEvent]: ...

    async def run_actions(self, run_id: str) -> list[JournaledAction]: ...


BackendFactory = Callable[[], Awaitable[Backend]]
Draw = Callable[[MainScreen], None]


@dataclass(frozen=True, slots=True)
class Settings:
    """What every account of one console shares."""

    reports_dir: Path | None
    guard: GuardSettings
    # One question on screen at a time, whichever account asks it.
    questions: asyncio.Lock


class AccountConsole:
    def __init__(
        self,
        app: App[int],
        name: str,
        connect: BackendFactory,
        settings: Settings,
        clock: Callable[[], float],
    ) -> None:
        self.app = app
        self.name = name  # empty for the lone account of `recon console`
        # Fed here whether the screen is open or not: the fleet row reads it all the while.
        self.protection = ProtectionBook(self._recolour)
        self.screen = MainScreen(self.protection, clock)
        self.backend: Backend | None = None
        self.last_result: RunResult | None = None  # what the screen shows: a preview or a run
        self.last_run: RunResult | None = None
        self.busy = False  # any engine work in flight, preview included
        self.running = False
        self.book: Diff | None = None  # the book as last read, local beside broker
        self._connect = connect
        self._settings = settings
        self._confirm_all: set[ActionKind] = set()
        self._live_confirmed = False
        self._guard_stopping: asyncio.Event | None = None
        self._unseen: Unseen[MainScreen] | None = Unseen()  # None once the screen draws itself
        self._doing = "connecting"
        self._rate_limited = 0  # requests the broker's rate limit holds back
        self._trouble = ""
        self._guard = ""
        # Why the broker refuses orders on the account, as last read or heard; None while it
        # takes them.
        self._order_refusal: str | None = None

    @property
    def label(self) -> str | None:
        """How a dialog names this account; the lone account of `recon console` needs none."""
        return self.name or None

    @property
    def ready_to_run(self) -> bool:
        return not self.busy and self.backend is not None and self.book is not None

    @property
    def paper(self) -> bool | None:
        """Paper or live as the broker's account says, from the last read; None before one."""
        result = self.last_result
        return result.account.paper if result and result.account else None

    @property
    def _needs_live_gate(self) -> bool:
        # Unproven is live: an account not yet read passes the gate as a live one would.
        return self.backend is not None and self.paper is not True and not self._live_confirmed

    @property
    def account_number(self) -> str:
        result = self.last_result
        return result.account.number if result and result.account else ""

    def state(self) -> AccountState:
        return AccountState(
            name=self.name,
            paper=self.paper,
            positions=self.protection.positions if self.book is not None else None,
            protected=self.protection.protected,
            last_run=self.last_run,
            guard=self._guard,
            now=self._trouble or self._refused() or self._doing + self._waiting(),
            trouble=bool(self._trouble or self._order_refusal),
        )

    def _refused(self) -> str:
        refusal = self._order_refusal
        return "" if refusal is None else f"orders refused: {refusal}"

    def _waiting(self) -> str:
        held = self._rate_limited
        return f", {held} waiting for the rate limit" if held else ""

    # Its screen ----------------------------------------------------------------------------

    def attach(self) -> None:
        """The screen is mounted: it draws what happened before it was opened, then every
        change as it comes."""
        if self._unseen is not None:
            self._unseen.draw_on(self.screen)
        self._unseen = None

    def draw(self, change: Draw, *, superseded_by_next: str = "") -> None:
        if self._unseen is None:
            change(self.screen)
        else:
            self._unseen.keep(change, superseded_by_next=superseded_by_next)

    def write_log(self, line: str) -> None:
        self.draw(lambda screen: screen.write_log(line))

    def _recolour(self, symbols: frozenset[str]) -> None:
        """The rows of positions whose protection moved, recoloured now or once the screen
        opens."""
        self.draw(lambda screen: screen.recolour(symbols))

    # Work ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._work(self._connected(), "connect")

    async def _connected(self) -> None:
        """Heavy imports and connections happen here, after the first frame."""
        self.busy = True
        try:
            self.backend = await self._connect()
        except Exception as exc:  # this account alone cannot start; the console stays up
            _log_failure("account_start_failed", account=self.label)
            self._cannot("could not start", exc)
            return
        finally:
            self.busy = False
        self._show_account()
        await self._preview(then_show_plan=False)

    def refresh_preview(self, *, then_show_plan: bool) -> None:
        if not self.busy and self.backend is not None:
            self._work(self._preview(then_show_plan=then_show_plan), "preview")

    async def _preview(self, *, then_show_plan: bool) -> None:
        assert self.backend is not None
        self.busy = True
        self._doing = "reading the broker"
        try:
            result = await self.backend.preview(self._emit)
        except Exception as exc:  # the database unreachable or not set up: said, not raised
            _log_failure("preview_failed", account=self.label)
            self._cannot("could not read the book", exc)
            return
        finally:
            self.busy = False
        self.app.post_message(PreviewReady(result, self))
        if then_show_plan and result.plan is not None:
            await self.app.push_screen_wait(PlanScreen(result.plan))

    def start_run(self) -> None:
        if not self.ready_to_run:  # it started reading the broker, or a run, meanwhile
            return
        # Busy from this moment: a second `r` before the worker starts must not run it twice.
        self.running = self.busy = True
        self._doing = "running"
        self._confirm_all.clear()
        self.draw(lambda screen: screen.run_starting())
        self._work(self._run(), "guard")

    async def _run(self) -> None:
        await self._stop_guarding()  # the run takes the database's lock the guard holds
        await self._guarded(run_first=True)

    async def run_past_the_live_gate(self) -> bool:
        """The run starts, on a live account once the operator has typed its number before
        its first change; False if they backed out."""
        if self._needs_live_gate:
            async with self._settings.questions:
                confirmed = await self.app.push_screen_wait(
                    LiveGateScreen(self.account_number, account=self.label)
                )
            self._live_confirmed = bool(confirmed)
            if not self._live_confirmed:
                return False
        self.start_run()
        return True

    def guard(self) -> None:
        """Every position an earlier run covered stays covered while the console is open."""
        self._work(self._guarded(run_first=False), "guard")

    async def _guarded(self, *, run_first: bool) -> None:
        """Run first where asked, then guard, under one hold of the database's lock."""
        assert self.backend is not None
        # The run is read here, not passed in: a worker's description is the repr of its
        # arguments, and a 10,000-order run's repr held the screen for half a second.
        after = None if run_first else self.last_run
        stopping = self._guard_stopping = asyncio.Event()
        if not run_first:
            self._show_guard("starting")
        guarding = asyncio.ensure_future(
            self.backend.guard(
                self._decide, self._emit, self._settings.guard, stopping, after=after, ran=self._ran
            )
        )
        try:
            outcome = await asyncio.shield(guarding)
        except asyncio.CancelledError:
            # The console is closing: the guard ends as `recon guard` does on SIGTERM, its
            # database connections closed, not cut off in the middle of a read.
            stopping.set()
            await asyncio.wait({guarding})
            raise
        except Exception as exc:  # shown, not raised: the console stays up to say so
            _log_failure("guard_failed", account=self.label)
            if self.running:  # another reconciliation holds the database, say
                self.running = self.busy = False
                self._cannot("the run stopped", exc)
                if self.last_run is not None:
                    self.guard()  # the console keeps guarding what an earlier run covered
                return
            trouble = first_line(exc)
            self._guard = f"stopped: {trouble}"
            self.draw(lambda screen: screen.show_guard(f"[b red]stopped:[/] {escape(trouble)}"))
            return
        finally:
            if self._guard_stopping is stopping:
                self._guard_stopping = None
        if outcome.first.aborted is None:
            self._show_guard("" if outcome.covered else "stopped with a position uncovered")

    def _ran(self, result: RunResult) -> None:
        """The run is over; the guard after it starts under the same lock."""
        self.running = self.busy = False
        if result.aborted is None:
            self._show_guard("starting")
        self.app.post_message(RunFinished(result, self))

    async def _stop_guarding(self) -> None:
        if self._guard_stopping is not None:
            self._guard_stopping.set()
        this = get_current_worker()
        for worker in self.app.workers:
            if worker.group == self._group("guard") and worker is not this:
                await worker.wait()

    def show_history(self) -> None:
        if self.backend is not None:
            self._work(self._history(), "history", exclusive=True)

    async def _history(self) -> None:
        assert self.backend is not None
        try:
            entries = await self.backend.history()
        except Exception as exc:  # the journal cannot be read: said, and the book stays
            _log_failure("history_failed", account=self.label)
            self.app.notify(f"Could not read the run history: {first_line(exc)}", severity="error")
            return
        await self.app.push_screen(
            HistoryScreen(entries, self.backend.run_actions, self.write_report)
        )

    def open_position(self, symbol: str) -> None:
        diff = self.screen.diff  # what the screen shows, the guard's last read included
        if self.backend is None or diff is None:
            return
        self.app.push_screen(
            PositionScreen(
                symbol, diff, self.screen.actions_of(symbol), self.backend.symbol_history
            )
        )

    def _work(self, work: Awaitable[None], kind: str, *, exclusive: bool = False) -> None:
        self.app.run_worker(
            work, group=self._group(kind), exclusive=exclusive, description=f"{kind} {self.name}"
        )

    def _group(self, kind: str) -> str:
        return f"{kind}:{self.name}"

    def _emit(self, event: Event) -> None:
        self.app.post_message(EngineEvent(event, self))

    async def _decide(self, action: PlanAction) -> DecisionAnswer:
        assert self.backend is not None
        operator = self.backend.operator
        if action.kind in self._confirm_all:
            self.write_log(f"{action.symbol} confirmed with the others of its kind")
            return DecisionAnswer(Decision.CONFIRMED, operator)
        async with self._settings.questions:
            self.draw(lambda screen: screen.catch_up())  # the log up to now, behind the question
            choice = await self.app.push_screen_wait(DecisionScreen(action, account=self.label))
        if choice.for_all_of_kind:
            self._confirm_all.add(action.kind)
        return DecisionAnswer(choice.decision, operator)

    # Engine news ---------------------------------------------------------------------------

    def show_event(self, event: Event) -> None:
        self.protection.hear(event)  # before the draw, which may wait for the screen to open
        match event:
            case PhaseStarted(phase, total):
                self._doing = f"{phase} 0/{total}"
            case PhaseProgress(phase, done, total, _):
                self._doing = f"{phase} {done}/{total}"
            case PhaseFinished(phase, done, total, errors):
                self._doing = f"{phase} {done}/{total}" + (f", {errors} failed" if errors else "")
            case SnapshotReady(diff, _) | GuardChecked(diff, _, _):
                self.book = diff
            case DecisionNeeded(action):
                self._doing = f"waiting for your decision on {action.symbol}"
            case RateLimitWaiting(waiting, _):
                self._rate_limited = waiting
            case GuardStreamStatus(up, _):
                self._guard = "watching, stream up" if up else "watching, polling"
            case GuardCheckFailed(_):
                self._guard = "watching, could not read the book"
            case AccountOrderState(refusal):
                self._order_refusal = refusal
                self._show_account()
        # A quiet book's re-reads, one after another, matter only as the newest of them.
        quiet_read = "guard check" if isinstance(event, GuardChecked) else ""
        self.draw(lambda screen: screen.show_event(event), superseded_by_next=quiet_read)

    def show_preview(self, result: RunResult) -> None:
        # Its events came before it: what the account does now is wait for the operator.
        self._doing = "idle"
        self.last_result = result
        if result.diff is not None:
            self.book = result.diff
            self.protection.read(result.diff, result.plan)
            self._trouble = ""
        if result.aborted is not None:
            self._trouble = secrets.scrub(f"aborted: {result.aborted}")
        if result.account is not None:  # a failed refresh keeps the account shown
            self._order_refusal = result.account.order_refusal
            self._show_account()
        self.draw(lambda screen: screen.show_preview(result))

    def show_run(self, result: RunResult) -> Path | None:
        """The run is over: drawn, its report written, and the guard takes over. Returns where
        the report goes."""
        self._doing = "idle"
        self.last_result = self.last_run = result
        self.protection.run_ended(result.positions)
        if result.account is not None:
            self._order_refusal = result.account.order_refusal
            self._show_account()

        def drawn(screen: MainScreen) -> None:
            screen.catch_up()
            screen.show_run(result)

        self.draw(drawn)
        # `a` answered for the rest of that run; what the guard asks next is asked anew.
        self._confirm_all.clear()
        report = self._export(result)
        if result.aborted is None:
            # The tables still hold the state from before the run; the broker says what it is now.
            self.refresh_preview(then_show_plan=False)
        return report

    def _cannot(self, what: str, error: Exception) -> None:
        self._doing = "idle"
        self._trouble = f"{what}: {first_line(error)}"
        trouble = self._trouble
        self.draw(lambda screen: screen.show_trouble(trouble))

    def _show_guard(self, state: str) -> None:
        self._guard = f"watching, {state}" if state == "starting" else state
        self.draw(lambda screen: screen.show_guard(state))

    def _show_account(self) -> None:
        backend, shown, refusal = self.backend, self.last_result, self._order_refusal
        if backend is None:
            return
        self.draw(
            lambda screen: screen.show_account(
                shown if shown and shown.account else None,
                key=backend.masked_key_id,
                db=backend.database,
                order_refusal=refusal,
            )
        )

    # Reports -------------------------------------------------------------------------------

    def _export(self, result: RunResult) -> Path | None:
        """The run's report, written off the event loop: a large run's JSON takes a while to
        build. Where it will be is known at once."""
        reports = self._settings.reports_dir
        if reports is None:
            return None
        self.app.run_worker(
            lambda: self.write_report(result.run_id, result.to_json()),
            thread=True,
            group="reports",
            description=f"report of run {result.run_id}",  # not the repr of a large run
        )
        return reports / report_name(result.run_id)

    def write_report(self, run_id: str, summary: dict[str, Any]) -> Path | None:
        reports = self._settings.reports_dir
        if reports is None:
            return None
        path = reports / report_name(run_id)
        try:
            private_folder(reports)
            write_private(path, secrets.dumps(summary, indent=2))
        except OSError as exc:  # the run itself stands; only its report is missing
            self.app.notify(f"Could not write {path}: {exc.strerror}", severity="error")
            return None
        return path


def report_name(run_id: str) -> str:
    return f"recon-run-{run_id}.json"
