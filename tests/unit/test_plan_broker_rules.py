"""The plan under Alpaca's own rules (SPEC §3): wash-trade refusals, bracket and OCO groups, shares
held by a take-profit, and stops covering more than a position holds — one rule a test, over
hand-built snapshots."""

from decimal import Decimal

from engine.domain import (
    BrokerOrder,
    BrokerOrderStatus,
    LocalOrder,
    OrderClass,
    OrderRole,
    OrderState,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
)
from engine.reconcile.actions import ActionKind, Plan, PlanAction
from engine.reconcile.diff import Match, Protection, diff
from engine.reconcile.plan import plan
from engine.reconcile.snapshot import Snapshot
from tests.factories import (
    NOW,
    SETTINGS,
    D,
    broker_id,
    make_broker_order,
    make_filled_entry,
    make_local_order,
    make_position,
    make_snapshot,
)

AAPL_LONG = make_position("AAPL", "100", entry="187.20", current="189.50")


def plan_for(snapshot: Snapshot) -> Plan:
    return plan(snapshot, diff(snapshot), SETTINGS)


def only(result: Plan, kind: ActionKind) -> PlanAction:
    matching = [action for action in result.actions if action.kind is kind]
    assert len(matching) == 1, [action.kind for action in result.actions]
    return matching[0]


def group(
    order_class: OrderClass, *legs: tuple[Side, OrderType, str, str, BrokerOrderStatus]
) -> tuple[BrokerOrder, ...]:
    """Open members of one bracket or OCO, the first listed being the parent."""
    parent_id = broker_id()
    members = []
    for n, (side, order_type, qty, price, status) in enumerate(legs):
        stop = order_type is OrderType.STOP
        members.append(
            make_broker_order(
                "AAPL",
                side,
                qty,
                order_type,
                status,
                stop_price=price if stop else None,
                limit_price=None if stop else price,
                id=parent_id if n == 0 else None,
                order_class=order_class,
                group_id=parent_id,
            )
        )
    return tuple(members)


def take_profit_and_held_stop(order_class: OrderClass, qty: str = "100") -> tuple[BrokerOrder, ...]:
    return group(
        order_class,
        (Side.SELL, OrderType.LIMIT, qty, "200", BrokerOrderStatus.NEW),
        (Side.SELL, OrderType.STOP, qty, "180", BrokerOrderStatus.HELD),
    )


# Wash trades -------------------------------------------------------------------------------


def scaling_in_entry() -> tuple[BrokerOrder, LocalOrder]:
    """The engine's own buy limit adding to the long position, working on the broker."""
    order = make_broker_order(
        "AAPL", Side.BUY, "50", OrderType.LIMIT, stop_price=None, limit_price="185"
    )
    local = make_local_order(
        "AAPL-add", "AAPL", Side.BUY, OrderRole.ENTRY, OrderType.LIMIT, OrderState.ACCEPTED,
        qty="50", stop_price=None, broker_id=order.id, limit_price="185",
    )  # fmt: skip
    return order, local


def test_a_buy_limit_scaling_in_blocks_the_long_stop_and_waits_for_the_operator() -> None:
    order, local = scaling_in_entry()
    result = plan_for(
        make_snapshot(
            positions=(AAPL_LONG,),
            open_orders=(order,),
            local_open=(local,),
            position_orders=(make_filled_entry("AAPL"),),
        )
    )
    blocking = only(result, ActionKind.CANCEL_BLOCKING_ORDER)
    stop = only(result, ActionKind.EMERGENCY_STOP)
    assert blocking.needs_decision and blocking.target == order.id
    assert blocking.local_order == local
    assert "blocks AAPL's stop: Alpaca refuses a stop while this buy is open" in blocking.reason
    assert stop.blocked_by == (order,)
    assert blocking.seq < stop.seq


