"""Write a scenario's local rows into a database, as the trading engine would have left them:
the demo's starting point, `recon sim --seed-db`'s, and the integration tests'."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.simulator.scenarios import LocalBookSeed
from engine.store import StoreError, create_engine, database_label, session_factory
from engine.store.models import OrderStateRow
from engine.store.queries import insert_order, insert_trade
from engine.store.schema import init_schema


class BookNotEmpty(StoreError):
    """A scenario's rows go only into a database with no orders: mixed into a real book, they
    would read as the trading engine's own."""


async def seed_local_database(db_url: str, seed: LocalBookSeed) -> None:
    await init_schema(db_url)
    engine = create_engine(db_url)
    try:
        async with session_factory(engine).begin() as session:
            held = await session.scalar(select(func.count()).select_from(OrderStateRow))
            if held:
                raise BookNotEmpty(
                    f"{database_label(db_url)} already holds {held} orders; a scenario's local "
                    "rows are written only into a database with none"
                )
            for order in seed.orders:
                await insert_order(
                    session,
                    order,
                    event_type="created",
                    detail="written by the trading engine",
                    at=order.created_at,
                )
            for trade in seed.trades:
                await insert_trade(session, trade)
    finally:
        await engine.dispose()
