"""The guard's Prometheus figures, worked out from its events into a registry of recon's own,
each under the account's number — once the first run has told it."""

from decimal import Decimal

from prometheus_client import generate_latest

from engine.reconcile.actions import ActionKind, Phase, PlanAction
from engine.reconcile.diff import diff
from engine.reconcile.events import (
    ActionFailed,
    ActionSkipped,
    ActionSucceeded,
    GuardChecked,
    GuardRunFinished,
    GuardStreamStatus,
    RateLimitWaiting,
)
from engine.reconcile.result import AccountSummary, PositionOutcome, RunResult
from engine.watch.metrics import AccountMetrics, Metrics
from tests.factories import (
    NOW,
    QUIET_BREAKER,
    make_broker_order,
    make_position,
    make_snapshot,
)


def read(*, bare: tuple[str, ...] = (), covered: tuple[str, ...] = ()) -> GuardChecked:
    snapshot = make_snapshot(
        positions=tuple(make_position(symbol) for symbol in (*bare, *covered)),
        open_orders=tuple(make_broker_order(symbol) for symbol in covered),
    )
    return GuardChecked(diff(snapshot), {symbol: 0.0 for symbol in bare}, NOW, QUIET_BREAKER)


def ended(number: str, *, bare: tuple[str, ...] = (), covered: tuple[str, ...] = ()) -> RunResult:
    outcomes = [(symbol, False) for symbol in bare] + [(symbol, True) for symbol in covered]
    return RunResult(
        run_id="run-1",
        dry_run=False,
        account=AccountSummary(number, "PK…7Q", paper=True),
        positions=tuple(
            PositionOutcome(symbol, Decimal(10), "long", protected, ())
            for symbol, protected in outcomes
        ),
    )


def stop(symbol: str) -> PlanAction:
    return PlanAction(1, Phase.POSITIONS, ActionKind.EMERGENCY_STOP, symbol, symbol, "uncovered")


def scraped(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_a_bare_position_reads_as_one_unprotected_until_it_is_covered() -> None:
    metrics = Metrics()
    account = AccountMetrics(metrics)
    account.run_ended(ended("PA1", covered=("AAPL", "MSFT")))
    account(read(bare=("AAPL",), covered=("MSFT",)))
    while_bare = scraped(metrics)
    account(read(covered=("AAPL", "MSFT")))
    after = scraped(metrics)
    assert 'recon_positions_unprotected{account="PA1"} 1.0' in while_bare
    assert 'recon_positions{account="PA1"} 2.0' in while_bare
    swept = metrics.registry.get_sample_value(
        "recon_last_sweep_timestamp_seconds", {"account": "PA1"}
    )
    assert swept == NOW.timestamp()
    assert 'recon_positions_unprotected{account="PA1"} 0.0' in after


def test_what_the_first_run_did_is_written_under_the_account_once_it_is_known() -> None:
    metrics = Metrics()
    account = AccountMetrics(metrics)
    account(ActionSucceeded(stop("AAPL"), "placed"))
    account(ActionSucceeded(stop("MSFT"), "placed"))
    account(ActionFailed(stop("NVDA"), "rejected"))
    account(RateLimitWaiting(3, NOW))
    assert "PA1" not in scraped(metrics)
    account.run_ended(ended("PA1", bare=("NVDA",), covered=("AAPL", "MSFT")))
    account(ActionSkipped(stop("NVDA"), "kept"))
    text = scraped(metrics)
    assert (
        'recon_actions_total{account="PA1",kind="emergency_stop",outcome="succeeded"} 2.0' in text
    )
    assert 'recon_actions_total{account="PA1",kind="emergency_stop",outcome="failed"} 1.0' in text
    assert 'recon_actions_total{account="PA1",kind="emergency_stop",outcome="skipped"} 1.0' in text
    assert 'recon_rate_limit_waiting_requests{account="PA1"} 3.0' in text
    assert 'recon_last_run_exit_code{account="PA1"} 1.0' in text
    assert 'recon_positions_unprotected{account="PA1"} 1.0' in text
    assert 'recon_stream_up{account="PA1"} 0.0' in text


def test_each_run_of_the_guard_s_own_sets_the_last_exit_code() -> None:
    metrics = Metrics()
    account = AccountMetrics(metrics)
    account.run_ended(ended("PA1", covered=("AAPL",)))
    assert 'recon_last_run_exit_code{account="PA1"} 0.0' in scraped(metrics)
    account(GuardRunFinished("guard-1", 1))
    assert 'recon_last_run_exit_code{account="PA1"} 1.0' in scraped(metrics)
    account(GuardRunFinished("guard-2", 0))
    assert 'recon_last_run_exit_code{account="PA1"} 0.0' in scraped(metrics)


def test_two_accounts_share_one_registry_each_under_its_own_number() -> None:
    metrics = Metrics()
    alpha, bravo = AccountMetrics(metrics), AccountMetrics(metrics)
    alpha.run_ended(ended("PA1", covered=("AAPL",)))
    bravo.run_ended(ended("PA2", bare=("TSLA",)))
    alpha(GuardStreamStatus(True, "trade_updates stream up"))
    text = scraped(metrics)
    assert 'recon_stream_up{account="PA1"} 1.0' in text
    assert 'recon_stream_up{account="PA2"} 0.0' in text
    assert 'recon_positions_unprotected{account="PA1"} 0.0' in text
    assert 'recon_positions_unprotected{account="PA2"} 1.0' in text
