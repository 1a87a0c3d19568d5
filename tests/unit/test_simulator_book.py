"""The simulated broker's book without HTTP: reproducible scenarios, the crashed day's cases,
fills and positions, its rules holding under concurrent submissions, and Alpaca's own rules:
wash trades, held shares, brackets and OCOs, replaces."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.domain import OrderRole, OrderState
from engine.simulator.book import SimulatedBroker
from engine.simulator.listing import OrderQuery
from engine.simulator.orders import SimOrder
from engine.simulator.rejections import SimulatorRejection
from engine.simulator.scenarios import CRASH_TIME, SCENARIOS, LocalBookSeed, load

D = Decimal


def crashed_day() -> tuple[SimulatedBroker, LocalBookSeed]:
    broker = SimulatedBroker(now=lambda: CRASH_TIME)
    return broker, load("crashed_day").seed(broker)


def broker_with(symbol: str, qty: str, entry: str, price: str) -> SimulatedBroker:
    broker = SimulatedBroker(now=lambda: CRASH_TIME)
    broker.prices[symbol] = D(price)
    broker.seed_position(symbol, D(qty), D(entry))
    return broker


def stop(symbol: str, side: str, qty: object, stop_price: str, **extra: Any) -> dict[str, Any]:
    return {"symbol": symbol, "qty": qty, "side": side, "type": "stop",
            "time_in_force": "gtc", "stop_price": D(stop_price), **extra}  # fmt: skip


def scenario(name: str) -> tuple[SimulatedBroker, LocalBookSeed]:
    broker = SimulatedBroker(now=lambda: CRASH_TIME)
    return broker, load(name).seed(broker)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_is_the_same_book_every_time(name: str) -> None:
    (first, first_local), (second, second_local) = scenario(name), scenario(name)
    assert [o.to_wire() for o in first.orders.values()] == [
        o.to_wire() for o in second.orders.values()
    ]
    assert first.positions == second.positions and first.prices == second.prices
    assert first_local == second_local


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenarios_local_rows_point_at_real_broker_orders(name: str) -> None:
    broker, local = scenario(name)
    for row in local.orders:
        if row.broker_id is not None:
            order = broker.orders[row.broker_id]
            assert (order.symbol, order.client_order_id) == (row.symbol, row.client_order_id)


def test_crashed_day_has_every_spec_case() -> None:
    broker, local = crashed_day()
    rows = {row.local_id: row for row in local.orders}
    by_client_id = {o.client_order_id: o for o in broker.orders.values()}

    def broker_status(local_id: str) -> str:
        broker_id = rows[local_id].broker_id
        assert broker_id is not None
        return broker.orders[broker_id].status

    assert broker_status("AAPL-stop") == "new"
    assert (rows["MSFT-entry"].state, broker_status("MSFT-entry")) == (
        OrderState.SUBMITTED,
        "filled",
    )
    assert broker_status("NVDA-stop") == "canceled"
    assert broker.positions["TSLA"].qty == -50
    assert rows["AMD-stop"].qty_requested == 120 and broker.positions["AMD"].qty == 200
    assert by_client_id["web-meta-stop-by-hand"].side == "sell"
    assert by_client_id["mobile-googl-dip-buy"].type == "limit"
    replaced = broker.orders[rows["AMZN-stop"].broker_id or ""]
    assert replaced.status == "replaced"
    assert broker.orders[replaced.replaced_by or ""].replaces == replaced.id
    assert rows["NFLX-entry"].client_order_id not in by_client_id
    assert by_client_id[rows["ORCL-entry"].client_order_id or ""].status == "filled"
    assert broker.prices["SNDL"] < 1
    assert broker.positions["SPY"].qty == D("10.5")
    assert broker.positions["INTC"].avg_entry_price * D("0.98") > broker.prices["INTC"]
    assert not any(row.symbol == "COIN" for row in local.orders) and "COIN" in broker.positions
    old = broker.orders[rows["BA-entry"].broker_id or ""]
    assert (old.status, old.time_in_force) == ("expired", "gtc")
    assert CRASH_TIME - old.submitted_at > timedelta(hours=24)
    assert broker_status("XOM-entry") == "pending_new"
    assert [t.pnl < 0 for t in local.trades] == [False, True, True]
    assert all(t.exit_at.date() == CRASH_TIME.date() for t in local.trades)
    assert {row.order_role for row in local.orders} == set(OrderRole) - {OrderRole.EXIT_MARKET}


def test_crossing_a_short_positions_buy_stop_closes_it() -> None:
    broker = broker_with("TSLA", "-50", "251.10", "249.87")
    broker.submit(stop("TSLA", "buy", 50, "256.13"))
    broker.set_price("TSLA", D("257.00"))
    assert "TSLA" not in broker.positions
    assert broker.account.cash == D("100000") - 50 * D("257.00")


def test_stop_waits_while_the_market_is_closed() -> None:
    broker = broker_with("AAPL", "100", "187.20", "189.50")
    order = broker.submit(stop("AAPL", "sell", 100, "185"))
    broker.set_market_open(False)
    broker.set_price("AAPL", D("180"))
    assert broker.orders[order["id"]].status == "new"


def test_buying_more_averages_the_entry_and_selling_through_zero_starts_a_short() -> None:
    broker = broker_with("AAPL", "100", "180.00", "190.00")
    market = {"symbol": "AAPL", "type": "market", "time_in_force": "day"}
    broker.submit({**market, "side": "buy", "qty": 100})
    assert broker.positions["AAPL"].avg_entry_price == D("185.00")
    with pytest.raises(SimulatorRejection) as caught:
        broker.submit({**market, "side": "sell", "qty": 250})
    assert (caught.value.http_status, caught.value.code) == (403, 40310000)


def test_cancel_all_reports_each_canceled_order_like_alpaca() -> None:
    broker = broker_with("AAPL", "100", "187.20", "189.50")
    broker.submit(stop("AAPL", "sell", 50, "185"))
    broker.submit(stop("AAPL", "sell", 50, "184"))
    results = broker.cancel_all()
    assert [(r["status"], r["body"]["status"]) for r in results] == [(200, "canceled")] * 2
    assert broker.cancel_all() == []


def test_concurrent_sells_never_oversell_the_position() -> None:
    broker = broker_with("AAPL", "100", "187.20", "189.50")

    def attempt(n: int) -> bool:
        try:
            broker.submit(stop("AAPL", "sell", 20, "185", client_order_id=f"c{n}"))
        except SimulatorRejection:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        accepted = sum(pool.map(attempt, range(16)))
    assert accepted == 5


def test_seeded_order_keeps_what_it_was_given() -> None:
    broker = SimulatedBroker(now=lambda: CRASH_TIME)
    order = broker.seed_order(
        symbol="AAPL", side="buy", type="market", qty=D(5), status="filled",
        filled_qty=D(5), filled_avg_price=None, submitted_at=CRASH_TIME - timedelta(days=3),
    )  # fmt: skip
    wire = broker.get_order(order.id)
    assert (wire["status"], wire["filled_avg_price"], wire["submitted_at"]) == (
        "filled",
        None,
        "2026-11-21T15:31:00.000000Z",
    )


def test_clock_reports_the_new_york_session_around_a_weekend() -> None:
    friday_evening = CRASH_TIME.replace(day=27, hour=22)
    broker = SimulatedBroker(now=lambda: CRASH_TIME)
    assert broker.clock_wire()["next_close"] == "2026-11-24T21:00:00.000000Z"
    closed = SimulatedBroker(now=lambda: friday_evening, market_open=False)
    assert (closed.clock_wire()["is_open"], closed.clock_wire()["next_open"]) == (
        False,
        "2026-11-30T14:30:00.000000Z",
    )


# Alpaca's own rules ---------------------------------------------------------------------------

WASH_TRADE = (403, 40310000, "potential wash trade detected. use complex orders")


def limit(symbol: str, side: str, qty: object, price: str, **extra: Any) -> dict[str, Any]:
    return {"symbol": symbol, "qty": qty, "side": side, "type": "limit",
            "time_in_force": "gtc", "limit_price": D(price), **extra}  # fmt: skip


def market(symbol: str, side: str, qty: object) -> dict[str, Any]:
    return {"symbol": symbol, "qty": qty, "side": side, "type": "market", "time_in_force": "day"}


def exits(take_profit: str, stop_price: str) -> dict[str, Any]:
    return {
        "take_profit": {"limit_price": D(take_profit)},
        "stop_loss": {"stop_price": D(stop_price)},
    }


def aapl_oco(**change: Any) -> dict[str, Any]:
    """A sell OCO on the whole AAPL position: take-profit 200.00, stop 183.45."""
    order = limit("AAPL", "sell", 100, "200.00", order_class="oco", **exits("200.00", "183.45"))
    return {**order, **change}


def aapl_bracket(**change: Any) -> dict[str, Any]:
    """A buy-10 market bracket on AAPL: take-profit 200.00, stop 180.00."""
    order = {**market("AAPL", "buy", 10), "time_in_force": "gtc", "order_class": "bracket"}
    return {**order, **exits("200.00", "180.00"), **change}


def aapl_long() -> SimulatedBroker:
    return broker_with("AAPL", "100", "187.20", "189.50")


def refusal(call: Any, *args: Any) -> tuple[int, int, str]:
    with pytest.raises(SimulatorRejection) as caught:
        call(*args)
    return caught.value.http_status, caught.value.code, caught.value.message


def statuses(broker: SimulatedBroker, parent_id: str) -> list[str]:
    parent = broker.orders[parent_id]
    return [parent.status, *(broker.orders[leg_id].status for leg_id in parent.leg_ids)]


def hand_bracket(broker: SimulatedBroker) -> SimOrder:
    """bracket_by_hand's filled entry, its legs (take-profit, stop loss) in `leg_ids`."""
    return next(o for o in broker.orders.values() if o.leg_ids)


