"""One command's alerts and metrics: the process's notifier and metrics server, and for each
account a listener that hears the engine's events beside its log — so the engine, the guard
included, needs to know nothing of either."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import structlog

from engine.clock import SYSTEM_CLOCK, Clock
from engine.reconcile.events import Event, Listener
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.result import GuardOutcome, RunResult
from engine.watch.alerts import AccountLabel, Alert, AlertTracker

if TYPE_CHECKING:
    from engine.watch.metrics import AccountMetrics, Metrics
    from engine.watch.notify import Notifier

log = structlog.get_logger("recon.watch")


@dataclass(frozen=True)
class Watching:
    """What one command watches with: none of it unless asked for."""

    notifier: Notifier | None = None
    metrics: Metrics | None = None
    clock: Clock = SYSTEM_CLOCK

    def account(self, masked_key_id: str, settings: GuardSettings | None = None) -> AccountWatch:
        """The watch over one account; `settings` are its guard's, when it is guarded."""
        figures = None
        if self.metrics is not None:
            from engine.watch.metrics import AccountMetrics

            figures = AccountMetrics(self.metrics)
        guard = settings or GuardSettings()
        return AccountWatch(
            AccountLabel(masked_key_id),
            AlertTracker(bare_after=guard.grace_seconds + guard.sweep_seconds),
            notifier=self.notifier,
            metrics=figures,
            clock=self.clock,
        )


@asynccontextmanager
async def watching(
    notify_urls: Sequence[str] = (), metrics_port: int | None = None
) -> AsyncIterator[Watching]:
    """The notifier (when there are URLs) and the metrics server (when there is a port) for
    the length of a command: the server first, so a port already taken stops the command
    before anything else starts; and at the end, the last alerts given their time to go."""
    server = None
    if metrics_port is not None:
        from engine.watch.metrics import serve_metrics

        server = serve_metrics(metrics_port)
    notifier = None
    if notify_urls:
        from engine.watch.notify import Notifier

        notifier = Notifier(notify_urls)
    try:
        yield Watching(notifier, None if server is None else server.metrics)
    finally:
        if notifier is not None:
            await notifier.drain()
        if server is not None:
            await asyncio.to_thread(server.stop)


class AccountWatch:
    """One account's alert conditions and metrics, fed the events its log hears. Until its
    first run has ended, the run's result speaks for the run: only then is the account's number
    known, which every alert and metric names."""

    def __init__(
        self,
        label: AccountLabel,
        tracker: AlertTracker,
        *,
        notifier: Notifier | None,
        metrics: AccountMetrics | None,
        clock: Clock,
    ) -> None:
        self._label = label
        self._tracker = tracker
        self._notifier = notifier
        self._metrics = metrics
        self._clock = clock
        self._run_ended = False

    def listener(self, log_events: Listener) -> Listener:
        """`log_events`, and beside it whatever of this watch is on."""
        watchers: list[Listener] = []
        if self._notifier is not None:
            watchers.append(self._alert)
        if self._metrics is not None:
            watchers.append(self._metrics)
        return listening(log_events, *watchers)

    def run_ended(self, result: RunResult) -> None:
        """The run's own conditions and figures; called the moment it ends, before guarding."""
        try:
            if result.account is not None:
                self._label = replace(self._label, number=result.account.number)
            self._run_ended = True
            if self._metrics is not None:
                self._metrics.run_ended(result)
            self._send(self._tracker.run_ended(result, self._clock.monotonic()))
        except Exception:  # as in `listening`: nothing here may stop the guard that follows
            log.exception("watch_failed", heard="run_ended")

    def guard_stopped(self, outcome: GuardOutcome) -> None:
        """A guard that stopped with positions bare; a run that ended without any guarding
        after it has said what it left in its own end."""
        first = outcome.first
        try:
            if first.aborted is None or first.account_refusal is not None:
                self._send(self._tracker.guard_stopped(covered=outcome.covered))
        except Exception:  # the guard has stopped: its exit code, not this, is what matters
            log.exception("watch_failed", heard="guard_stopped")

    def _alert(self, event: Event) -> None:
        if self._run_ended:
            self._send(self._tracker.observe(event, self._clock.monotonic()))

    def _send(self, alerts: list[Alert]) -> None:
        if self._notifier is None:
            return
        for alert in alerts:
            self._notifier.send(alert, self._label)


def listening(log_events: Listener, *watchers: Listener) -> Listener:
    """One listener that hears every event first with `log_events`, then with each watcher. A
    watcher that fails is logged and goes no further: the engine calls its listener in the
    middle of protecting the book, and alerts and metrics must never stop that."""
    if not watchers:
        return log_events

    def heard(event: Event) -> None:
        log_events(event)
        for watcher in watchers:
            try:
                watcher(event)
            except Exception:
                log.exception("watch_failed", heard=type(event).__name__)

    return heard
