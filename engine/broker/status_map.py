"""What each of Alpaca's 18 order statuses means locally: the state it forces (None for transient
statuses, which change nothing), whether the order is still open at the broker, and whether a
stop in that status actually protects a position."""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain import BrokerOrderStatus, OrderState


@dataclass(frozen=True, slots=True)
class StatusMeaning:
    local_state: OrderState | None
    is_open: bool
    protects: bool


_B = BrokerOrderStatus
_L = OrderState

STATUS_MEANINGS: dict[BrokerOrderStatus, StatusMeaning] = {
    _B.NEW: StatusMeaning(_L.ACCEPTED, is_open=True, protects=True),
    _B.ACCEPTED: StatusMeaning(_L.ACCEPTED, is_open=True, protects=True),
    _B.ACCEPTED_FOR_BIDDING: StatusMeaning(_L.ACCEPTED, is_open=True, protects=True),
    _B.PARTIALLY_FILLED: StatusMeaning(_L.PARTIALLY_FILLED, is_open=True, protects=True),
    # Still working until the broker swaps in the replacement.
    _B.PENDING_REPLACE: StatusMeaning(None, is_open=True, protects=True),
    # Received but not yet confirmed working: a stop here is pending, not protection.
    _B.PENDING_NEW: StatusMeaning(None, is_open=True, protects=False),
    _B.PENDING_REVIEW: StatusMeaning(None, is_open=True, protects=False),
    # A bracket leg waiting on its parent; it cannot trigger yet.
    _B.HELD: StatusMeaning(None, is_open=True, protects=False),
    _B.PENDING_CANCEL: StatusMeaning(None, is_open=True, protects=False),
    # Done for today; a GTC order comes back tomorrow, so it is not terminal.
    _B.DONE_FOR_DAY: StatusMeaning(None, is_open=True, protects=False),
    _B.STOPPED: StatusMeaning(None, is_open=True, protects=False),
    _B.SUSPENDED: StatusMeaning(None, is_open=True, protects=False),
    _B.CALCULATED: StatusMeaning(None, is_open=True, protects=False),
    _B.FILLED: StatusMeaning(_L.FILLED, is_open=False, protects=False),
    _B.CANCELED: StatusMeaning(_L.CANCELED, is_open=False, protects=False),
    _B.EXPIRED: StatusMeaning(_L.EXPIRED, is_open=False, protects=False),
    _B.REJECTED: StatusMeaning(_L.REJECTED, is_open=False, protects=False),
    # Terminal at the broker, but the order lives on as its successor (`replaced_by`).
    _B.REPLACED: StatusMeaning(None, is_open=False, protects=False),
}


def meaning_of(status: BrokerOrderStatus) -> StatusMeaning:
    return STATUS_MEANINGS[status]
