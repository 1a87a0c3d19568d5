"""One account's protection book: the broker's word from each read, moved on by the stops a
run places and confirms, and set by how the run ended; the rows it says changed, and no others."""

from datetime import UTC, datetime
from decimal import Decimal

from console.protection import ProtectionBook
from engine.reconcile.actions import ActionKind, Phase, Plan, PlanAction
from engine.reconcile.diff import Diff, Match, PositionRow, Protection
from engine.reconcile.events import GuardChecked, SnapshotReady, StopConfirmed, StopSubmitted
from engine.reconcile.result import PositionOutcome
from tests.factories import QUIET_BREAKER

PROTECTED, PENDING, BARE = Protection.PROTECTED, Protection.STOP_PENDING, Protection.UNPROTECTED
AT = datetime(2026, 11, 24, 15, 31, tzinfo=UTC)


def read_as(**protection: Protection) -> Diff:
    """A read of the broker whose positions are protected as given."""
    return Diff(orders=(), positions=tuple(_row(s, p) for s, p in protection.items()))


def _row(symbol: str, protection: Protection) -> PositionRow:
    return PositionRow(
        match=Match.MATCHED,
        symbol=symbol,
        broker=None,
        local_side=None,
        local_qty=Decimal(0),
        stops=(),
        group_legs=(),
        covered_qty=Decimal(0),
        uncovered_qty=Decimal(0),
        protection=protection,
        differences=(),
    )


def stops_for(*symbols: str) -> Plan:
    """A plan placing one emergency stop per symbol named, a symbol named twice two."""
    actions = tuple(
        PlanAction(n, Phase.POSITIONS, ActionKind.EMERGENCY_STOP, symbol, symbol, "uncovered")
        for n, symbol in enumerate(symbols)
    )
    return Plan(actions, QUIET_BREAKER, findings=())


def submitted(symbol: str) -> StopSubmitted:
    return StopSubmitted(symbol, f"stop-{symbol}", Decimal(100))


def confirmed(symbol: str) -> StopConfirmed:
    return StopConfirmed(symbol, f"stop-{symbol}", Decimal(100))


def outcome(symbol: str, *, protected: bool) -> PositionOutcome:
    return PositionOutcome(symbol, Decimal(100), "long", protected, stop_order_ids=())


def heard() -> tuple[ProtectionBook, list[frozenset[str]]]:
    """A book, and what it told its listener, change by change."""
    told: list[frozenset[str]] = []
    return ProtectionBook(told.append), told


def test_a_read_gives_each_position_the_brokers_word_and_counts_the_protected() -> None:
    book, told = heard()
    book.read(read_as(AAPL=PROTECTED, NVDA=BARE, TSLA=PENDING))
    assert book.by_symbol == {"AAPL": PROTECTED, "NVDA": BARE, "TSLA": PENDING}
    assert book.protection_of("NVDA") is BARE and book.protection_of("QQQ") is None
    assert (book.protected, book.positions) == (1, 3)
    assert told == [{"AAPL", "NVDA", "TSLA"}]


def test_a_stop_submitted_turns_a_bare_position_pending_and_leaves_a_protected_one() -> None:
    book, told = heard()
    book.hear(SnapshotReady(read_as(AAPL=PROTECTED, NVDA=BARE), stops_for("NVDA")))
    book.hear(submitted("NVDA"))
    book.hear(submitted("AAPL"))
    assert book.by_symbol == {"AAPL": PROTECTED, "NVDA": PENDING}
    assert told[1:] == [{"NVDA"}]


def test_a_position_needing_two_stops_is_protected_once_both_are_confirmed() -> None:
    book, _ = heard()
    book.hear(SnapshotReady(read_as(NVDA=BARE), stops_for("NVDA", "NVDA")))
    book.hear(submitted("NVDA"))
    book.hear(confirmed("NVDA"))
    assert book.protection_of("NVDA") is PENDING
    book.hear(submitted("NVDA"))
    book.hear(confirmed("NVDA"))
    assert book.protection_of("NVDA") is PROTECTED
    assert (book.protected, book.positions) == (1, 1)


def test_stops_are_counted_against_the_plan_of_the_newest_read() -> None:
    book, _ = heard()
    book.hear(SnapshotReady(read_as(NVDA=BARE), stops_for("NVDA")))
    book.hear(confirmed("NVDA"))
    # The broker read again after the first round: its plan places two stops more.
    book.hear(SnapshotReady(read_as(NVDA=BARE), stops_for("NVDA", "NVDA")))
    book.hear(confirmed("NVDA"))
    assert book.protection_of("NVDA") is BARE
    book.hear(confirmed("NVDA"))
    assert book.protection_of("NVDA") is PROTECTED


def test_a_guard_check_between_two_confirmations_keeps_the_plans_count() -> None:
    book, _ = heard()
    book.hear(SnapshotReady(read_as(NVDA=BARE), stops_for("NVDA", "NVDA")))
    book.hear(confirmed("NVDA"))
    book.hear(
        GuardChecked(read_as(NVDA=PENDING), uncovered={}, at=AT, circuit_breaker=QUIET_BREAKER)
    )
    book.hear(confirmed("NVDA"))
    assert book.protection_of("NVDA") is PROTECTED


def test_a_run_sets_each_position_as_it_left_it() -> None:
    book, told = heard()
    book.read(read_as(AAPL=PROTECTED, NVDA=PENDING, TSLA=BARE))
    book.run_ended(
        [
            outcome("AAPL", protected=True),
            outcome("NVDA", protected=True),
            outcome("TSLA", protected=False),
            outcome("QQQ", protected=True),  # never read: no row to colour
        ]
    )
    assert book.by_symbol == {"AAPL": PROTECTED, "NVDA": PROTECTED, "TSLA": BARE}
    assert (book.protected, book.positions) == (2, 3)
    assert told[1:] == [{"NVDA"}]


def test_a_position_gone_from_the_next_read_is_forgotten() -> None:
    book, told = heard()
    book.read(read_as(AAPL=PROTECTED, NVDA=BARE))
    book.read(read_as(AAPL=PROTECTED))
    assert book.by_symbol == {"AAPL": PROTECTED}
    assert (book.protected, book.positions) == (1, 1)
    assert told[1:] == [{"NVDA"}]


def test_news_that_changes_nothing_tells_nothing() -> None:
    book, told = heard()
    book.read(read_as(AAPL=PROTECTED, NVDA=BARE))
    book.read(read_as(AAPL=PROTECTED, NVDA=BARE))
    book.hear(confirmed("AAPL"))  # protected already
    book.hear(submitted("QQQ"))  # no position the book holds
    book.hear(confirmed("QQQ"))
    assert book.by_symbol == {"AAPL": PROTECTED, "NVDA": BARE}
    assert len(told) == 1
