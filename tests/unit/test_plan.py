"""The plan for each case of SPEC §3, over hand-built snapshots: no network, no database."""

from dataclasses import replace
from decimal import Decimal

from engine.domain import (
    BrokerOrder,
    BrokerOrderStatus,
    LocalOrder,
    OrderRole,
    OrderState,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
)
from engine.reconcile.actions import ActionKind, Phase, Plan
from engine.reconcile.diff import Match, Protection, diff
from engine.reconcile.plan import plan
from engine.reconcile.snapshot import Snapshot
from tests.factories import (
    SETTINGS,
    D,
    broker_id,
    make_broker_order,
    make_filled_entry,
    make_local_order,
    make_position,
    make_snapshot,
    make_trade,
)


def plan_for(snapshot: Snapshot) -> Plan:
    return plan(snapshot, diff(snapshot), SETTINGS)


def kinds(result: Plan) -> list[ActionKind]:
    return [action.kind for action in result.actions]


def test_protected_position_with_matching_stop_plans_nothing() -> None:
    stop_id = broker_id()
    snapshot = make_snapshot(
        positions=(make_position("AAPL", "100"),),
        open_orders=(make_broker_order("AAPL", id=stop_id),),
        local_open=(make_local_order(broker_id=stop_id),),
        position_orders=(make_filled_entry("AAPL"),),
    )
    result = plan_for(snapshot)
    assert result.is_empty
    assert result.findings == ()
    assert diff(snapshot).positions[0].protection is Protection.PROTECTED


def entry_filled_while_down(price: str) -> tuple[LocalOrder, BrokerOrder]:
    """MSFT's entry: `submitted` locally, filled 50 at `price` on the broker."""
    entry_id = broker_id()
    local = make_local_order(
        "entry-MSFT", "MSFT", Side.BUY, OrderRole.ENTRY, OrderType.MARKET,
        OrderState.SUBMITTED, qty="50", stop_price=None, broker_id=entry_id,
    )  # fmt: skip
    filled = make_broker_order(
        "MSFT", Side.BUY, "50", OrderType.MARKET, BrokerOrderStatus.FILLED,
        stop_price=None, filled_qty="50", filled_avg_price=price, id=entry_id,
    )  # fmt: skip
    return local, filled


def test_order_filled_while_down_takes_the_broker_state() -> None:
    local, filled = entry_filled_while_down("412.10")
    result = plan_for(make_snapshot(recent_orders=(filled,), local_open=(local,)))
    action = result.actions[0]
    assert action.kind is ActionKind.TAKE_BROKER_STATE
    assert action.new_state is OrderState.FILLED
    assert action.broker_order == filled


def test_filled_without_fill_price_is_critical_but_still_forced() -> None:
    entry_id = broker_id()
    local = make_local_order(
        "e1", "MSFT", Side.BUY, OrderRole.ENTRY, OrderType.MARKET, OrderState.ACCEPTED,
        stop_price=None, broker_id=entry_id,
    )  # fmt: skip
    filled = make_broker_order(
        "MSFT", Side.BUY, order_type=OrderType.MARKET, status=BrokerOrderStatus.FILLED,
        stop_price=None, filled_qty="100", id=entry_id,
    )  # fmt: skip
    result = plan_for(make_snapshot(recent_orders=(filled,), local_open=(local,)))
    assert result.actions[0].new_state is OrderState.FILLED
    assert result.findings[0].text.startswith("CRITICAL")


def test_transient_broker_status_changes_nothing() -> None:
    order_id = broker_id()
    snapshot = make_snapshot(
        open_orders=(make_broker_order(status=BrokerOrderStatus.PENDING_NEW, id=order_id),),
        local_open=(make_local_order(state=OrderState.SUBMITTED, broker_id=order_id),),
    )
    assert plan_for(snapshot).is_empty


def test_pending_submit_never_sent_becomes_submit_failed() -> None:
    local = make_local_order(
        "nflx", "NFLX", state=OrderState.PENDING_SUBMIT, client_order_id="engine-nflx-1"
    )
    result = plan_for(make_snapshot(local_open=(local,)))
    assert kinds(result) == [ActionKind.MARK_SUBMIT_FAILED]
    assert result.actions[0].new_state is OrderState.SUBMIT_FAILED


def test_pending_submit_found_by_client_order_id_is_adopted() -> None:
    held = make_broker_order("ORCL", client_order_id="engine-orcl-1")
    local = make_local_order(
        "orcl", "ORCL", state=OrderState.PENDING_SUBMIT, client_order_id="engine-orcl-1"
    )
    result = plan_for(
        make_snapshot(
            positions=(make_position("ORCL", "100"),),
            open_orders=(held,),
            local_open=(local,),
            position_orders=(make_filled_entry("ORCL"),),
        )
    )
    assert kinds(result) == [ActionKind.ADOPT_SUBMITTED]
    assert result.actions[0].broker_order == held
    assert result.actions[0].new_state is OrderState.ACCEPTED