def hear(broker: SimulatedBroker) -> list[tuple[str, str]]:
    """(event, order id) for every event the book reports from now on."""
    heard: list[tuple[str, str]] = []
    broker.subscribe(lambda event, order: heard.append((event, order["id"])))
    return heard


def test_wash_trade_scenario_refuses_a_stop_while_the_engines_buy_rests() -> None:
    broker, local = scenario("wash_trade")
    rows = {row.local_id: row for row in local.orders}
    resting = broker.orders[rows["AAPL-entry-2"].broker_id or ""]
    assert (resting.side, resting.type, resting.status) == ("buy", "limit", "new")
    assert rows["AAPL-entry-2"].state is OrderState.ACCEPTED
    assert refusal(broker.submit, stop("AAPL", "sell", 100, "183.45")) == WASH_TRADE


@pytest.mark.parametrize(
    ("resting", "incoming"),
    [
        (limit("AAPL", "buy", 50, "185.00"), stop("AAPL", "sell", 100, "183.45")),
        (limit("AAPL", "buy", 50, "185.00"), market("AAPL", "sell", 10)),
        (stop("AAPL", "sell", 50, "183.00"), market("AAPL", "buy", 10)),
        (stop("AAPL", "sell", 50, "183.00"), limit("AAPL", "buy", 10, "150.00")),
        (limit("AAPL", "sell", 50, "195.00"), limit("AAPL", "buy", 10, "195.00")),
        (limit("AAPL", "buy", 50, "185.00"), limit("AAPL", "sell", 10, "185.00")),
    ],
    ids=[
        "stop-vs-limit",
        "market-vs-limit",
        "market-vs-stop",
        "limit-vs-stop",
        "buy-limit-crosses",
        "sell-crosses",
    ],
)
def test_simple_order_against_an_open_opposite_order_is_a_wash_trade(
    resting: dict[str, Any], incoming: dict[str, Any]
) -> None:
    broker = aapl_long()
    broker.submit(resting)
    assert refusal(broker.submit, incoming) == WASH_TRADE


