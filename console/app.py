"""The operator console: the app routes keys to the account in front and the engine's news to
the account it concerns. `ReconApp` is one account's console (`recon console`, `recon demo`);
`FleetApp` opens on the fleet screen, one row per account, and runs them all on `r`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.screen import Screen

from console.account import AccountConsole, Backend, BackendFactory, Settings
from console.messages import EngineEvent, PreviewReady, RunFinished
from console.screens.confirm import ConfirmScreen
from console.screens.fleet import FleetScreen
from console.screens.help import FLEET_ACCOUNT_KEYS, FLEET_KEYS, KEYS, HelpScreen
from console.screens.main import MainScreen
from console.screens.summary import SummaryScreen
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.result import RunResult

__all__ = ["Backend", "BackendFactory", "FleetApp", "ReconApp"]
DEFAULT_GUARD = GuardSettings()


class _ConsoleApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "recon"

    def __init__(
        self,
        accounts: Mapping[str, BackendFactory],
        *,
        reports_dir: Path | None,
        clock: Callable[[], float],
        guard_settings: GuardSettings,
    ) -> None:
        super().__init__()
        settings = Settings(reports_dir, guard_settings, asyncio.Lock())
        self.accounts = [
            AccountConsole(self, name, connect, settings, clock)
            for name, connect in accounts.items()
        ]

    def on_mount(self) -> None:
        # After the first frame: connecting imports alpaca-py and SQLAlchemy, which take a while.
        self.call_after_refresh(self._connect_all)

    def _connect_all(self) -> None:
        for account in self.accounts:
            account.start()

    # The account in front ------------------------------------------------------------------

    @property
    def front(self) -> AccountConsole | None:
        """The account whose main screen is on top, or below the dialog on top; none on the
        fleet screen."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, MainScreen):
                return next(a for a in self.accounts if a.screen is screen)
            if isinstance(screen, FleetScreen):
                return None
        return None

    @property
    def main(self) -> MainScreen:
        account = self.front
        assert account is not None, "no account's screen is open"
        return account.screen

    @property
    def busy(self) -> bool:
        return any(account.busy for account in self.accounts)

    @property
    def running(self) -> bool:
        return any(account.running for account in self.accounts)

    @property
    def settled(self) -> bool:
        """No engine work and no drawing in flight: what is on screen is the whole story."""
        return not self.busy and not any(account.screen.drawing for account in self.accounts)

    @property
    def last_result(self) -> RunResult | None:
        return self.front.last_result if self.front else None

    @property
    def last_run(self) -> RunResult | None:
        return self.front.last_run if self.front else None

    # Keys ----------------------------------------------------------------------------------

    def action_run(self) -> None:
        account = self.front
        if account is None:
            if not self._working("run-every-account"):
                self.run_every_account()
        elif account.ready_to_run and not self._working("run-one"):
            self._run_one(account)

    def _working(self, group: str) -> bool:
        return any(worker.group == group and not worker.is_finished for worker in self.workers)

    @work(group="run-one")
    async def _run_one(self, account: AccountConsole) -> None:
        await account.run_past_the_live_gate()

    @work(group="run-every-account")
    async def run_every_account(self) -> None:
        """`r` on the fleet screen: each account that can run starts as soon as it may, a live
        one once its number is typed; their decisions come to the operator one at a time."""
        for account in self.accounts:
            if account.ready_to_run and not await account.run_past_the_live_gate():
                account.write_log("not run: the live account's number was not typed")

    def action_plan(self) -> None:
        if self.front is not None:
            self.front.refresh_preview(then_show_plan=True)

    def action_help(self) -> None:
        account = self.front
        if account is None:
            keys = FLEET_KEYS
        elif self.screen_stack[0] is not account.screen:  # opened from the fleet screen
            keys = FLEET_ACCOUNT_KEYS
        else:
            keys = KEYS
        self.push_screen(HelpScreen(keys))

    def action_history(self) -> None:
        if self.front is not None:
            self.front.show_history()

    def action_quit_asking(self) -> None:
        if not self.running:
            self.exit(self._exit_code())
            return
        self.push_screen(
            ConfirmScreen(
                "Quit?",
                "A reconciliation is running. Quitting stops it where it is; "
                "the next run reports it and picks up from the broker's state.",
            ),
            self._after_quit_question,
        )

    def _exit_code(self) -> int:
        shown = [a.last_run or a.last_result for a in self.accounts]
        return max((result.exit_code for result in shown if result is not None), default=0)

    def _after_quit_question(self, quit_now: bool | None) -> None:
        if quit_now:
            self.exit(1)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:  # type: ignore[type-arg]
        yield from super().get_system_commands(screen)
        account = self.front
        if account is None:
            yield SystemCommand(
                "Run every account", "Reconcile the whole fleet (r)", self.action_run
            )
            yield SystemCommand("Help", "Keys (?)", self.action_help)
            yield SystemCommand(
                "Quit recon", "Asks first during a run (q)", self.action_quit_asking
            )
            return
        main = account.screen
        yield SystemCommand("Run reconciliation", "Fetch, plan and execute (r)", self.action_run)
        yield SystemCommand("Show plan", "Dry run: the plan, nothing changes (p)", self.action_plan)
        yield SystemCommand("Filter by symbol", "Show only matching rows (/)", main.action_filter)
        yield SystemCommand(
            "Run history", "Every run and guard run; enter opens one (h)", self.action_history
        )
        yield SystemCommand(
            "Position detail",
            "The position under the cursor: orders, stops, actions, history (enter)",
            main.open_position,
        )
        yield SystemCommand(
            "Zoom", "The focused table or pane full screen, and back (z)", main.action_zoom
        )
        yield SystemCommand("Help", "Keys and colours (?)", self.action_help)
        yield SystemCommand("Quit recon", "Asks first during a run (q)", self.action_quit_asking)

    @on(MainScreen.Ready)
    def _screen_ready(self, ready: MainScreen.Ready) -> None:
        next(a for a in self.accounts if a.screen is ready.screen).attach()

    @on(MainScreen.PositionChosen)
    def _open_position(self, chosen: MainScreen.PositionChosen) -> None:
        if self.front is not None:
            self.front.open_position(chosen.symbol)

    # Engine news ---------------------------------------------------------------------------

    def on_engine_event(self, message: EngineEvent) -> None:
        message.account.show_event(message.event)

    def on_preview_ready(self, message: PreviewReady) -> None:
        message.account.show_preview(message.result)

    def on_run_finished(self, message: RunFinished) -> None:
        account = message.account
        report = account.show_run(message.result)
        if self.front is account:  # a fleet's other accounts say how they ended on their rows
            self.push_screen(SummaryScreen(message.result, report))


