"""The plan per asset class (SPEC §3, Asset classes): a crypto pair's stop_limit, an option's
whole contracts on its tick, a class recon does not know reported with nothing sent, and a
multi-leg option order never cancelled leg by leg."""

from decimal import Decimal

from engine.domain import AssetClass, OrderClass, OrderType, PositionSide, Side, TimeInForce
from engine.reconcile.actions import ActionKind, Plan
from engine.reconcile.diff import diff
from engine.reconcile.plan import plan
from engine.reconcile.snapshot import Snapshot
from tests.factories import (
    SETTINGS,
    D,
    broker_id,
    make_broker_order,
    make_crypto_terms,
    make_option_terms,
    make_position,
    make_snapshot,
)

BTC = make_position("BTC/USD", "0.5", entry="60000", current="61000", asset_class="crypto")
CALL = "AAPL261218C00200000"


def plan_for(snapshot: Snapshot) -> Plan:
    return plan(snapshot, diff(snapshot), SETTINGS)


def test_a_crypto_position_gets_a_gtc_stop_limit_for_its_exact_quantity() -> None:
    result = plan_for(make_snapshot(positions=(BTC,), assets=(make_crypto_terms(),)))
    (stop,) = [action for action in result.actions if action.kind is ActionKind.EMERGENCY_STOP]
    order = stop.new_order
    assert order is not None
    assert (order.symbol, order.side, order.qty) == ("BTC/USD", Side.SELL, D("0.5"))
    assert (order.order_type, order.time_in_force) == (OrderType.STOP_LIMIT, TimeInForce.GTC)
    # 2 % under the 60,000 entry on BTC/USD's whole-dollar increment, and the limit 2 % under
    # that, rounded down: never nearer the market than asked.
    assert (order.stop_price, order.limit_price) == (D("58800"), D("57624"))
    assert order.asset_class is AssetClass.CRYPTO
    assert "BTCUSD" in order.client_order_id and "/" not in order.client_order_id


def test_a_crypto_position_below_the_smallest_order_is_reported_not_sent() -> None:
    dust = make_position("BTC/USD", "0.00005", entry="60000", asset_class="crypto")
    result = plan_for(make_snapshot(positions=(dust,), assets=(make_crypto_terms(),)))
    assert not [a for a in result.actions if a.kind is ActionKind.EMERGENCY_STOP]
    assert any("below the smallest order" in str(finding) for finding in result.findings)


def test_a_crypto_short_is_a_finding_not_a_guess() -> None:
    short = make_position(
        "BTC/USD", "0.5", side=PositionSide.SHORT, entry="60000", asset_class="crypto"
    )
    result = plan_for(make_snapshot(positions=(short,), assets=(make_crypto_terms(),)))
    assert not [a for a in result.actions if a.new_order is not None]
    assert any("no crypto shorts" in str(finding) for finding in result.findings)


def test_no_order_on_the_other_side_blocks_a_crypto_stop() -> None:
    buying_more = make_broker_order(
        "BTC/USD", Side.BUY, "0.1", OrderType.LIMIT, stop_price=None, limit_price="59000"
    )
    result = plan_for(
        make_snapshot(positions=(BTC,), open_orders=(buying_more,), assets=(make_crypto_terms(),))
    )
    stop = next(a for a in result.actions if a.kind is ActionKind.EMERGENCY_STOP)
    assert stop.blocked_by == ()
    assert not [a for a in result.actions if a.kind is ActionKind.CANCEL_BLOCKING_ORDER]


def test_an_option_is_covered_in_whole_contracts_on_its_tick() -> None:
    option = make_position(CALL, "3", entry="4.10", current="4.35", asset_class="us_option")
    result = plan_for(make_snapshot(positions=(option,), assets=(make_option_terms(CALL),)))
    (stop,) = [a for a in result.actions if a.kind is ActionKind.EMERGENCY_STOP]
    order = stop.new_order
    assert order is not None
    assert (order.qty, order.order_type, order.time_in_force) == (
        D(3),
        OrderType.STOP,
        TimeInForce.GTC,
    )
    assert order.stop_price == D("4.00")  # 4.018 down to the nickel options take from $3
    assert stop.exposure == D(3) * D("4.35") * 100


def test_exposure_counts_an_options_multiplier_in_the_riskiest_first_order() -> None:
    option = make_position(CALL, "3", entry="5.00", asset_class="us_option")
    # 1,500 of exposure in contracts (15 without the multiplier) against 1,000 in shares, both
    # 2 % from their stops.
    shares = make_position("ZZZ", "10", entry="100")
    result = plan_for(make_snapshot(positions=(shares, option), assets=(make_option_terms(CALL),)))
    stops = [a.symbol for a in result.actions if a.kind is ActionKind.EMERGENCY_STOP]
    assert stops[0] == CALL


def test_a_position_of_an_unknown_asset_class_is_reported_and_nothing_sent() -> None:
    odd = make_position("BTCPERP", "2", entry="100", asset_class="crypto_perp")
    result = plan_for(make_snapshot(positions=(odd,)))
    assert not [a for a in result.actions if a.new_order is not None]
    (finding,) = result.findings
    assert "cannot protect: asset class crypto_perp" in str(finding)


def test_a_multi_leg_order_nobody_placed_is_one_cancellation_of_the_whole_order() -> None:
    parent = broker_id()
    legs = tuple(
        make_broker_order(
            symbol,
            side,
            "1",
            OrderType.LIMIT,
            stop_price=None,
            limit_price="1.20",
            order_class=OrderClass.MLEG,
            group_id=parent,
            id=order_id,
        )
        for symbol, side, order_id in (
            ("AAPL261218C00200000", Side.BUY, parent),
            ("AAPL261218C00210000", Side.SELL, broker_id()),
        )
    )
    result = plan_for(make_snapshot(open_orders=legs))
    (cancel,) = [a for a in result.actions if a.kind is ActionKind.CANCEL_ORPHAN]
    assert cancel.target == parent


def test_a_multi_leg_leg_listed_without_its_order_is_never_cancelled_alone() -> None:
    leg = make_broker_order(
        "AAPL261218C00210000",
        Side.SELL,
        "1",
        OrderType.LIMIT,
        stop_price=None,
        limit_price="1.20",
        order_class=OrderClass.MLEG,
        group_id="unlisted-group-AAPL261218C00210000-sell-mleg",
    )
    result = plan_for(make_snapshot(open_orders=(leg,)))
    assert not [a for a in result.actions if a.kind is ActionKind.CANCEL_ORPHAN]
    assert any("never cancelled alone" in str(finding) for finding in result.findings)


def test_equity_stops_are_unchanged_by_the_asset_rules() -> None:
    result = plan_for(make_snapshot(positions=(make_position("AAPL", "10.5", entry="100"),)))
    orders = [a.new_order for a in result.actions if a.new_order is not None]
    assert [(o.qty, o.order_type, o.time_in_force, o.stop_price) for o in orders] == [
        (D(10), OrderType.STOP, TimeInForce.GTC, Decimal("98.00")),
        (D("0.5"), OrderType.STOP, TimeInForce.DAY, Decimal("98.00")),
    ]