@pytest.mark.parametrize("status", ["held", "accepted", "pending_new", "partially_filled"])
def test_opposite_order_in_any_open_status_blocks_a_market_order(status: str) -> None:
    broker = aapl_long()
    broker.seed_order(
        symbol="AAPL", side="sell", type="stop", qty=D(10), stop_price=D(180), status=status
    )
    assert refusal(broker.submit, market("AAPL", "buy", 5)) == WASH_TRADE


def test_a_wash_trade_refusal_names_the_order_in_the_way() -> None:
    broker = aapl_long()
    resting = broker.submit(limit("AAPL", "buy", 50, "185.00"))
    with pytest.raises(SimulatorRejection) as caught:
        broker.submit(stop("AAPL", "sell", 100, "183.45"))
    assert caught.value.details == {
        "existing_order_id": resting["id"],
        "reject_reason": "opposite side market/stop order exists",
    }


def test_a_resting_trailing_stop_blocks_nothing() -> None:
    broker = aapl_long()
    broker.seed_order(symbol="AAPL", side="sell", type="trailing_stop", qty=D(10), trail_price=D(5))
    assert broker.submit(market("AAPL", "buy", 5))["status"] == "filled"


def test_limit_that_would_not_cross_the_opposite_limit_is_no_wash_trade() -> None:
    broker = aapl_long()
    broker.submit(limit("AAPL", "buy", 50, "185.00"))
    assert broker.submit(limit("AAPL", "sell", 10, "185.01"))["status"] == "new"