class ReconApp(_ConsoleApp):
    """One account's console."""

    def __init__(
        self,
        backend_factory: BackendFactory,
        *,
        reports_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        guard_settings: GuardSettings = DEFAULT_GUARD,
    ) -> None:
        super().__init__(
            {"": backend_factory},
            reports_dir=reports_dir,
            clock=clock,
            guard_settings=guard_settings,
        )

    def get_default_screen(self) -> MainScreen:
        return self.accounts[0].screen

    @property
    def front(self) -> AccountConsole:
        return self.accounts[0]


class FleetApp(_ConsoleApp):
    """A fleet's console: one row per account; enter opens that account's console, escape
    comes back."""

    def __init__(
        self,
        accounts: Mapping[str, BackendFactory],
        *,
        reports_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        guard_settings: GuardSettings = DEFAULT_GUARD,
    ) -> None:
        super().__init__(
            accounts, reports_dir=reports_dir, clock=clock, guard_settings=guard_settings
        )

    def get_default_screen(self) -> FleetScreen:
        return FleetScreen(self.accounts)

    @on(FleetScreen.AccountChosen)
    def _open_account(self, chosen: FleetScreen.AccountChosen) -> None:
        account = next(a for a in self.accounts if a.name == chosen.name)
        if not self.is_screen_installed(account.screen):
            # Kept when escape pops it: its tables and log carry on while the fleet is shown.
            self.install_screen(account.screen, f"account-{account.name}")
        self.push_screen(account.screen)
