"""The order state machine: which local state may follow which, and the one gated door through
which reconciliation may force the broker's truth onto an order."""

from __future__ import annotations

from collections.abc import Mapping

from engine.domain import TERMINAL_STATES, OrderState

_S = OrderState

# What the trading engine may do in its normal course. A partial fill may be followed by more
# partial fills, hence the self-transition.
TRANSITIONS: Mapping[OrderState, frozenset[OrderState]] = {
    _S.PENDING_SUBMIT: frozenset({_S.SUBMITTED, _S.ACCEPTED, _S.REJECTED, _S.SUBMIT_FAILED}),
    _S.SUBMITTED: frozenset(
        {_S.ACCEPTED, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED, _S.REJECTED}
    ),
    _S.ACCEPTED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED, _S.REJECTED}),
    _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED}),
    **{terminal: frozenset() for terminal in TERMINAL_STATES},
}


class IllegalTransition(Exception):
    """A state change the table does not allow."""

    def __init__(self, old: OrderState, new: OrderState, why: str) -> None:
        super().__init__(f"order cannot go from {old} to {new}: {why}")
        self.old = old
        self.new = new


class ForceNotAllowed(Exception):
    """`force_state` was called outside a reconciliation."""


class OrderStateMachine:
    """Holds one order's state and guards every change to it."""

    def __init__(self, state: OrderState) -> None:
        self._state = state

    @property
    def state(self) -> OrderState:
        return self._state

    def can_transition(self, new_state: OrderState) -> bool:
        return new_state in TRANSITIONS[self._state]

    def transition(self, new_state: OrderState) -> OrderState:
        if not self.can_transition(new_state):
            raise IllegalTransition(self._state, new_state, "not in the transition table")
        self._state = new_state
        return new_state

    def force_state(self, new_state: OrderState, *, _reconciliation: bool = False) -> OrderState:
        """Set the state the broker reports, even where the table has no such edge (an order
        that filled while the engine was down jumps from `submitted` straight to `filled`).

        Only a reconciliation may do this, and it must say so. A terminal order stays terminal:
        what the broker has finished cannot be reopened."""
        if not _reconciliation:
            raise ForceNotAllowed("force_state is reserved for reconciliation")
        if self._state.is_terminal and new_state != self._state:
            raise IllegalTransition(self._state, new_state, "a terminal order cannot change")
        self._state = new_state
        return new_state
