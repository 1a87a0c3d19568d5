"""What a run remembers from one read of the broker to the next, and so what of a fresh plan it
may still do: never ask the operator the same question twice, never send an order the broker
refused by a rule again unchanged, try a position's stop again only while the broker's refusals
name no rule, and once every try is spent close its shares at market — unless a rule would
refuse that too. Pure: the plan comes in, what remains of it goes out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from engine.domain import NewOrder, OrderRole, OrderState, OrderType
from engine.reconcile.actions import ActionKind, Phase, Plan, PlanAction
from engine.reconcile.asset_rules import market_time_in_force
from engine.reconcile.outcomes import ActionResult, Outcome, Refusal
from engine.reconcile.stops import RECON_PREFIX

# Stops a position may be refused for reasons no rule names before its shares are closed at
# market: what the broker refuses three times for no stated rule it is not going to take.
STOP_SUBMIT_ATTEMPTS = 3
# A run reads the broker at most this often: the first read; one after the orders phase that
# cancelled what blocked a stop; up to three stop attempts; a market exit; and the confirming
# read. More reads than that means the book moves faster than recon can act on it, and the
# guard takes over from there.
MAX_READS = 7
CANCELLATIONS = frozenset({ActionKind.CANCEL_ORPHAN, ActionKind.CANCEL_BLOCKING_ORDER})


@dataclass
class RunMemory:
    """Filled as the rounds go: which orders were put to the operator, what was sent and how
    the broker answered, and each position's refused stops."""

    asked: set[str] = field(default_factory=set)
    sent: dict[ActionKey, Refusal | None] = field(default_factory=dict)
    refusals: dict[str, list[Refusal]] = field(default_factory=lambda: defaultdict(list))

    def remember(self, results: Iterable[ActionResult]) -> None:
        for result in results:
            action = result.action
            if result.decision is not None:
                self.asked.add(action.target)
            self.sent[action_key(action)] = result.refusal
            if result.refusal is not None and action.kind is not ActionKind.MARKET_EXIT:
                self.refusals[action.symbol].append(result.refusal)
            if action.kind in CANCELLATIONS and result.outcome is Outcome.SUCCEEDED:
                self._obstacle_gone(action.symbol)

    def _obstacle_gone(self, symbol: str) -> None:
        """An order recon cancelled in `symbol` may be what a symbol's rule refused its stop
        for: that stop is no longer the same request, since the book it meets has changed."""
        for key, refusal in list(self.sent.items()):
            if refusal is Refusal.SYMBOL_RULE and key.symbol == symbol:
                del self.sent[key]
        if symbol in self.refusals:
            self.refusals[symbol] = [
                r for r in self.refusals[symbol] if r is not Refusal.SYMBOL_RULE
            ]

    def remaining(self, plan: Plan) -> Plan:
        """What of `plan` is still worth doing, numbered from 1."""
        kept: list[PlanAction] = []
        for action in plan.actions:
            if action.needs_decision:
                if action.target not in self.asked:
                    kept.append(action)
                continue
            doable = (
                self._stop_or_exit(action) if action.kind is ActionKind.EMERGENCY_STOP else action
            )
            if doable is None:
                continue
            key = action_key(doable)
            if key not in self.sent or (
                doable.kind is ActionKind.EMERGENCY_STOP and self.sent[key] is Refusal.UNFORESEEN
            ):
                kept.append(doable)
        return replace(
            plan,
            actions=tuple(action.numbered(seq) for seq, action in enumerate(kept, start=1)),
        )

    def _stop_or_exit(self, stop: PlanAction) -> PlanAction | None:
        """The stop while tries are left; once they are spent, the market exit that takes its
        place, or nothing where a rule would refuse the exit too."""
        refusals = self.refusals.get(stop.symbol, [])
        if refusals.count(Refusal.UNFORESEEN) < STOP_SUBMIT_ATTEMPTS:
            return stop
        if Refusal.SYMBOL_RULE in refusals or stop.blocked_by:
            return None
        return market_exit(stop, len(refusals))


class ActionKey(NamedTuple):
    """What makes two actions of two plans the same request: what they do, to what, on which
    terms. A submission's client_order_id is left out, since a fresh id on the same terms is
    still the same order to the broker's rules."""

    kind: ActionKind
    symbol: str
    target: str | None
    new_state: OrderState | None
    broker_order_id: str | None
    terms: NewOrder | None


def action_key(action: PlanAction) -> ActionKey:
    order = action.new_order
    return ActionKey(
        action.kind,
        action.symbol,
        action.target if order is None else None,
        action.new_state,
        None if action.broker_order is None else action.broker_order.id,
        None if order is None else replace(order, client_order_id=""),
    )


def market_exit(stop: PlanAction, refused: int) -> PlanAction:
    """Close at market the shares `stop` would have covered, on the same side."""
    order = stop.new_order
    row = stop.new_row
    if order is None or row is None:
        raise ValueError(f"stop action {stop.seq} for {stop.symbol} carries no order")
    exit_id = order.client_order_id.replace(f"{RECON_PREFIX}stop-", f"{RECON_PREFIX}exit-", 1)
    return PlanAction(
        seq=0,
        phase=Phase.POSITIONS,
        kind=ActionKind.MARKET_EXIT,
        symbol=stop.symbol,
        target=exit_id,
        reason=f"the broker refused {stop.symbol}'s stop {refused} times for no rule recon can "
        f"answer; {order.side} {order.qty} at market instead",
        new_order=NewOrder(
            client_order_id=exit_id,
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            order_type=OrderType.MARKET,
            time_in_force=market_time_in_force(order.asset_class),
            asset_class=order.asset_class,
        ),
        new_row=replace(
            row,
            local_id=exit_id,
            client_order_id=exit_id,
            order_type=OrderType.MARKET,
            order_role=OrderRole.EXIT_MARKET,
            stop_price=None,
        ),
        exposure=stop.exposure,
    )
