"""Which alert conditions hold for one account, worked out from the engine's events against a
monotonic clock: each is raised once when it starts holding and cleared once when it stops, and
said in words that name the account and the symbols (SPEC §3, Alerts). Pure: no I/O, no clock
of its own."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.reconcile.circuit_breaker import CircuitBreakerState
from engine.reconcile.diff import Diff, Protection
from engine.reconcile.events import (
    AccountOrderState,
    Event,
    GuardChecked,
    GuardStreamStatus,
    SnapshotReady,
)
from engine.reconcile.result import RunResult

# The guard reconnects with backoff up to a minute at a time: a stream still down after three
# of its longest waits is no blip, though the sweeps keep covering the book meanwhile.
STREAM_DOWN_ALERT_SECONDS = 180.0
# A message names at most this many symbols and counts the rest: a whole book bare at once is
# one readable alert, not a page of tickers.
SYMBOLS_NAMED = 20


class Condition(StrEnum):
    BARE = "positions_bare"
    BREAKER_PAUSED = "circuit_breaker_paused"
    ACCOUNT_REFUSES = "account_refuses_orders"
    STREAM_DOWN = "stream_down"
    GUARD_STOPPED_BARE = "guard_stopped_bare"


@dataclass(frozen=True, slots=True)
class Alert:
    """A condition that started holding (`raised`) or stopped (cleared), for these symbols
    where it is about positions; `detail` says why, in the engine's words."""

    condition: Condition
    raised: bool
    symbols: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AccountLabel:
    """How a message names the account: never more than its number and masked key id."""

    masked_key_id: str
    number: str | None = None  # unknown until the account has been read

    def __str__(self) -> str:
        return f"account {self.number or '(not read)'} (key {self.masked_key_id})"


class AlertTracker:
    """One account's conditions. `bare_after` is how long a position may stay bare in the
    guard's reads before it is alerted: the guard's grace and one sweep, so a cover the guard
    is about to place never wakes anybody. Timed conditions are looked at with every event;
    the guard reads the book every sweep, so none is alerted more than a sweep late."""

    def __init__(
        self, *, bare_after: float, stream_down_after: float = STREAM_DOWN_ALERT_SECONDS
    ) -> None:
        self._bare_after = bare_after
        self._stream_down_after = stream_down_after
        # Since when (monotonic) each position has been bare in the guard's reads.
        self._bare_since: dict[str, float] = {}
        self._bare_alerted: set[str] = set()
        self._stream_down_since: float | None = None
        self._stream_detail = ""
        # The account-wide conditions raised and not yet cleared.
        self._holding: set[Condition] = set()

    @property
    def bare(self) -> tuple[str, ...]:
        """The positions bare at the last read."""
        return tuple(sorted(self._bare_since))

    def observe(self, event: Event, now: float) -> list[Alert]:
        alerts: list[Alert] = []
        match event:
            case GuardChecked(diff, _, _, breaker):
                alerts.extend(self._read(bare_in(diff), now))
                alerts.extend(self._breaker(breaker))
            case SnapshotReady(_, plan):
                alerts.extend(self._breaker(plan.circuit_breaker))
            case AccountOrderState(refusal):
                alerts.extend(self._refusal(refusal))
            case GuardStreamStatus(up, detail):
                alerts.extend(self._stream(up, detail, now))
        return [*alerts, *self._due(now)]

    def run_ended(self, result: RunResult, now: float) -> list[Alert]:
        """A run's own conditions, from its result: an account that refused orders, a paused
        breaker and — unless it was a dry run, which covers nothing — positions it left bare.
        Those are alerted at once: the run had its chance to cover them."""
        alerts = list(self._refusal(result.account_refusal))
        if result.circuit_breaker is not None:
            alerts.extend(self._breaker(result.circuit_breaker))
        if not result.dry_run:
            bare = {position.symbol for position in result.positions if not position.protected}
            for symbol in bare:
                self._bare_since.setdefault(symbol, now)
            new = sorted(bare - self._bare_alerted)
            self._bare_alerted.update(new)
            if new:
                alerts.append(Alert(Condition.BARE, True, tuple(new), "the run ended with them"))
        return alerts

    def guard_stopped(self, *, covered: bool) -> list[Alert]:
        """A guard that stops with positions bare leaves them to nobody: said once, never
        cleared, whatever was alerted before."""
        if covered:
            return []
        return [Alert(Condition.GUARD_STOPPED_BARE, True, self.bare)]

    def _read(self, bare: set[str], now: float) -> list[Alert]:
        for symbol in list(self._bare_since):
            if symbol not in bare:
                del self._bare_since[symbol]
        for symbol in bare:
            self._bare_since.setdefault(symbol, now)
        covered = sorted(self._bare_alerted - bare)
        self._bare_alerted.difference_update(covered)
        return [Alert(Condition.BARE, False, tuple(covered))] if covered else []

    def _due(self, now: float) -> list[Alert]:
        alerts = []
        due = sorted(
            symbol
            for symbol, since in self._bare_since.items()
            if now - since >= self._bare_after and symbol not in self._bare_alerted
        )
        if due:
            self._bare_alerted.update(due)
            detail = f"for more than {self._bare_after:g} s in the guard's reads"
            alerts.append(Alert(Condition.BARE, True, tuple(due), detail))
        down_since = self._stream_down_since
        if down_since is not None and now - down_since >= self._stream_down_after:
            detail = f"for more than {self._stream_down_after:g} s ({self._stream_detail})"
            alerts.extend(self._hold(Condition.STREAM_DOWN, True, detail))
        return alerts

    def _breaker(self, breaker: CircuitBreakerState) -> list[Alert]:
        return self._hold(Condition.BREAKER_PAUSED, breaker.paused, breaker.reason or "")

    def _refusal(self, refusal: str | None) -> list[Alert]:
        return self._hold(Condition.ACCOUNT_REFUSES, refusal is not None, refusal or "")

    def _stream(self, up: bool, detail: str, now: float) -> list[Alert]:
        if up:
            self._stream_down_since = None
            return self._hold(Condition.STREAM_DOWN, False, detail)
        if self._stream_down_since is None:
            self._stream_down_since = now
        self._stream_detail = detail
        return []

    def _hold(self, condition: Condition, holds: bool, detail: str) -> list[Alert]:
        """An account-wide condition's change, if it is one."""
        if holds == (condition in self._holding):
            return []
        if holds:
            self._holding.add(condition)
        else:
            self._holding.discard(condition)
        return [Alert(condition, holds, (), detail)]


