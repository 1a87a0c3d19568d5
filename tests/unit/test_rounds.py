"""The closed loop's pure parts: what a run may still do of a fresh plan, given what it asked
and sent in earlier rounds; groups known however they are listed; what a re-read found."""

from dataclasses import replace
from datetime import datetime
from typing import cast

from engine.broker.protocol import Broker
from engine.domain import BrokerOrder, BrokerOrderStatus, OrderClass, OrderType, Side
from engine.reconcile.actions import ActionKind, Plan
from engine.reconcile.changes import changes_between
from engine.reconcile.diff import diff
from engine.reconcile.events import Decision
from engine.reconcile.groups import UNLISTED_GROUP_PREFIX, resolve_groups, with_known_groups
from engine.reconcile.outcomes import ActionResult, Outcome, Refusal
from engine.reconcile.plan import plan
from engine.reconcile.rounds import STOP_SUBMIT_ATTEMPTS, RunMemory
from tests.aside import run_aside
from tests.factories import (
    SETTINGS,
    D,
    broker_id,
    make_broker_order,
    make_filled_entry,
    make_position,
    make_snapshot,
)

BARE_AAPL = make_snapshot(
    positions=(make_position("AAPL", "100", entry="100", current="101"),),
    position_orders=(make_filled_entry("AAPL", price="100"),),
)
ORPHAN = make_broker_order("GOOGL", Side.BUY, "10", OrderType.LIMIT, stop_price=None,
                           limit_price="150")  # fmt: skip


def bare_aapl_plan() -> Plan:
    return plan(BARE_AAPL, diff(BARE_AAPL), SETTINGS)


def refused(plan_: Plan, kind: ActionKind, refusal: Refusal) -> list[ActionResult]:
    return [
        ActionResult(action, Outcome.FAILED, "refused", refusal=refusal)
        for action in plan_.actions
        if action.kind is kind
    ]


def kinds(plan_: Plan) -> list[ActionKind]:
    return [action.kind for action in plan_.actions]


def test_an_order_put_to_the_operator_is_not_put_again() -> None:
    snapshot = make_snapshot(open_orders=(ORPHAN,))
    first = plan(snapshot, diff(snapshot), SETTINGS)
    memory = RunMemory()
    [cancel] = first.actions
    memory.remember([ActionResult(cancel, Outcome.SKIPPED, "kept", Decision.DECLINED)])
    assert memory.remaining(first).is_empty


def test_a_stop_refused_by_a_rule_of_its_terms_is_not_planned_again_unchanged() -> None:
    first = bare_aapl_plan()
    memory = RunMemory()
    memory.remember(refused(first, ActionKind.EMERGENCY_STOP, Refusal.TERMS_RULE))
    assert memory.remaining(bare_aapl_plan()).is_empty


def test_a_stop_refused_by_a_rule_goes_again_once_its_terms_change() -> None:
    memory = RunMemory()
    memory.remember(refused(bare_aapl_plan(), ActionKind.EMERGENCY_STOP, Refusal.TERMS_RULE))
    fallen = make_snapshot(
        positions=(make_position("AAPL", "100", entry="100", current="97"),),
        position_orders=(make_filled_entry("AAPL", price="100"),),
    )
    again = memory.remaining(plan(fallen, diff(fallen), SETTINGS))
    assert kinds(again) == [ActionKind.EMERGENCY_STOP]
    [stop] = again.actions
    assert stop.new_order is not None and stop.new_order.stop_price == D("95.06")


def test_a_stop_refused_for_no_rule_is_tried_again_then_closed_at_market() -> None:
    memory = RunMemory()
    for _ in range(STOP_SUBMIT_ATTEMPTS):
        todo = memory.remaining(bare_aapl_plan())
        assert kinds(todo) == [ActionKind.EMERGENCY_STOP]
        memory.remember(refused(todo, ActionKind.EMERGENCY_STOP, Refusal.UNFORESEEN))
    [exit_] = memory.remaining(bare_aapl_plan()).actions
    assert exit_.kind is ActionKind.MARKET_EXIT
    assert exit_.new_order is not None
    assert (exit_.new_order.side, exit_.new_order.qty) == (Side.SELL, D(100))
    assert exit_.new_order.order_type is OrderType.MARKET
    assert exit_.target.startswith("recon-exit-AAPL-")
    memory.remember([ActionResult(exit_, Outcome.FAILED, "closed")])
    assert memory.remaining(bare_aapl_plan()).is_empty  # one market exit, never two