def test_limit_against_an_open_opposite_market_order_is_a_wash_trade() -> None:
    broker = aapl_long()
    broker.set_market_open(False)
    broker.submit(market("AAPL", "buy", 10))  # accepted: it waits for the open
    assert refusal(broker.submit, limit("AAPL", "sell", 10, "250.00")) == WASH_TRADE


def test_scaling_in_while_a_hand_placed_brackets_legs_work_is_a_wash_trade() -> None:
    broker, _ = scenario("bracket_by_hand")
    assert refusal(broker.submit, market("NVDA", "buy", 5)) == WASH_TRADE


def test_oco_and_bracket_are_exempt_from_the_wash_trade_rule() -> None:
    broker = aapl_long()
    broker.submit(limit("AAPL", "buy", 50, "185.00"))
    assert broker.submit(aapl_oco())["status"] == "new"
    assert broker.submit(aapl_bracket())["status"] == "filled"


def test_bracket_legs_hold_their_shares_once_per_group() -> None:
    broker, _ = scenario("bracket_by_hand")
    assert broker.position_wire("NVDA")["qty_available"] == "0"
    broker.seed_position("NVDA", D(25), D("495"))
    assert broker.position_wire("NVDA")["qty_available"] == "15"
    assert refusal(broker.submit, stop("NVDA", "sell", 16, "480.00")) == (
        403,
        40310000,
        "insufficient qty available for order (requested: 16, available: 15)",
    )


def test_take_profit_kept_scenario_holds_every_share_from_a_stop() -> None:
    broker, local = scenario("take_profit_kept")
    assert not any(row.order_role is OrderRole.STOP_LOSS for row in local.orders)
    assert refusal(broker.submit, stop("MSFT", "sell", 50, "407.00")) == (
        403,
        40310000,
        "insufficient qty available for order (requested: 50, available: 0)",
    )


def test_over_covered_scenario_stop_covers_more_than_the_position() -> None:
    broker, local = scenario("over_covered")
    rows = {row.local_id: row for row in local.orders}
    covering = broker.orders[rows["AMD-stop"].broker_id or ""]
    assert (covering.qty, covering.status, rows["AMD-entry"].qty_filled) == (15, "new", 15)
    assert broker.positions["AMD"].qty == 10
    by_hand = [o for o in broker.orders.values() if o.client_order_id == "web-amd-sell-by-hand"]
    assert [(o.side, o.status, o.filled_qty) for o in by_hand] == [("sell", "filled", 5)]


def test_bracket_by_hand_scenario_has_no_local_rows() -> None:
    broker, local = scenario("bracket_by_hand")
    assert local == LocalBookSeed()
    entry = hand_bracket(broker)
    assert (entry.order_class, entry.status, statuses(broker, entry.id)) == (
        "bracket",
        "filled",
        ["filled", "new", "held"],
    )


def test_oco_exit_is_its_take_profit_with_a_held_stop_leg() -> None:
    broker = aapl_long()
    answer = broker.submit(aapl_oco(client_order_id="tp-1"))
    assert (answer["type"], answer["order_class"], answer["status"]) == ("limit", "oco", "new")
    assert (answer["limit_price"], answer["client_order_id"]) == ("200.00", "tp-1")
    [leg] = answer["legs"]
    assert (leg["type"], leg["side"], leg["qty"], leg["time_in_force"]) == (
        "stop",
        "sell",
        "100",
        "gtc",
    )
    assert (leg["status"], leg["order_class"], leg["stop_price"], leg["legs"]) == (
        "held",
        "oco",
        "183.45",
        None,
    )
    assert leg["client_order_id"] not in ("tp-1", None)
    assert broker.orders[leg["id"]].parent_id == answer["id"]


