"""Which alerts go out, worked out from the engine's events on a fake monotonic clock: each
condition raised once while it holds, then one "cleared" — and every message names the account
and the symbols, never a secret."""

from decimal import Decimal

from engine.reconcile.actions import Plan
from engine.reconcile.circuit_breaker import CircuitBreakerState
from engine.reconcile.diff import diff
from engine.reconcile.events import (
    AccountOrderState,
    GuardChecked,
    GuardStreamStatus,
    SnapshotReady,
)
from engine.reconcile.result import AccountSummary, PositionOutcome, RunResult
from engine.watch.alerts import (
    STREAM_DOWN_ALERT_SECONDS,
    AccountLabel,
    Alert,
    AlertTracker,
    Condition,
    message,
)
from tests.factories import (
    NOW,
    QUIET_BREAKER,
    make_broker_order,
    make_position,
    make_snapshot,
)

GRACE_AND_SWEEP = 25.0
ACCOUNT = AccountLabel(masked_key_id="PK…7Q", number="PA3RECON0001")


def read(
    *,
    bare: tuple[str, ...] = (),
    covered: tuple[str, ...] = (),
    circuit_breaker: CircuitBreakerState = QUIET_BREAKER,
) -> GuardChecked:
    """A guard's read of a book holding these positions, the `covered` ones under a working
    stop for every share."""
    snapshot = make_snapshot(
        positions=tuple(make_position(symbol) for symbol in (*bare, *covered)),
        open_orders=tuple(make_broker_order(symbol) for symbol in covered),
    )
    return GuardChecked(diff(snapshot), {symbol: 0.0 for symbol in bare}, NOW, circuit_breaker)


def paused(reason: str | None) -> CircuitBreakerState:
    return CircuitBreakerState(
        paused=reason is not None,
        reason=reason,
        daily_realized_pnl=Decimal("-3100"),
        consecutive_losses=1,
        daily_loss_limit=Decimal("3000"),
    )


def breaker(reason: str | None) -> SnapshotReady:
    return SnapshotReady(read().diff, Plan((), paused(reason), ()))


def run(
    *, bare: tuple[str, ...] = (), dry_run: bool = False, refusal: str | None = None
) -> RunResult:
    return RunResult(
        run_id="run-1",
        dry_run=dry_run,
        account=AccountSummary("PA3RECON0001", "PK…7Q", paper=True, order_refusal=refusal),
        positions=tuple(
            PositionOutcome(symbol, Decimal(100), "long", protected=False, stop_order_ids=())
            for symbol in bare
        ),
        account_refusal=refusal,
    )


def test_a_position_bare_past_the_grace_and_a_sweep_is_alerted_once_then_cleared_once() -> None:
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    assert tracker.observe(read(bare=("AAPL",), covered=("MSFT",)), now=100.0) == []
    assert tracker.observe(read(bare=("AAPL",), covered=("MSFT",)), now=124.9) == []
    raised = tracker.observe(read(bare=("AAPL",), covered=("MSFT",)), now=125.0)
    later = [tracker.observe(read(bare=("AAPL",)), now=125.0 + 15 * n) for n in range(1, 20)]
    cleared = tracker.observe(read(covered=("AAPL", "MSFT")), now=500.0)
    again = tracker.observe(read(covered=("AAPL", "MSFT")), now=515.0)

    assert [(a.condition, a.raised, a.symbols) for a in raised] == [
        (Condition.BARE, True, ("AAPL",))
    ]
    assert later == [[]] * 19
    assert cleared == [Alert(Condition.BARE, False, ("AAPL",))]
    assert again == []


def test_a_position_the_guard_covers_within_its_grace_and_a_sweep_is_never_alerted() -> None:
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    heard = [
        tracker.observe(read(bare=("NVDA",)), now=0.0),
        tracker.observe(read(bare=("NVDA",)), now=10.0),
        tracker.observe(read(covered=("NVDA",)), now=11.0),
        tracker.observe(read(bare=("NVDA",)), now=20.0),  # bare again: its wait starts again
        tracker.observe(read(bare=("NVDA",)), now=44.0),
    ]
    assert heard == [[]] * 5


