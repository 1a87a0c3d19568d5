"""Every one of Alpaca's 18 order statuses has a local meaning."""

from engine.broker.status_map import STATUS_MEANINGS, meaning_of
from engine.domain import BrokerOrderStatus, OrderState


def test_all_eighteen_statuses_are_mapped() -> None:
    assert len(BrokerOrderStatus) == 18
    assert set(STATUS_MEANINGS) == set(BrokerOrderStatus)


def test_broker_terminal_statuses_force_terminal_local_states() -> None:
    for status in ("filled", "canceled", "expired", "rejected"):
        meaning = meaning_of(BrokerOrderStatus(status))
        assert meaning.local_state is not None and meaning.local_state.is_terminal
        assert not meaning.is_open


def test_transient_statuses_change_nothing() -> None:
    for status in ("pending_new", "pending_cancel", "pending_replace", "held", "done_for_day"):
        assert meaning_of(BrokerOrderStatus(status)).local_state is None


def test_only_working_statuses_protect_a_position() -> None:
    protecting = {status for status, meaning in STATUS_MEANINGS.items() if meaning.protects}
    assert protecting == {
        BrokerOrderStatus.NEW,
        BrokerOrderStatus.ACCEPTED,
        BrokerOrderStatus.ACCEPTED_FOR_BIDDING,
        BrokerOrderStatus.PARTIALLY_FILLED,
        BrokerOrderStatus.PENDING_REPLACE,
    }


def test_replaced_is_closed_but_forces_nothing_itself() -> None:
    meaning = meaning_of(BrokerOrderStatus.REPLACED)
    assert meaning.local_state is None and not meaning.is_open


def test_a_protecting_status_is_always_open() -> None:
    assert all(meaning.is_open for meaning in STATUS_MEANINGS.values() if meaning.protects)


def test_accepted_maps_to_local_accepted() -> None:
    assert meaning_of(BrokerOrderStatus.NEW).local_state is OrderState.ACCEPTED
