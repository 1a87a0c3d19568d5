"""The order state machine: its table, and the gate on force_state."""

import pytest

from engine.domain import TERMINAL_STATES, OrderState
from engine.state_machine import (
    TRANSITIONS,
    ForceNotAllowed,
    IllegalTransition,
    OrderStateMachine,
)


def test_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(OrderState)


def test_terminal_states_are_the_five_of_the_spec() -> None:
    assert {state.value for state in TERMINAL_STATES} == {
        "filled",
        "canceled",
        "expired",
        "rejected",
        "submit_failed",
    }


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATES))
def test_terminal_state_has_no_way_out(terminal: OrderState) -> None:
    machine = OrderStateMachine(terminal)
    for new_state in OrderState:
        assert not machine.can_transition(new_state)


def test_submitted_order_may_fill() -> None:
    machine = OrderStateMachine(OrderState.SUBMITTED)
    assert machine.transition(OrderState.FILLED) is OrderState.FILLED
    assert machine.state is OrderState.FILLED


def test_partial_fill_may_follow_partial_fill() -> None:
    machine = OrderStateMachine(OrderState.PARTIALLY_FILLED)
    assert machine.transition(OrderState.PARTIALLY_FILLED) is OrderState.PARTIALLY_FILLED


def test_illegal_transition_is_refused_and_state_kept() -> None:
    machine = OrderStateMachine(OrderState.PENDING_SUBMIT)
    with pytest.raises(IllegalTransition, match="pending_submit to filled"):
        machine.transition(OrderState.FILLED)
    assert machine.state is OrderState.PENDING_SUBMIT


def test_force_state_without_opt_in_raises() -> None:
    machine = OrderStateMachine(OrderState.SUBMITTED)
    with pytest.raises(ForceNotAllowed):
        machine.force_state(OrderState.CANCELED)
    assert machine.state is OrderState.SUBMITTED


def test_reconciliation_may_force_an_edge_the_table_lacks() -> None:
    machine = OrderStateMachine(OrderState.PENDING_SUBMIT)
    assert not machine.can_transition(OrderState.FILLED)
    assert machine.force_state(OrderState.FILLED, _reconciliation=True) is OrderState.FILLED


def test_forcing_a_terminal_order_elsewhere_is_refused() -> None:
    machine = OrderStateMachine(OrderState.CANCELED)
    with pytest.raises(IllegalTransition, match="terminal"):
        machine.force_state(OrderState.FILLED, _reconciliation=True)
    assert machine.state is OrderState.CANCELED