def test_a_second_position_going_bare_is_alerted_on_its_own() -> None:
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    tracker.observe(read(bare=("AAPL",)), now=0.0)
    first = tracker.observe(read(bare=("AAPL", "MSFT")), now=30.0)
    second = tracker.observe(read(bare=("AAPL", "MSFT")), now=55.0)
    assert [a.symbols for a in first] == [("AAPL",)]
    assert [a.symbols for a in second] == [("MSFT",)]


def test_a_stream_down_past_its_bound_is_alerted_once_and_cleared_when_it_is_up() -> None:
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    down = GuardStreamStatus(False, "connection limit exceeded; polling, next try in 60s")
    assert tracker.observe(down, now=0.0) == []
    assert tracker.observe(read(), now=STREAM_DOWN_ALERT_SECONDS - 1) == []
    raised = tracker.observe(read(), now=STREAM_DOWN_ALERT_SECONDS)
    assert tracker.observe(down, now=STREAM_DOWN_ALERT_SECONDS + 60) == []
    cleared = tracker.observe(GuardStreamStatus(True, "trade_updates stream up"), now=400.0)

    assert [(a.condition, a.raised) for a in raised] == [(Condition.STREAM_DOWN, True)]
    assert "connection limit exceeded" in raised[0].detail
    assert [(a.condition, a.raised) for a in cleared] == [(Condition.STREAM_DOWN, False)]


def test_a_stream_that_drops_and_comes_back_within_its_bound_is_never_alerted() -> None:
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    heard = [
        tracker.observe(GuardStreamStatus(False, "stream dropped"), now=0.0),
        tracker.observe(GuardStreamStatus(True, "trade_updates stream up"), now=1.0),
        tracker.observe(read(), now=STREAM_DOWN_ALERT_SECONDS + 1),
    ]
    assert heard == [[]] * 3


def test_an_account_refusing_orders_is_alerted_once_and_cleared_when_it_takes_them() -> None:
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    raised = tracker.observe(AccountOrderState("trading_blocked"), now=0.0)
    assert tracker.observe(AccountOrderState("trading_blocked"), now=15.0) == []
    cleared = tracker.observe(AccountOrderState(None), now=30.0)
    assert raised == [Alert(Condition.ACCOUNT_REFUSES, True, (), "trading_blocked")]
    assert [(a.condition, a.raised) for a in cleared] == [(Condition.ACCOUNT_REFUSES, False)]


def test_a_paused_circuit_breaker_is_alerted_once_and_cleared_once() -> None:
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    reason = "daily loss 3100 reached the limit 3000.00"
    raised = tracker.observe(breaker(reason), now=0.0)
    assert tracker.observe(breaker(reason), now=1.0) == []
    cleared = tracker.observe(breaker(None), now=2.0)
    assert raised == [Alert(Condition.BREAKER_PAUSED, True, (), reason)]
    assert [(a.condition, a.raised) for a in cleared] == [(Condition.BREAKER_PAUSED, False)]


def test_a_breaker_that_pauses_while_the_guard_watches_is_alerted_from_its_reads() -> None:
    """Stops fill while nothing else happens: the day's losses cross the limit between two of
    the guard's reads, and the next read says so."""
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    reason = "daily loss 3100 reached the limit 3000.00"
    assert tracker.observe(read(covered=("AAPL",)), now=0.0) == []
    raised = tracker.observe(read(covered=("AAPL",), circuit_breaker=paused(reason)), now=5.0)
    again = tracker.observe(read(covered=("AAPL",), circuit_breaker=paused(reason)), now=10.0)
    cleared = tracker.observe(read(covered=("AAPL",)), now=15.0)
    assert raised == [Alert(Condition.BREAKER_PAUSED, True, (), reason)]
    assert again == []
    assert [(a.condition, a.raised) for a in cleared] == [(Condition.BREAKER_PAUSED, False)]