def test_oco_with_a_stop_limit_leg_waits_pending_new_under_an_accept_delay() -> None:
    broker = aapl_long()
    broker.accept_delay = timedelta(seconds=2)
    answer = broker.submit(
        aapl_oco(stop_loss={"stop_price": D("183.45"), "limit_price": D("183.00")})
    )
    [leg] = answer["legs"]
    assert (answer["status"], leg["type"], leg["limit_price"]) == (
        "pending_new",
        "stop_limit",
        "183.00",
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"time_in_force": "ioc"}, "time_in_force must be day or gtc for oco orders"),
        ({"qty": "10.5", "time_in_force": "day"}, "oco orders must be for whole shares"),
        ({"side": "buy"}, "an oco order must close an existing position"),
        (
            {"stop_loss": {"stop_price": D("190.00")}},
            "stop_loss.stop_price 190.00 must be below the current price 189.50 for a sell stop",
        ),
        (
            exits("183.00", "183.45") | {"limit_price": None},
            "take_profit.limit_price 183.00 must be above stop_loss.stop_price 183.45",
        ),
        (
            exits("200.001", "183.45") | {"limit_price": None},
            "invalid take_profit.limit_price 200.001. sub-penny increment does not fulfill "
            "minimum pricing criteria",
        ),
    ],
    ids=["ioc", "fraction", "not-an-exit", "stop-above-market", "tp-below-stop", "sub-penny"],
)
def test_oco_breaking_a_trading_rule_is_422(change: dict[str, Any], expected: str) -> None:
    broker = aapl_long()
    assert refusal(broker.submit, aapl_oco(**change)) == (422, 42210000, expected)
    assert broker.orders == {}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"limit_price": D("201.00")}, "limit_price must equal take_profit.limit_price"),
        ({"type": "stop", "stop_price": D("183.45")}, "stop orders cannot be oco orders"),
        ({"take_profit": None}, "take_profit.limit_price is required for oco orders"),
        ({"order_class": "oto"}, "oto orders are not supported by the simulator"),
    ],
    ids=["limit-mismatch", "not-a-limit", "no-take-profit", "oto"],
)
def test_malformed_group_request_is_refused_as_invalid(
    change: dict[str, Any], expected: str
) -> None:
    broker = aapl_long()
    assert refusal(broker.submit, aapl_oco(**change)) == (422, 40010001, expected)


def test_oco_beyond_the_available_shares_is_403() -> None:
    broker = aapl_long()
    broker.submit(stop("AAPL", "sell", 30, "180.00"))
    assert refusal(broker.submit, aapl_oco()) == (
        403,
        40310000,
        "insufficient qty available for order (requested: 100, available: 70)",
    )


def test_bracket_market_entry_fills_and_sets_its_take_profit_working() -> None:
    broker = aapl_long()
    heard = hear(broker)
    answer = broker.submit(aapl_bracket())
    take_profit, stop_loss = answer["legs"]
    assert (answer["status"], answer["order_class"]) == ("filled", "bracket")
    assert [(leg["side"], leg["type"], leg["status"]) for leg in answer["legs"]] == [
        ("sell", "limit", "new"),
        ("sell", "stop", "held"),
    ]
    assert (take_profit["limit_price"], stop_loss["stop_price"]) == ("200.00", "180.00")
    assert heard == [("new", answer["id"]), ("fill", answer["id"]), ("new", take_profit["id"])]
    assert broker.positions["AAPL"].qty == 110


def test_bracket_limit_entry_keeps_both_legs_held_and_untriggered_until_it_fills() -> None:
    broker = aapl_long()
    answer = broker.submit(aapl_bracket(type="limit", limit_price=D("188.00")))
    assert statuses(broker, answer["id"]) == ["new", "held", "held"]
    broker.set_price("AAPL", D("179.00"))
    assert statuses(broker, answer["id"]) == ["new", "held", "held"]


@pytest.mark.parametrize(("end", "ended"), [("cancel", "canceled"), ("expire", "expired")])
def test_cancelling_or_expiring_one_leg_ends_its_whole_group(end: str, ended: str) -> None:
    broker, _ = scenario("bracket_by_hand")
    entry = hand_bracket(broker)
    take_profit, stop_loss = entry.leg_ids
    heard = hear(broker)
    getattr(broker, end)(stop_loss)
    assert statuses(broker, entry.id) == ["filled", ended, ended]
    assert heard == [(ended, take_profit), (ended, stop_loss)]