def test_an_orphan_sell_limit_blocking_a_shorts_stop_says_so_in_its_cancellation() -> None:
    short = make_position("TSLA", "50", side=PositionSide.SHORT, entry="251")
    orphan = make_broker_order(
        "TSLA", Side.SELL, "10", OrderType.LIMIT, stop_price=None, limit_price="260"
    )
    result = plan_for(
        make_snapshot(
            positions=(short,),
            open_orders=(orphan,),
            position_orders=(make_filled_entry("TSLA", "50", Side.SELL, "251"),),
        )
    )
    cancel = only(result, ActionKind.CANCEL_ORPHAN)
    assert "it blocks TSLA's stop: Alpaca refuses a stop while this sell is open" in cancel.reason
    assert only(result, ActionKind.EMERGENCY_STOP).blocked_by == (orphan,)


def test_a_covered_position_asks_nothing_of_an_order_on_the_other_side() -> None:
    order, local = scaling_in_entry()
    stop = make_broker_order("AAPL", qty="100", stop_price="183.45")
    result = plan_for(
        make_snapshot(
            positions=(AAPL_LONG,),
            open_orders=(order, stop),
            local_open=(local, make_local_order(broker_id=stop.id, stop_price="183.45")),
            position_orders=(make_filled_entry("AAPL"),),
        )
    )
    assert result.is_empty


# Brackets and OCO --------------------------------------------------------------------------


def test_a_bracket_placed_by_hand_is_adopted_whole_and_no_leg_is_cancelled() -> None:
    legs = take_profit_and_held_stop(OrderClass.BRACKET)
    snapshot = make_snapshot(positions=(AAPL_LONG,), open_orders=legs)
    result = plan_for(snapshot)
    adoption = only(result, ActionKind.ADOPT_ORPHAN_GROUP)
    assert adoption.target == legs[1].id
    assert adoption.new_row is not None and adoption.new_row.broker_id == legs[1].id
    assert adoption.new_row.order_role is OrderRole.STOP_LOSS
    assert "sell limit 100 AAPL @ 200 (new) + sell stop 100 AAPL @ 180 (held)" in adoption.reason
    assert [a.kind for a in result.actions] == [
        ActionKind.ADOPT_ORPHAN_GROUP,
        ActionKind.SYNTHETIC_ENTRY,
    ]
    assert diff(snapshot).positions[0].protection is Protection.PROTECTED


def test_a_held_stop_leg_waits_while_its_take_profit_is_not_yet_working() -> None:
    legs = group(
        OrderClass.OCO,
        (Side.SELL, OrderType.LIMIT, "100", "200", BrokerOrderStatus.PENDING_NEW),
        (Side.SELL, OrderType.STOP, "100", "180", BrokerOrderStatus.HELD),
    )
    row = diff(make_snapshot(positions=(AAPL_LONG,), open_orders=legs)).positions[0]
    assert row.protection is Protection.STOP_PENDING
    assert row.covered_qty == D(100)


def test_a_bracket_whose_entry_is_still_open_covers_nothing_yet_and_blocks_the_stop() -> None:
    legs = group(
        OrderClass.BRACKET,
        (Side.BUY, OrderType.LIMIT, "50", "185", BrokerOrderStatus.NEW),
        (Side.SELL, OrderType.LIMIT, "50", "200", BrokerOrderStatus.HELD),
        (Side.SELL, OrderType.STOP, "50", "180", BrokerOrderStatus.HELD),
    )
    snapshot = make_snapshot(
        positions=(AAPL_LONG,), open_orders=legs, position_orders=(make_filled_entry("AAPL"),)
    )
    row = diff(snapshot).positions[0]
    assert row.protection is Protection.UNPROTECTED and row.uncovered_qty == D(100)
    result = plan_for(snapshot)
    cancel = only(result, ActionKind.CANCEL_ORPHAN)
    assert cancel.target == legs[0].id  # the parent: the broker cancels the legs with it
    assert "cancelling one leg cancels the whole group" in cancel.reason
    assert "blocks AAPL's stop" in cancel.reason
    stop = only(result, ActionKind.EMERGENCY_STOP)
    assert stop.new_order is not None and stop.new_order.qty == D(100)
    assert stop.blocked_by == (legs[0],)