def bare_in(diff: Diff) -> set[str]:
    """The broker's positions not covered by stops it reports working: a stop still pending
    protects nothing yet."""
    return {
        row.symbol
        for row in diff.positions
        if row.broker is not None and row.protection is not Protection.PROTECTED
    }


def message(alert: Alert, account: AccountLabel) -> tuple[str, str]:
    """The title and body of an alert, as the operator's phone shows them."""
    what, raised, cleared = _WORDS[alert.condition]
    text = (raised if alert.raised else cleared).format(
        symbols=_named(alert.symbols), detail=alert.detail
    )
    if alert.raised:
        return f"recon: {what} — {account}", f"{account}: {text}"
    return f"recon cleared: {what} — {account}", f"Cleared on {account}: {text}"


# Per condition: what it is, said when it is raised, and said when it clears. A guard that
# stopped is never cleared: nobody is left to see it clear.
_WORDS: dict[Condition, tuple[str, str, str]] = {
    Condition.BARE: (
        "positions bare",
        "{symbols} bare — no stop the broker reports working covers them ({detail}).",
        "{symbols} covered by working stops again.",
    ),
    Condition.BREAKER_PAUSED: (
        "circuit breaker paused",
        "the circuit breaker paused: {detail}.",
        "the circuit breaker is no longer paused.",
    ),
    Condition.ACCOUNT_REFUSES: (
        "account refuses orders",
        "the broker refuses every order on the account ({detail}): no stop can be placed "
        "until it takes them again.",
        "the broker takes orders on the account again.",
    ),
    Condition.STREAM_DOWN: (
        "trade stream down",
        "the trade_updates stream has been down {detail}; the guard covers from its sweeps "
        "meanwhile.",
        "the trade_updates stream is up again.",
    ),
    Condition.GUARD_STOPPED_BARE: (
        "guard stopped with positions bare",
        "the guard stopped with {symbols} bare: nothing covers them now.",
        "",
    ),
}


def _named(symbols: tuple[str, ...]) -> str:
    if not symbols:
        return "positions"
    named = ", ".join(symbols[:SYMBOLS_NAMED])
    more = len(symbols) - SYMBOLS_NAMED
    return f"{named} and {more} more" if more > 0 else named