def test_a_run_that_ends_with_positions_bare_is_alerted_at_once_and_not_again_by_the_guard() -> (
    None
):
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    ended = tracker.run_ended(run(bare=("AAPL",)), now=0.0)
    guarded = [tracker.observe(read(bare=("AAPL",)), now=15.0 * n) for n in range(1, 6)]
    cleared = tracker.observe(read(covered=("AAPL",)), now=90.0)
    assert [(a.condition, a.raised, a.symbols) for a in ended] == [
        (Condition.BARE, True, ("AAPL",))
    ]
    assert guarded == [[]] * 5
    assert cleared == [Alert(Condition.BARE, False, ("AAPL",))]


def test_a_run_on_an_account_that_refuses_orders_is_alerted_and_the_guard_clears_it() -> None:
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    ended = tracker.run_ended(run(refusal="account_blocked"), now=0.0)
    assert tracker.observe(AccountOrderState("account_blocked"), now=1.0) == []
    cleared = tracker.observe(AccountOrderState(None), now=60.0)
    assert ended == [Alert(Condition.ACCOUNT_REFUSES, True, (), "account_blocked")]
    assert [a.raised for a in cleared] == [False]


def test_a_dry_run_alerts_no_bare_position_since_it_covers_none() -> None:
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    assert tracker.run_ended(run(bare=("AAPL",), dry_run=True), now=0.0) == []


def test_a_guard_stopped_with_positions_bare_says_so_whatever_was_alerted_before() -> None:
    tracker = AlertTracker(bare_after=GRACE_AND_SWEEP)
    tracker.observe(read(bare=("AAPL", "TSLA"), covered=("MSFT",)), now=0.0)
    tracker.observe(read(bare=("AAPL", "TSLA"), covered=("MSFT",)), now=30.0)
    assert tracker.guard_stopped(covered=False) == [
        Alert(Condition.GUARD_STOPPED_BARE, True, ("AAPL", "TSLA"))
    ]
    assert tracker.guard_stopped(covered=True) == []


def test_every_message_names_the_account_its_masked_key_and_the_symbols() -> None:
    alerts = [
        Alert(Condition.BARE, True, ("AAPL", "MSFT"), "for more than 25 s in the guard's reads"),
        Alert(Condition.BARE, False, ("AAPL",)),
        Alert(Condition.BREAKER_PAUSED, True, (), "3 consecutive losses (pause at 3)"),
        Alert(Condition.ACCOUNT_REFUSES, True, (), "trading_blocked"),
        Alert(Condition.STREAM_DOWN, True, (), "for more than 180 s (stream dropped)"),
        Alert(Condition.GUARD_STOPPED_BARE, True, ("TSLA",)),
    ]
    for alert in alerts:
        title, body = message(alert, ACCOUNT)
        assert "PA3RECON0001" in title and "PK…7Q" in title
        assert "account PA3RECON0001 (key PK…7Q)" in body
        assert all(symbol in body for symbol in alert.symbols)
        assert title.startswith("recon cleared:" if not alert.raised else "recon:")
    assert message(alerts[0], ACCOUNT)[1] == (
        "account PA3RECON0001 (key PK…7Q): AAPL, MSFT bare — no stop the broker reports "
        "working covers them (for more than 25 s in the guard's reads)."
    )
    assert message(alerts[1], ACCOUNT)[1] == (
        "Cleared on account PA3RECON0001 (key PK…7Q): AAPL covered by working stops again."
    )


def test_a_whole_book_bare_at_once_is_one_message_naming_twenty_symbols() -> None:
    symbols = tuple(f"S{n:03d}" for n in range(300))
    _, body = message(Alert(Condition.BARE, True, symbols, "the run ended with them"), ACCOUNT)
    assert "S019 and 280 more bare" in body
    assert "S020" not in body