def test_the_take_profit_of_a_known_stop_leg_is_a_group_leg_not_an_orphan() -> None:
    legs = take_profit_and_held_stop(OrderClass.OCO)
    snapshot = make_snapshot(
        positions=(AAPL_LONG,),
        open_orders=legs,
        local_open=(
            make_local_order(broker_id=legs[1].id, stop_price="180", state=OrderState.SUBMITTED),
        ),
        position_orders=(make_filled_entry("AAPL"),),
    )
    rows = {row.broker.id: row.match for row in diff(snapshot).orders if row.broker}
    assert rows == {legs[0].id: Match.GROUP_LEG, legs[1].id: Match.MATCHED}
    assert plan_for(snapshot).is_empty


# Held shares -------------------------------------------------------------------------------


def hand_take_profit(qty: str) -> BrokerOrder:
    return make_broker_order(
        "AAPL", Side.SELL, qty, OrderType.LIMIT, stop_price=None, limit_price="210"
    )


def test_a_take_profit_holding_every_share_becomes_an_oco_exit_without_a_decision() -> None:
    take_profit = hand_take_profit("100")
    result = plan_for(
        make_snapshot(
            positions=(AAPL_LONG,),
            open_orders=(take_profit,),
            position_orders=(make_filled_entry("AAPL", price="187.20"),),
        )
    )
    assert [action.kind for action in result.actions] == [ActionKind.OCO_EXIT]
    oco = only(result, ActionKind.OCO_EXIT)
    assert not oco.needs_decision
    assert oco.broker_order == take_profit
    assert oco.new_order is not None
    assert oco.new_order.order_class is OrderClass.OCO
    assert (oco.new_order.qty, oco.new_order.limit_price) == (D(100), D(210))
    assert oco.new_order.stop_price == D("183.45")
    assert oco.blocked_by == ()  # an OCO is exempt from the wash-trade rule
    assert not [a for a in result.actions if a.kind is ActionKind.EMERGENCY_STOP]


def test_a_take_profit_holding_some_shares_leaves_the_rest_to_a_plain_stop() -> None:
    result = plan_for(
        make_snapshot(
            positions=(AAPL_LONG,),
            open_orders=(hand_take_profit("40"),),
            position_orders=(make_filled_entry("AAPL"),),
        )
    )
    stop = only(result, ActionKind.EMERGENCY_STOP)
    oco = only(result, ActionKind.OCO_EXIT)
    assert stop.new_order is not None and oco.new_order is not None
    assert (stop.new_order.qty, oco.new_order.qty) == (D(60), D(40))


def test_shares_held_by_the_engines_own_exit_are_reported_not_stopped() -> None:
    exit_order = make_broker_order(
        "AAPL", Side.SELL, "30", OrderType.MARKET, BrokerOrderStatus.ACCEPTED, stop_price=None
    )
    local_exit = make_local_order(
        "AAPL-exit", "AAPL", Side.SELL, OrderRole.EXIT_MARKET, OrderType.MARKET, qty="30",
        stop_price=None, broker_id=exit_order.id,
    )  # fmt: skip
    result = plan_for(
        make_snapshot(
            positions=(AAPL_LONG,),
            open_orders=(exit_order,),
            local_open=(local_exit,),
            position_orders=(make_filled_entry("AAPL"),),
        )
    )
    stop = only(result, ActionKind.EMERGENCY_STOP)
    assert stop.new_order is not None and stop.new_order.qty == D(70)
    assert any(
        "30 of 100 shares are held by sell market 30 AAPL" in f.text for f in result.findings
    )


# Surplus -----------------------------------------------------------------------------------