def test_cancelling_an_unfilled_bracket_entry_cancels_its_legs() -> None:
    broker = aapl_long()
    answer = broker.submit(aapl_bracket(type="limit", limit_price=D("188.00")))
    broker.cancel(answer["id"])
    assert statuses(broker, answer["id"]) == ["canceled"] * 3


def test_triggered_oco_stop_leg_fills_and_cancels_the_take_profit() -> None:
    broker = aapl_long()
    answer = broker.submit(aapl_oco())
    heard = hear(broker)
    broker.set_price("AAPL", D("183.00"))
    assert statuses(broker, answer["id"]) == ["canceled", "filled"]
    assert [event for event, _ in heard] == ["fill", "canceled"]
    assert "AAPL" not in broker.positions


def test_held_stop_of_a_filled_bracket_triggers_and_cancels_its_take_profit() -> None:
    broker, _ = scenario("bracket_by_hand")
    entry = hand_bracket(broker)
    broker.set_price("NVDA", D("479.00"))
    assert statuses(broker, entry.id) == ["filled", "canceled", "filled"]
    assert "NVDA" not in broker.positions


def test_seeded_group_legs_take_the_parents_terms_on_the_closing_side() -> None:
    broker = aapl_long()
    parent, leg = broker.seed_group(
        "oco",
        parent={"symbol": "AAPL", "side": "sell", "type": "limit", "qty": D(100),
                "limit_price": D("200")},
        legs=[{"type": "stop", "stop_price": D("180")}],
    )  # fmt: skip
    assert (leg.symbol, leg.side, leg.qty, leg.status, leg.order_class) == (
        "AAPL",
        "sell",
        100,
        "held",
        "oco",
    )
    assert (parent.leg_ids, leg.parent_id, parent.order_class) == ([leg.id], parent.id, "oco")


def test_replace_answers_a_new_order_and_marks_the_old_one_replaced() -> None:
    broker = aapl_long()
    old = broker.submit(stop("AAPL", "sell", 100, "183.45", client_order_id="stop-1"))
    heard = hear(broker)
    change = {"qty": 60, "stop_price": D("184.00"), "client_order_id": "stop-2"}
    new = broker.replace(old["id"], change)
    assert (new["qty"], new["stop_price"], new["client_order_id"]) == ("60", "184.00", "stop-2")
    assert (new["status"], new["replaces"], new["type"]) == ("new", old["id"], "stop")
    assert new["id"] != old["id"] and new["submitted_at"] == "2026-11-24T15:31:00.000000Z"
    replaced = broker.orders[old["id"]]
    assert (replaced.status, replaced.replaced_by, replaced.replaced_at) == (
        "replaced",
        new["id"],
        CRASH_TIME,
    )
    assert heard == [("replaced", old["id"]), ("new", new["id"])]
    assert broker.position_wire("AAPL")["qty_available"] == "40"


def test_replace_without_a_client_order_id_gets_its_own_and_waits_under_a_delay() -> None:
    broker = aapl_long()
    old = broker.submit(stop("AAPL", "sell", 100, "183.45", client_order_id="stop-1"))
    broker.accept_delay = timedelta(seconds=2)
    new = broker.replace(old["id"], {"stop_price": D("184.00")})
    assert new["client_order_id"] not in ("stop-1", None)
    assert new["status"] == "pending_new"


def test_replace_counts_held_shares_without_the_order_it_replaces() -> None:
    broker = aapl_long()
    old = broker.submit(stop("AAPL", "sell", 100, "183.45"))
    new = broker.replace(old["id"], {"qty": 100, "stop_price": D("184.00")})
    assert refusal(broker.replace, new["id"], {"qty": 101}) == (
        403,
        40310000,
        "insufficient qty available for order (requested: 101, available: 100)",
    )


def test_replace_of_a_same_side_order_skips_the_wash_trade_check() -> None:
    broker, _ = scenario("wash_trade")
    resting = next(o for o in broker.orders.values() if o.status == "new")
    assert broker.replace(resting.id, {"limit_price": D("186.00")})["limit_price"] == "186.00"


def test_replaced_leg_keeps_its_place_in_its_group() -> None:
    broker, _ = scenario("bracket_by_hand")
    entry = hand_bracket(broker)
    take_profit, stop_loss = entry.leg_ids
    new = broker.replace(stop_loss, {"stop_price": D("485.00")})
    assert entry.leg_ids == [take_profit, new["id"]]
    assert (new["status"], new["order_class"], broker.orders[new["id"]].parent_id) == (
        "held",
        "bracket",
        entry.id,
    )
    broker.cancel(take_profit)
    assert statuses(broker, entry.id) == ["filled", "canceled", "canceled"]


