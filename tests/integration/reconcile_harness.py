"""Running a whole reconciliation in the test's process: the real adapter over HTTP to the
simulator, the real store on a SQLite file, events and decisions captured."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from engine.broker.status_map import meaning_of
from engine.domain import BrokerOrderStatus
from engine.reconcile.actions import PlanAction, PlanSettings
from engine.reconcile.events import Decision, DecisionAnswer, DecisionCallback, Event
from engine.reconcile.result import RunResult
from engine.reconcile.run import RunRequest, reconcile
from engine.simulator.book import STOP_TYPES
from engine.simulator.runner import Simulator
from engine.store import create_engine, require_current_schema
from tests.integration.conftest import make_broker

SETTINGS = PlanSettings(
    emergency_stop_pct=Decimal("0.02"),
    max_daily_loss_pct=Decimal("0.03"),
    consecutive_loss_pause=3,
)


@dataclass
class Operator:
    """Answers every decision the same way and remembers what it was asked."""

    answer: Decision = Decision.CONFIRMED
    asked: list[PlanAction] = field(default_factory=list)

    async def __call__(self, action: PlanAction) -> DecisionAnswer:
        self.asked.append(action)
        return DecisionAnswer(self.answer, "test-operator")


async def run_reconcile(
    simulator: Simulator,
    db_url: str,
    *,
    operator: DecisionCallback | None = None,
    dry_run: bool = False,
    events: list[Event] | None = None,
    run_id: str = "run-1",
) -> RunResult:
    engine = create_engine(db_url)
    broker = make_broker(simulator)
    captured = events if events is not None else []
    try:
        await require_current_schema(engine)
        return await reconcile(
            RunRequest(
                dry_run=dry_run,
                operator="test-operator",
                masked_key_id="PK…7Q",
                paper=True,
                settings=SETTINGS,
            ),
            broker=broker,
            engine=engine,
            decide=operator or Operator(),
            emit=captured.append,
            now=simulator.broker.now,
            run_id=run_id,
        )
    finally:
        await broker.close()
        await engine.dispose()


def table_rows(db_url: str, table: str) -> list[tuple[object, ...]]:
    path = Path(db_url.split("///", 1)[1])
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def stop_cover(simulator: Simulator) -> dict[str, Decimal]:
    """Per symbol, the quantity of open closing-side stops the broker holds."""
    cover: dict[str, Decimal] = {}
    for order in simulator.broker.orders.values():
        position = simulator.broker.positions.get(order.symbol)
        if position is None or not order.is_open or order.type not in STOP_TYPES:
            continue
        closing = "sell" if position.qty > 0 else "buy"
        if order.side == closing and meaning_of(BrokerOrderStatus(order.status)).is_open:
            cover[order.symbol] = cover.get(order.symbol, Decimal(0)) + order.remaining_qty
    return cover


def held(simulator: Simulator) -> dict[str, Decimal]:
    return {symbol: abs(p.qty) for symbol, p in simulator.broker.positions.items()}