def two_stops(held: str, older_qty: str, newer_qty: str) -> tuple[Snapshot, BrokerOrder]:
    """A long of `held` shares covered by an older stop and a newer one, both the engine's."""
    older = make_broker_order(
        "AAPL", qty=older_qty, stop_price="183", submitted_at=NOW.replace(hour=13)
    )
    newer = make_broker_order(
        "AAPL", qty=newer_qty, stop_price="183", submitted_at=NOW.replace(hour=14)
    )
    snapshot = make_snapshot(
        positions=(make_position("AAPL", held, entry="187.20", current="189.50"),),
        open_orders=(older, newer),
        local_open=(
            make_local_order(broker_id=older.id, qty=older_qty, stop_price="183"),
            make_local_order("AAPL-stop-2", broker_id=newer.id, qty=newer_qty, stop_price="183"),
        ),
        position_orders=(make_filled_entry("AAPL", held),),
    )
    return snapshot, newer


def test_surplus_stop_shares_come_off_the_newest_stop_by_a_replace() -> None:
    snapshot, newer = two_stops("12", "10", "5")
    result = plan_for(snapshot)
    reduce = only(result, ActionKind.REDUCE_SURPLUS_STOP)
    assert reduce.broker_order == newer
    assert reduce.local_order == snapshot.local.all_orders["AAPL-stop-2"]
    assert reduce.new_order is not None and reduce.new_order.qty == D(2)
    assert reduce.new_order.client_order_id.startswith("recon-trim-AAPL-sell-gtc-")
    assert "replaced by one for 2 (newest stop first)" in reduce.reason
    assert result.findings == ()


def test_a_stop_covering_only_surplus_shares_is_cancelled() -> None:
    snapshot, newer = two_stops("10", "10", "5")
    result = plan_for(snapshot)
    reduce = only(result, ActionKind.REDUCE_SURPLUS_STOP)
    assert reduce.target == newer.id and reduce.new_order is None
    assert "covers only surplus shares: cancelled" in reduce.reason


def test_surplus_on_a_bracket_leg_is_left_for_the_operator() -> None:
    legs = take_profit_and_held_stop(OrderClass.BRACKET, qty="15")
    result = plan_for(
        make_snapshot(
            positions=(make_position("AAPL", "10", entry="187.20", current="189.50"),),
            open_orders=legs,
            local_open=(make_local_order(broker_id=legs[1].id, qty="15", stop_price="180"),),
            position_orders=(make_filled_entry("AAPL", "10"),),
        )
    )
    assert not [a for a in result.actions if a.kind is ActionKind.REDUCE_SURPLUS_STOP]
    assert any("5 surplus shares sit on bracket or OCO legs" in f.text for f in result.findings)


def test_a_surplus_fraction_comes_off_in_whole_shares_and_a_day_stop_covers_the_rest() -> None:
    snapshot, newer = two_stops("10.5", "10", "3")
    result = plan_for(snapshot)
    reduce = only(result, ActionKind.REDUCE_SURPLUS_STOP)
    assert reduce.target == newer.id and reduce.new_order is None  # 2.5 surplus: all 3 go
    stop = only(result, ActionKind.EMERGENCY_STOP)
    assert stop.new_order is not None
    assert (stop.new_order.qty, stop.new_order.time_in_force) == (D("0.5"), TimeInForce.DAY)
    assert result.findings == ()


def test_a_fractional_take_profit_is_not_turned_into_an_oco() -> None:
    take_profit = make_broker_order(
        "AAPL", Side.SELL, "0.5", OrderType.LIMIT, stop_price=None, limit_price="210",
        time_in_force=TimeInForce.DAY,
    )  # fmt: skip
    result = plan_for(
        make_snapshot(
            positions=(make_position("AAPL", "10.5", entry="187.20", current="189.50"),),
            open_orders=(take_profit,),
            position_orders=(make_filled_entry("AAPL", "10.5"),),
        )
    )
    assert not [a for a in result.actions if a.kind is ActionKind.OCO_EXIT]
    assert sum(
        (a.new_order.qty for a in result.actions if a.new_order is not None), Decimal(0)
    ) == D(10)
    assert any("0.5 of 10.5 shares are held by" in f.text for f in result.findings)