def test_replaced_order_is_followed_to_its_successor() -> None:
    old_id, new_id = broker_id(), broker_id()
    old = make_broker_order(
        "AMZN", status=BrokerOrderStatus.REPLACED, id=old_id, replaced_by=new_id
    )
    successor = make_broker_order("AMZN", stop_price="97.50", id=new_id, replaces=old_id)
    result = plan_for(
        make_snapshot(
            positions=(make_position("AMZN", "100"),),
            open_orders=(successor,),
            recent_orders=(old,),
            local_open=(make_local_order("amzn-stop", "AMZN", broker_id=old_id),),
            position_orders=(make_filled_entry("AMZN"),),
        )
    )
    assert kinds(result) == [ActionKind.FOLLOW_REPLACEMENT]
    assert result.actions[0].broker_order == successor


def test_order_older_than_the_window_is_read_from_the_single_lookup() -> None:
    old_id = broker_id()
    expired = make_broker_order(status=BrokerOrderStatus.EXPIRED, id=old_id)
    result = plan_for(
        make_snapshot(looked_up=(expired,), local_open=(make_local_order(broker_id=old_id),))
    )
    assert result.actions[0].new_state is OrderState.EXPIRED


def test_orphan_stop_on_closing_side_of_held_position_is_adopted() -> None:
    hand_placed = make_broker_order("META", client_order_id="web-1")
    result = plan_for(
        make_snapshot(
            positions=(make_position("META", "100"),),
            open_orders=(hand_placed,),
            position_orders=(make_filled_entry("META"),),
        )
    )
    assert kinds(result) == [ActionKind.ADOPT_ORPHAN_STOP]
    adopted = result.actions[0].new_row
    assert adopted is not None
    assert adopted.order_role is OrderRole.STOP_LOSS
    assert adopted.broker_id == hand_placed.id
    assert adopted.correlation_id == "trip-META"
    assert not result.actions[0].needs_decision


def test_orphan_limit_order_is_proposed_for_cancellation_awaiting_the_operator() -> None:
    orphan = make_broker_order(
        "GOOGL", Side.BUY, "10", OrderType.LIMIT, stop_price=None, limit_price="150"
    )
    result = plan_for(make_snapshot(open_orders=(orphan,)))
    assert kinds(result) == [ActionKind.CANCEL_ORPHAN]
    assert result.actions[0].needs_decision
    assert diff(make_snapshot(open_orders=(orphan,))).orders[0].match is Match.ORPHAN


def test_stop_on_the_opening_side_is_not_adopted() -> None:
    wrong_side = make_broker_order("META", Side.BUY, stop_price="120")
    result = plan_for(
        make_snapshot(
            positions=(make_position("META", "100"),),
            open_orders=(wrong_side,),
            position_orders=(make_filled_entry("META"),),
        )
    )
    assert kinds(result)[0] is ActionKind.CANCEL_ORPHAN


def test_uncovered_long_gets_sell_stop_below_entry() -> None:
    result = plan_for(
        make_snapshot(
            positions=(make_position("NVDA", "100", entry="500", current="505"),),
            position_orders=(make_filled_entry("NVDA"),),
        )
    )
    order = result.actions[0].new_order
    assert order is not None
    assert (order.side, order.qty, order.stop_price) == (Side.SELL, D(100), D("490.00"))
    assert order.time_in_force is TimeInForce.GTC
    assert result.actions[0].phase is Phase.POSITIONS


def test_short_position_gets_buy_stop_above_entry() -> None:
    result = plan_for(
        make_snapshot(
            positions=(make_position("TSLA", "50", PositionSide.SHORT, "251.10", "249.87"),),
            position_orders=(make_filled_entry("TSLA", "50", Side.SELL, "251.10"),),
        )
    )
    order = result.actions[0].new_order
    assert order is not None
    assert order.side is Side.BUY
    # 251.10 × 1.02 = 256.122, rounded up (away from the market) to the cent.
    assert order.stop_price == D("256.13")


def test_partially_covered_position_is_topped_up_not_covered_twice() -> None:
    result = plan_for(
        make_snapshot(
            positions=(make_position("AMD", "200"),),
            open_orders=(make_broker_order("AMD", qty="120"),),
            local_open=(),
            position_orders=(make_filled_entry("AMD", "200"),),
        )
    )
    stops = [a for a in result.actions if a.kind is ActionKind.EMERGENCY_STOP]
    assert [stop.new_order.qty for stop in stops if stop.new_order] == [D(80)]