def test_no_market_exit_where_a_rule_of_the_symbol_refused_the_stop() -> None:
    memory = RunMemory()
    memory.remember(refused(bare_aapl_plan(), ActionKind.EMERGENCY_STOP, Refusal.SYMBOL_RULE))
    for _ in range(STOP_SUBMIT_ATTEMPTS):
        memory.remember(refused(bare_aapl_plan(), ActionKind.EMERGENCY_STOP, Refusal.UNFORESEEN))
    assert memory.remaining(bare_aapl_plan()).is_empty


def test_a_refusal_by_a_rule_of_the_symbol_is_forgotten_once_recon_cancels_in_that_symbol() -> None:
    memory = RunMemory()
    memory.remember(refused(bare_aapl_plan(), ActionKind.EMERGENCY_STOP, Refusal.SYMBOL_RULE))
    assert memory.remaining(bare_aapl_plan()).is_empty
    blocker = make_broker_order("AAPL", Side.BUY, "10", OrderType.LIMIT, stop_price=None,
                                limit_price="95")  # fmt: skip
    blocked = make_snapshot(
        positions=BARE_AAPL.broker.positions,
        open_orders=(blocker,),
        position_orders=BARE_AAPL.local.position_orders,
    )
    [cancel, _] = plan(blocked, diff(blocked), SETTINGS).actions
    memory.remember([ActionResult(cancel, Outcome.SUCCEEDED, "canceled", Decision.CONFIRMED)])
    assert kinds(memory.remaining(bare_aapl_plan())) == [ActionKind.EMERGENCY_STOP]


# Groups however listed ----------------------------------------------------------------------

PARENT = broker_id(900)
TAKE_PROFIT = make_broker_order(
    "NVDA", Side.SELL, "10", OrderType.LIMIT, stop_price=None, limit_price="540",
    order_class=OrderClass.BRACKET,
)  # fmt: skip
HELD_STOP = make_broker_order(
    "NVDA", Side.SELL, "10", OrderType.STOP, stop_price="480", status=BrokerOrderStatus.HELD,
    order_class=OrderClass.BRACKET,
)  # fmt: skip
ENTRY = make_broker_order(
    "NVDA", Side.BUY, "10", OrderType.MARKET, stop_price=None, status=BrokerOrderStatus.FILLED,
    filled_qty="10", filled_avg_price="495", id=PARENT, order_class=OrderClass.BRACKET,
    group_id=PARENT,
)  # fmt: skip


def in_group(order: BrokerOrder) -> BrokerOrder:
    return replace(order, group_id=PARENT)


def test_legs_listed_flat_take_their_group_from_a_nested_listing_and_the_held_leg_comes_back() -> (
    None
):
    nested = [ENTRY, in_group(TAKE_PROFIT), in_group(HELD_STOP)]
    listed = with_known_groups([TAKE_PROFIT], nested)
    assert [(o.id, o.group_id) for o in listed] == [
        (TAKE_PROFIT.id, PARENT),
        (HELD_STOP.id, PARENT),
    ]


class NoGroupsFound:
    """A broker whose lookups find no parent for a flat leg."""

    async def get_group_orders(self, symbol: str, until: datetime) -> list[BrokerOrder]:
        return []


def test_legs_no_listing_names_are_one_group_per_symbol_side_and_class() -> None:
    broker = cast(Broker, NoGroupsFound())
    listed = run_aside(resolve_groups(broker, [TAKE_PROFIT, HELD_STOP], []))
    groups = {order.group_id for order in listed}
    assert groups == {f"{UNLISTED_GROUP_PREFIX}-NVDA-sell-bracket"}


# What a re-read found -----------------------------------------------------------------------


def test_a_reread_says_which_order_ended_and_which_position_lost_its_cover() -> None:
    stop = make_broker_order("AAPL", stop_price="98")
    position = make_position("AAPL", "100", entry="100", current="101")
    before = make_snapshot(positions=(position,), open_orders=(stop,))
    canceled = make_broker_order("AAPL", stop_price="98", id=stop.id,
                                 status=BrokerOrderStatus.CANCELED)  # fmt: skip
    after = make_snapshot(positions=(position,), recent_orders=(canceled,))
    assert changes_between(before.broker, after.broker) == (
        "AAPL: now UNPROTECTED",
        f"AAPL: sell stop 100 AAPL @ 98 ({stop.id[:8]}) canceled",
    )
