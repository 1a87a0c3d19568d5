"""The ledger's group commit on a real SQLite file: writes that arrive together share a
transaction, each returns only once its own is committed, and one that fails does not take the
others with it."""

import asyncio
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from engine.reconcile.actions import ActionKind, Phase, PlanAction
from engine.reconcile.ledger import StoreLedger
from engine.reconcile.outcomes import JournalEntry, Outcome
from engine.simulator.local_seed import seed_local_database
from engine.simulator.scenarios import LocalBookSeed
from engine.store import StoreError, create_engine, journal, session_factory
from tests.factories import NOW, make_local_order

STOPS = 40


async def ledger_on(tmp_path: Path) -> tuple[StoreLedger, list[str], AsyncEngine]:
    db_url = f"sqlite:///{tmp_path / 'engine.db'}"
    await seed_local_database(db_url, LocalBookSeed())
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        await journal.start_run(
            session, run_id="run-1", operator="ops", account_number="PA3SIMRECON1",
            paper=True, dry_run=False, started_at=NOW,
        )  # fmt: skip
    commits: list[str] = []
    event.listen(engine.sync_engine, "commit", lambda connection: commits.append("commit"))
    ledger = StoreLedger(sessions, "run-1", lambda: NOW)
    actions = [
        PlanAction(seq, Phase.POSITIONS, ActionKind.EMERGENCY_STOP, f"S{seq}", "stop", "bare")
        for seq in range(1, STOPS + 1)
    ]
    await ledger.record_planned(actions)
    commits.clear()
    return ledger, commits, engine


async def stop_rows(engine: AsyncEngine) -> list[str]:
    async with session_factory(engine)() as session:
        found = await session.execute(text("SELECT local_id FROM order_state ORDER BY local_id"))
        return [row[0] for row in found]


async def record(ledger: StoreLedger, seq: int, local_id: str) -> None:
    row = make_local_order(local_id, f"S{seq}", client_order_id=f"recon-stop-S{seq}")
    await ledger.insert_order(
        row,
        event_type=ActionKind.EMERGENCY_STOP,
        detail="bare",
        journal=JournalEntry(seq, Outcome.SUCCEEDED, "confirmed"),
    )


async def test_stops_confirmed_together_share_their_commits(tmp_path: Path) -> None:
    ledger, commits, engine = await ledger_on(tmp_path)
    try:
        await asyncio.gather(*(record(ledger, seq, f"L{seq:03}") for seq in range(1, STOPS + 1)))
        assert await stop_rows(engine) == [f"L{seq:03}" for seq in range(1, STOPS + 1)]
        # The first commits alone; everything that arrived meanwhile goes in the next.
        assert len(commits) == 2
    finally:
        await engine.dispose()


async def test_stops_confirmed_together_are_written_in_three_statements(tmp_path: Path) -> None:
    ledger, _, engine = await ledger_on(tmp_path)
    for_many: list[bool] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda *cursor_execute: for_many.append(cursor_execute[-1]),  # its `executemany` flag
    )
    try:
        await asyncio.gather(*(record(ledger, seq, f"L{seq:03}") for seq in range(1, STOPS + 1)))
        # The first alone: its row, its event, its outcome; then the 39 that waited, the same
        # three statements each run for all of them.
        assert for_many == [False] * 3 + [True] * 3
        assert len(await stop_rows(engine)) == STOPS
    finally:
        await engine.dispose()


async def test_one_write_that_fails_fails_alone(tmp_path: Path) -> None:
    ledger, _, engine = await ledger_on(tmp_path)
    try:
        await record(ledger, 1, "L001")
        results = await asyncio.gather(
            record(ledger, 2, "L002"),
            record(ledger, 3, "L001"),  # the same local id again: the database refuses it
            record(ledger, 4, "L004"),
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], StoreError)
        assert str(results[1]).startswith("record L001: ")
        assert await stop_rows(engine) == ["L001", "L002", "L004"]
    finally:
        await engine.dispose()


async def test_a_writer_cancelled_while_it_commits_for_others_leaves_their_writes_to_the_next(
    tmp_path: Path,
) -> None:
    """The task holding the transaction is cancelled part way, its own write unfinished: the
    writes it carried for others are committed by whoever goes next, and nobody waits for
    ever."""
    ledger, _, engine = await ledger_on(tmp_path)
    entered, never = asyncio.Event(), asyncio.Event()

    async def stuck(session: AsyncSession) -> None:
        entered.set()
        await never.wait()

    try:
        first = asyncio.create_task(record(ledger, 1, "L001"))
        await asyncio.sleep(0)  # it holds the turn, committing alone
        holder = asyncio.create_task(ledger._write("a write that never ends", stuck))
        others = [asyncio.create_task(record(ledger, seq, f"L{seq:03}")) for seq in (3, 4)]
        await first
        await asyncio.wait_for(entered.wait(), 30)  # the holder's batch carries the others
        holder.cancel()
        await asyncio.wait_for(asyncio.gather(*others), 30)
        assert holder.cancelled()
        assert await stop_rows(engine) == ["L001", "L003", "L004"]
    finally:
        await engine.dispose()