def test_fractional_remainder_gets_a_day_stop_flagged() -> None:
    result = plan_for(
        make_snapshot(
            positions=(make_position("SPY", "10.5", entry="600"),),
            position_orders=(make_filled_entry("SPY", "10.5", price="600"),),
        )
    )
    orders = [action.new_order for action in result.actions if action.new_order]
    assert [(o.qty, o.time_in_force) for o in orders] == [
        (D(10), TimeInForce.GTC),
        (D("0.5"), TimeInForce.DAY),
    ]
    assert any("fractional" in flag for flag in result.actions[1].flags)


def test_stop_level_through_the_market_is_rebased_on_current_price() -> None:
    result = plan_for(
        make_snapshot(
            positions=(make_position("INTC", "100", entry="40", current="38"),),
            position_orders=(make_filled_entry("INTC", price="40"),),
        )
    )
    action = result.actions[0]
    assert action.new_order is not None
    assert action.new_order.stop_price == D("37.24")  # 38 × 0.98
    assert any("current price" in flag for flag in action.flags)


def test_sub_dollar_stop_rounds_to_the_hundredth_of_a_cent_away_from_market() -> None:
    result = plan_for(
        make_snapshot(
            positions=(make_position("SNDL", "1000", entry="0.8765", current="0.88"),),
            position_orders=(make_filled_entry("SNDL", "1000", price="0.8765"),),
        )
    )
    order = result.actions[0].new_order
    assert order is not None
    assert order.stop_price == D("0.8589")  # 0.8765 × 0.98 = 0.85897 → down to 0.8589


def test_a_long_priced_below_a_hundredth_of_a_cent_gets_a_finding_not_a_stop_at_zero() -> None:
    snapshot = make_snapshot(
        positions=(
            make_position("DUST", "1000000", entry="0.00005"),
            make_position("SNDL", "1000", entry="0.8765", current="0.88"),
        ),
        position_orders=(
            make_filled_entry("DUST", "1000000", price="0.00005"),
            make_filled_entry("SNDL", "1000", price="0.8765"),
        ),
    )
    result = plan_for(snapshot)
    assert [(action.kind, action.symbol) for action in result.actions] == [
        (ActionKind.EMERGENCY_STOP, "SNDL")
    ]
    [finding] = result.findings
    assert (finding.symbol, finding.text) == (
        "DUST",
        "DUST: its emergency stop would be 0.0000; priced too low to protect; left for the "
        "operator",
    )
    dust = next(row for row in diff(snapshot).positions if row.symbol == "DUST")
    assert dust.protection is Protection.UNPROTECTED


def test_emergency_stops_equally_near_their_stop_level_go_largest_exposure_first() -> None:
    result = plan_for(
        make_snapshot(
            positions=(
                make_position("SMALL", "10", entry="10"),
                make_position("BIG", "100", entry="500"),
                make_position("MID", "100", entry="50"),
            ),
            position_orders=tuple(make_filled_entry(s) for s in ("SMALL", "BIG", "MID")),
        )
    )
    assert [action.symbol for action in result.actions] == ["BIG", "MID", "SMALL"]


def test_emergency_stops_go_nearest_their_stop_level_first_then_largest_exposure() -> None:
    """What the rate limit holds back waits on the positions with the most room to fall."""
    result = plan_for(
        make_snapshot(
            positions=(
                make_position("BIG", "100", entry="500", current="550"),  # 10.9% above 490
                make_position("FALLING", "10", entry="100", current="98.50"),  # 0.5% above 98
                make_position("MID", "100", entry="50"),  # 2% above 49
            ),
            position_orders=tuple(make_filled_entry(s) for s in ("BIG", "FALLING", "MID")),
        )
    )
    assert [action.symbol for action in result.actions] == ["FALLING", "MID", "BIG"]


def test_emergency_stop_ids_are_deterministic_and_skip_used_generations() -> None:
    snapshot = make_snapshot(
        positions=(make_position("NVDA", "100"),),
        position_orders=(make_filled_entry("NVDA"),),
        recent_orders=(
            make_broker_order(
                "NVDA",
                status=BrokerOrderStatus.CANCELED,
                client_order_id="recon-stop-NVDA-sell-gtc-20261124-1",
            ),
        ),
    )
    first, again = plan_for(snapshot), plan_for(snapshot)
    assert first.actions[0].target == "recon-stop-NVDA-sell-gtc-20261124-2"
    assert first == again


def test_position_without_local_entry_gets_one_synthetic_entry() -> None:
    snapshot = make_snapshot(positions=(make_position("COIN", "30", entry="200"),))
    result = plan_for(snapshot)
    assert kinds(result) == [ActionKind.EMERGENCY_STOP, ActionKind.SYNTHETIC_ENTRY]
    entry = result.actions[1].new_row
    assert entry is not None
    assert entry.correlation_id == "orphan-COIN-20261124"
    assert (entry.state, entry.qty_filled, entry.strategy) == (OrderState.FILLED, D(30), "unknown")


