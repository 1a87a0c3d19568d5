"""Write a scenario's local rows into a database, as the trading engine would have left them:
the demo's starting point and the integration tests'."""

from __future__ import annotations

from engine.simulator.scenarios import LocalBookSeed
from engine.store import create_engine, session_factory
from engine.store.queries import insert_order, insert_trade
from engine.store.schema import init_schema


async def seed_local_database(db_url: str, seed: LocalBookSeed) -> None:
    await init_schema(db_url)
    engine = create_engine(db_url)
    try:
        async with session_factory(engine).begin() as session:
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