def test_replaced_oco_parent_hands_its_legs_to_its_replacement() -> None:
    broker = aapl_long()
    old = broker.submit(aapl_oco())
    new = broker.replace(old["id"], {"limit_price": D("205.00")})
    [leg_id] = broker.orders[new["id"]].leg_ids
    assert (broker.orders[leg_id].parent_id, broker.orders[old["id"]].leg_ids) == (new["id"], [])


REPLACE_REFUSALS = [
    ({"status": "canceled"}, {"qty": 5}, 42210000, "order is not replaceable (status canceled)"),
    ({"status": "pending_new"}, {"qty": 5}, 42210000,
     "order is not replaceable (status pending_new)"),
    ({"filled_qty": D(4), "status": "partially_filled"}, {"qty": 4}, 42210000,
     "qty must be greater than filled_qty 4"),
    ({}, {"client_order_id": "taken"}, 40010001, "client_order_id must be unique"),
    ({}, {"stop_price": D("183.455")}, 42210000,
     "invalid stop_price 183.455. sub-penny increment does not fulfill minimum pricing criteria"),
    ({}, {"stop_price": D("190")}, 42210000,
     "stop price 190 must be below the current price 189.50 for a sell stop"),
    ({}, {"limit_price": D("183")}, 40010001, "limit_price cannot be set on a stop order"),
    ({}, {}, 40010001,
     "one of qty, time_in_force, limit_price, stop_price, trail or client_order_id is required"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("seeded", "body", "code", "message"),
    REPLACE_REFUSALS,
    ids=["canceled", "pending", "qty-not-above-filled", "duplicate-client-id", "sub-penny",
         "stop-above-market", "price-it-lacks", "nothing-to-change"],
)  # fmt: skip
def test_invalid_replace_is_422_and_changes_nothing(
    seeded: dict[str, Any], body: dict[str, Any], code: int, message: str
) -> None:
    broker = aapl_long()
    broker.seed_order(
        symbol="AAPL", side="buy", type="limit", qty=D(1), limit_price=D(150),
        client_order_id="taken", status="filled",
    )  # fmt: skip
    order = broker.seed_order(
        symbol="AAPL", side="sell", type="stop", qty=D(10), stop_price=D("183.45"), **seeded
    )
    before = order.to_wire()
    assert refusal(broker.replace, order.id, body) == (422, code, message)
    assert broker.orders[order.id].to_wire() == before and len(broker.orders) == 2


def test_replace_of_an_unknown_order_is_404() -> None:
    assert refusal(aapl_long().replace, "nope", {"qty": 1}) == (404, 40410000, "order not found")


def test_nested_listing_shows_a_filled_entry_with_open_legs_as_open() -> None:
    broker, _ = scenario("bracket_by_hand")
    [nested] = broker.list_orders(OrderQuery(nested=True))
    assert (nested["status"], [leg["status"] for leg in nested["legs"]]) == (
        "filled",
        ["new", "held"],
    )
    flat = broker.list_orders(OrderQuery())
    assert sorted(o["status"] for o in flat) == ["held", "new"]
    assert all(o["legs"] is None and o["order_class"] == "bracket" for o in flat)
    assert broker.list_orders(OrderQuery(status="closed", nested=True)) == [nested]


@pytest.mark.parametrize("trails_by", ["trail_percent", "trail_price"])
def test_replace_changes_a_trailing_stops_trail_the_way_it_trails(trails_by: str) -> None:
    broker = aapl_long()
    old = broker.seed_order(
        symbol="AAPL", side="sell", type="trailing_stop", qty=D(10), **{trails_by: D("1.5")}
    )
    new = broker.replace(old.id, {"trail": D("2.5")})
    assert (new["trail_percent"], new["trail_price"]) == (
        ("2.5", None) if trails_by == "trail_percent" else (None, "2.5")
    )
    assert refusal(
        broker.replace, broker.submit(stop("AAPL", "sell", 5, "180"))["id"], {"trail": 1}
    ) == (
        422,
        40010001,
        "trail cannot be set on a stop order",
    )
