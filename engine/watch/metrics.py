"""Prometheus metrics for service managers, from a registry of recon's own served on 127.0.0.1
only: each account's figures worked out from its engine events and labelled by its number, so
one registry serves a fleet."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from engine.errors import UsageError
from engine.reconcile.actions import ActionKind
from engine.reconcile.diff import Diff
from engine.reconcile.events import (
    ActionFailed,
    ActionSkipped,
    ActionSucceeded,
    Event,
    GuardChecked,
    GuardRunFinished,
    GuardStreamStatus,
    RateLimitWaiting,
    SnapshotReady,
)
from engine.reconcile.outcomes import Outcome
from engine.reconcile.result import RunResult
from engine.watch.alerts import bare_in

# Metrics are for this machine's scraper (or a proxy on it): they name the account and its book.
METRICS_HOST = "127.0.0.1"
PORT_RANGE = (1, 65535)


class Metrics:
    """The registry and its metrics, every one labelled by `account`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()

        def gauge(name: str, documentation: str) -> Gauge:
            return Gauge(name, documentation, ["account"], registry=self.registry)

        self.positions = gauge("recon_positions", "Positions the broker held at the last read.")
        self.unprotected = gauge(
            "recon_positions_unprotected",
            "Positions no stop the broker reports working covered at the last read.",
        )
        self.stream_up = gauge(
            "recon_stream_up", "1 while the guard hears the trade_updates stream, else 0."
        )
        self.last_sweep = gauge(
            "recon_last_sweep_timestamp_seconds",
            "When the guard last read the whole book, in seconds since the epoch.",
        )
        self.rate_limit_waiting = gauge(
            "recon_rate_limit_waiting_requests", "Requests held back by the rate limit now."
        )
        self.last_exit_code = gauge(
            "recon_last_run_exit_code",
            "The exit code of the last run: the one the guard began with, then each of its own.",
        )
        self.actions = Counter(
            "recon_actions",
            "Plan actions carried out, by kind and outcome.",
            ["account", "kind", "outcome"],
            registry=self.registry,
        )


@dataclass
class MetricsServer:
    metrics: Metrics
    server: WSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def serve_metrics(port: int) -> MetricsServer:
    """Metrics on 127.0.0.1:`port`, answered from a thread of their own so a scrape never waits
    on the guard, nor the guard on a scrape; a port taken is one line for the operator."""
    metrics = Metrics()
    try:
        server, thread = start_http_server(port, addr=METRICS_HOST, registry=metrics.registry)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(
            f"--metrics-port {port}: cannot serve metrics on {METRICS_HOST}:{port} ({reason})"
        ) from None
    return MetricsServer(metrics, server, thread)


class AccountMetrics:
    """One account's figures from its events. Its number is known only once its first run has
    read the account, so until then they are kept here, and written under it from then on."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._account: str | None = None
        # The guard's stream is down until it says it is up; nothing waits until something does.
        self._gauges: dict[Gauge, float] = {metrics.stream_up: 0, metrics.rate_limit_waiting: 0}
        self._actions: Tally[tuple[str, str]] = Tally()

    def __call__(self, event: Event) -> None:
        match event:
            case GuardChecked(diff, _, at):
                self._book(diff)
                self._set(self._metrics.last_sweep, at.timestamp())
            case GuardRunFinished(_, exit_code):
                self._set(self._metrics.last_exit_code, exit_code)
            case SnapshotReady(diff, _):
                self._book(diff)
            case GuardStreamStatus(up, _):
                self._set(self._metrics.stream_up, 1 if up else 0)
            case RateLimitWaiting(waiting, _):
                self._set(self._metrics.rate_limit_waiting, waiting)
            case ActionSucceeded(action, _):
                self._count(action.kind, Outcome.SUCCEEDED)
            case ActionFailed(action, _):
                self._count(action.kind, Outcome.FAILED)
            case ActionSkipped(action, _):
                self._count(action.kind, Outcome.SKIPPED)

    def run_ended(self, result: RunResult) -> None:
        """The run's book as the broker confirmed it after the run, and its exit code; and the
        account's number, under which everything kept so far is written."""
        self._set(self._metrics.positions, len(result.positions))
        self._set(self._metrics.unprotected, sum(1 for p in result.positions if not p.protected))
        self._set(self._metrics.last_exit_code, result.exit_code)
        if self._account is None and result.account is not None:
            self._account = result.account.number
            for gauge, value in self._gauges.items():
                gauge.labels(self._account).set(value)
            for (kind, outcome), count in self._actions.items():
                self._metrics.actions.labels(self._account, kind, outcome).inc(count)
            self._actions.clear()

    def _book(self, diff: Diff) -> None:
        self._set(
            self._metrics.positions, sum(1 for row in diff.positions if row.broker is not None)
        )
        self._set(self._metrics.unprotected, len(bare_in(diff)))

    def _set(self, gauge: Gauge, value: float) -> None:
        self._gauges[gauge] = value
        if self._account is not None:
            gauge.labels(self._account).set(value)

    def _count(self, kind: ActionKind, outcome: Outcome) -> None:
        if self._account is None:
            self._actions[(str(kind), str(outcome))] += 1
        else:
            self._metrics.actions.labels(self._account, str(kind), str(outcome)).inc()