def test_synthetic_entry_is_not_added_twice() -> None:
    existing = make_local_order(
        "orphan-COIN-20261124", "COIN", Side.BUY, OrderRole.ENTRY, OrderType.MARKET,
        OrderState.FILLED, qty="30", qty_filled="30", stop_price=None,
        correlation_id="orphan-COIN-20261124",
    )  # fmt: skip
    stop_id = broker_id()
    snapshot = make_snapshot(
        positions=(make_position("COIN", "30"),),
        open_orders=(make_broker_order("COIN", qty="30", id=stop_id),),
        local_open=(make_local_order("coin-stop", "COIN", qty="30", broker_id=stop_id),),
        position_orders=(existing,),
    )
    assert plan_for(snapshot).is_empty


def test_entry_filled_while_down_is_not_given_a_synthetic_twin() -> None:
    local, filled = entry_filled_while_down("400")
    result = plan_for(
        make_snapshot(
            positions=(make_position("MSFT", "50", entry="400"),),
            recent_orders=(filled,),
            local_open=(local,),
        )
    )
    assert ActionKind.SYNTHETIC_ENTRY not in kinds(result)
    assert kinds(result) == [ActionKind.TAKE_BROKER_STATE, ActionKind.EMERGENCY_STOP]


def test_pending_new_stop_counts_as_cover_but_not_yet_protection() -> None:
    snapshot = make_snapshot(
        positions=(make_position("AAPL", "100"),),
        open_orders=(make_broker_order(status=BrokerOrderStatus.PENDING_NEW),),
        position_orders=(make_filled_entry("AAPL"),),
    )
    assert not [a for a in plan_for(snapshot).actions if a.kind is ActionKind.EMERGENCY_STOP]
    assert diff(snapshot).positions[0].protection is Protection.STOP_PENDING


def test_uncovered_position_reads_unprotected() -> None:
    snapshot = make_snapshot(positions=(make_position("NVDA", "100"),))
    assert diff(snapshot).positions[0].protection is Protection.UNPROTECTED


def test_circuit_breaker_pauses_after_three_consecutive_losses() -> None:
    trades = (make_trade("50", 90), make_trade("-10", 60), make_trade("0", 30), make_trade("-5", 5))
    breaker = plan_for(make_snapshot(trades=trades)).circuit_breaker
    assert breaker.consecutive_losses == 3
    assert breaker.paused
    assert breaker.daily_realized_pnl == D(35)


def test_circuit_breaker_pauses_at_the_daily_loss_limit() -> None:
    trades = (make_trade("-3000", 30),)
    breaker = plan_for(make_snapshot(trades=trades, last_equity="100000")).circuit_breaker
    assert breaker.paused
    assert "daily loss" in (breaker.reason or "")


def test_circuit_breaker_stays_closed_on_a_good_day() -> None:
    trades = (make_trade("-10", 60), make_trade("25", 30))
    breaker = plan_for(make_snapshot(trades=trades)).circuit_breaker
    assert not breaker.paused
    assert breaker.reason is None
    assert breaker.consecutive_losses == 0


def test_local_order_the_broker_does_not_know_is_reported_not_changed() -> None:
    ghost = broker_id()
    result = plan_for(
        make_snapshot(
            local_open=(make_local_order(broker_id=ghost),), unknown_broker_ids=frozenset({ghost})
        )
    )
    assert result.is_empty
    assert ghost in result.findings[0].text


def test_actions_are_numbered_in_execution_order() -> None:
    result = plan_for(
        make_snapshot(
            positions=(make_position("NVDA", "100"),),
            open_orders=(make_broker_order("GOOGL", Side.BUY, order_type=OrderType.LIMIT),),
            position_orders=(make_filled_entry("NVDA"),),
        )
    )
    assert [action.seq for action in result.actions] == [1, 2]
    assert [action.phase for action in result.actions] == [Phase.ORDERS, Phase.POSITIONS]
    assert result.actions[1].exposure == Decimal(10000)


def test_numbering_keeps_every_field() -> None:
    result = plan_for(make_snapshot(positions=(make_position("NVDA", "100"),)))
    action = result.actions[0]
    assert action.numbered(7) == replace(action, seq=7)


def test_entry_canceled_after_a_partial_fill_still_owns_its_shares() -> None:
    partial = replace(
        make_filled_entry("COIN", "30"), qty_requested=D(50), state=OrderState.CANCELED
    )
    snapshot = make_snapshot(positions=(make_position("COIN", "30"),), position_orders=(partial,))
    assert ActionKind.SYNTHETIC_ENTRY not in kinds(plan_for(snapshot))
