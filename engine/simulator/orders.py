"""An order as the simulated broker holds it: its terms, its state, the bracket, OCO or multi-leg
group it belongs to, and the JSON Alpaca prints for it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from engine.simulator.assets import US_EQUITY

CLOSED_STATUSES = frozenset({"filled", "canceled", "expired", "replaced", "rejected"})
STOP_TYPES = frozenset({"stop", "stop_limit", "trailing_stop"})
SIMPLE = "simple"
BRACKET = "bracket"
OCO = "oco"
OTO = "oto"
MLEG = "mleg"


@dataclass
class SimOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal
    status: str
    submitted_at: datetime
    updated_at: datetime
    stop_price: Decimal | None = None
    limit_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    replaced_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    asset_id: str = ""
    # us_equity, crypto or us_option; empty on a multi-leg parent, whose legs each have theirs.
    asset_class: str = US_EQUITY
    order_class: str = SIMPLE
    position_intent: str | None = None
    # A multi-leg order's leg: contracts of it per unit of the parent's qty.
    ratio_qty: Decimal | None = None
    # Group membership is the book's own: Alpaca's JSON shows legs only nested under the parent.
    parent_id: str | None = None
    leg_ids: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def group_id(self) -> str:
        """The id every member of this order's group shares: its parent's, or its own."""
        return self.parent_id or self.id

    def to_wire(self, legs: Sequence[SimOrder] | None = None) -> dict[str, Any]:
        """The order as Alpaca's JSON: numbers as strings, UTC timestamps ending in Z; `legs`
        null unless the caller asked for them nested, each leg then printed flat."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": wire_time(self.submitted_at),
            "updated_at": wire_time(self.updated_at),
            "submitted_at": wire_time(self.submitted_at),
            "filled_at": wire_time(self.filled_at),
            "expired_at": wire_time(self.expired_at),
            "expires_at": None,
            "canceled_at": wire_time(self.canceled_at),
            "failed_at": None,
            "replaced_at": wire_time(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "asset_class": self.asset_class,
            "notional": None,
            "qty": str(self.qty),
            "filled_qty": str(self.filled_qty),
            "filled_avg_price": _num(self.filled_avg_price),
            "order_class": self.order_class,
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": self.position_intent,
            "time_in_force": self.time_in_force,
            "limit_price": _num(self.limit_price),
            "stop_price": _num(self.stop_price),
            "status": self.status,
            "extended_hours": False,
            "legs": None if legs is None else [leg.to_wire() for leg in legs],
            "trail_percent": _num(self.trail_percent),
            "trail_price": _num(self.trail_price),
            "hwm": None,
            **({} if self.ratio_qty is None else {"ratio_qty": str(self.ratio_qty)}),
        }


def group_members(order: SimOrder, orders: Mapping[str, SimOrder]) -> list[SimOrder]:
    """Every order of `order`'s group, parent first, legs in their order; a simple order is a
    group of one."""
    parent = orders[order.group_id]
    return [parent, *(orders[leg_id] for leg_id in parent.leg_ids)]


def exit_members(order: SimOrder, orders: Mapping[str, SimOrder]) -> list[SimOrder]:
    """The members that close the position: a bracket's or OTO's legs (its parent is the
    entry), and every member of an OCO, which is an exit from end to end."""
    members = group_members(order, orders)
    return members if members[0].order_class == OCO else members[1:]


def awaits_entry(order: SimOrder, orders: Mapping[str, SimOrder]) -> bool:
    """A leg of a bracket or OTO whose entry has not filled yet: it can do nothing until then."""
    if order.parent_id is None:
        return False
    parent = orders[order.parent_id]
    return parent.order_class in (BRACKET, OTO) and parent.status != "filled"


def wire_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
