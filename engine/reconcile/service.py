"""The reconciliation as a face (the console) drives it: preview the plan without changing
anything, or run it under the database lock — broker and database wired here, so the face
never touches alpaca-py or SQLAlchemy."""

from __future__ import annotations

import asyncio
import getpass
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from engine import secrets
from engine.broker.alpaca import AlpacaBroker
from engine.broker.retry import RetryPolicy
from engine.config import Config
from engine.domain import OrderEvent
from engine.reconcile.actions import PlanAction, PlanSettings
from engine.reconcile.events import DecisionAnswer, DecisionCallback, Listener
from engine.reconcile.guard import Guard
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.history import HISTORY_RUNS, RunHistoryEntry, history_entry
from engine.reconcile.lock import HeldLock, reconciliation_lock
from engine.reconcile.result import GuardOutcome, RunResult
from engine.reconcile.run import RunRequest, reconcile
from engine.store import (
    create_engine,
    database_label,
    journal,
    queries,
    require_current_schema,
    session_factory,
)
from engine.store.database import database_passwords, without_password
from engine.store.journal import JournaledAction

log = structlog.get_logger("recon.guard")

# A position's detail shows this many of its orders' events: the day's story, in one query.
SYMBOL_HISTORY_EVENTS = 200


@dataclass(frozen=True)
class BrokerAccess:
    """How to reach one account. The secret stays wrapped, its repr masked, until the broker
    client puts it on the wire; whoever built this, it is registered with the scrubber."""

    key_id: str
    secret_key: SecretStr
    base_url: str
    timeout_seconds: float
    rate_limit_per_minute: int
    retry_policy: RetryPolicy | None = None

    def __post_init__(self) -> None:
        secrets.register(self.secret_key.get_secret_value())


@dataclass(frozen=True)
class ReconcileService:
    broker: BrokerAccess
    db_url: str
    settings: PlanSettings
    masked_key_id: str
    operator: str
    now: Callable[[], datetime]
    new_run_id: Callable[[], str]

    def __post_init__(self) -> None:
        secrets.register(*database_passwords(self.db_url))

    def __repr__(self) -> str:
        return secrets.dataclass_repr(self, db_url=without_password(self.db_url))

    @property
    def database(self) -> str:
        return database_label(self.db_url)

    async def preview(self, emit: Listener) -> RunResult:
        """Fetch, diff and plan; nothing changes anywhere."""
        return await self._reconcile(dry_run=True, decide=_never_asked, emit=emit)

    async def run(self, decide: DecisionCallback, emit: Listener) -> RunResult:
        return await self._reconcile(dry_run=False, decide=decide, emit=emit)

    async def guard(
        self,
        decide: DecisionCallback,
        emit: Listener,
        settings: GuardSettings,
        stopping: asyncio.Event,
        *,
        after: RunResult | None = None,
        ran: Callable[[RunResult], None] = lambda result: None,
        standby: bool = False,
    ) -> GuardOutcome:
        """Reconcile — unless `after`, a run made earlier, is what to guard — then keep every
        position covered until `stopping` is set, holding the database's lock throughout: two
        processes protecting one book would double its stops, and no other reconciliation may
        slip in between a run and its guard. `ran` hears the run the moment it ends. A run that
        aborted is not followed by guarding, unless what aborted it is an account that refuses
        orders, which the guard watches until it takes them; what the operator answered in the
        run is not asked again. A `standby` waits for the lock another process holds, and
        takes over — a full run first — as soon as it is free."""
        async with (
            self._connected() as (broker, engine),
            reconciliation_lock(
                engine, standing_by=_standing_by if standby else None, until=stopping
            ) as lock,
        ):
            first = after
            if first is None:
                first = await self._reconcile_on(broker, engine, False, decide, emit)
                ran(first)
                if first.aborted is not None and first.account_refusal is None:
                    return GuardOutcome(first, covered=False, guard_runs=())
            guard = self._guard(broker, engine, lock, decide, emit, settings, first.decided_orders)
            covered = await guard.watch(stopping)
            return GuardOutcome(first, covered, tuple(guard.runs))

    def _guard(
        self,
        broker: AlpacaBroker,
        engine: AsyncEngine,
        lock: HeldLock,
        decide: DecisionCallback,
        emit: Listener,
        settings: GuardSettings,
        asked: frozenset[str],
    ) -> Guard:
        return Guard(
            self._request(dry_run=False),
            settings,
            broker=broker,
            sessions=session_factory(engine),
            decide=decide,
            emit=emit,
            now=self.now,
            new_run_id=self.new_run_id,
            lock=lock,
            asked=asked,
        )

    async def history(self) -> list[RunHistoryEntry]:
        """The journal's runs and guard runs, newest first."""
        async with self._database() as engine, session_factory(engine)() as session:
            records = await journal.load_runs(session, limit=HISTORY_RUNS)
        return [history_entry(record) for record in records]

    async def run_actions(self, run_id: str) -> list[JournaledAction]:
        """A journaled run's actions in order, with their decisions and outcomes."""
        async with self._database() as engine, session_factory(engine)() as session:
            return await journal.load_run_actions(session, run_id)

    async def symbol_history(self, symbol: str) -> list[OrderEvent]:
        """The order_event history of every local order in `symbol`, newest first."""
        async with self._database() as engine, session_factory(engine)() as session:
            return await queries.load_symbol_history(session, symbol, limit=SYMBOL_HISTORY_EVENTS)

    async def _reconcile(
        self, *, dry_run: bool, decide: DecisionCallback, emit: Listener
    ) -> RunResult:
        async with self._connected() as (broker, engine):
            # A preview changes nothing, so it needs no lock and never waits on a run.
            lock = nullcontext() if dry_run else reconciliation_lock(engine)
            async with lock:
                return await self._reconcile_on(broker, engine, dry_run, decide, emit)

    async def _reconcile_on(
        self,
        broker: AlpacaBroker,
        engine: AsyncEngine,
        dry_run: bool,
        decide: DecisionCallback,
        emit: Listener,
    ) -> RunResult:
        return await reconcile(
            self._request(dry_run=dry_run),
            broker=broker,
            engine=engine,
            decide=decide,
            emit=emit,
            now=self.now,
            run_id=self.new_run_id(),
        )

    @asynccontextmanager
    async def _database(self) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(self.db_url)
        try:
            await require_current_schema(engine)
            yield engine
        finally:
            await engine.dispose()

    @asynccontextmanager
    async def _connected(self) -> AsyncIterator[tuple[AlpacaBroker, AsyncEngine]]:
        engine = create_engine(self.db_url)
        broker = AlpacaBroker(
            key_id=self.broker.key_id,
            secret_key=self.broker.secret_key,
            base_url=self.broker.base_url,
            timeout_seconds=self.broker.timeout_seconds,
            rate_limit_per_minute=self.broker.rate_limit_per_minute,
            retry_policy=self.broker.retry_policy,
            now=self.now,
        )
        try:
            await require_current_schema(engine)
            yield broker, engine
        finally:
            await broker.close()
            await engine.dispose()

    def _request(self, *, dry_run: bool) -> RunRequest:
        return RunRequest(
            dry_run=dry_run,
            operator=self.operator,
            masked_key_id=self.masked_key_id,
            settings=self.settings,
        )


def _standing_by(holder: str) -> None:
    log.info("guard_standing_by", holder=holder)


async def _never_asked(action: PlanAction) -> DecisionAnswer:
    raise AssertionError(f"a dry run asks no decisions (asked about action {action.seq})")


def service_from_config(
    config: Config, *, now: Callable[[], datetime] | None = None
) -> ReconcileService:
    key_id, secret = config.require_credentials()
    return ReconcileService(
        broker=BrokerAccess(
            key_id=key_id,
            secret_key=secret,
            base_url=config.broker_url,
            timeout_seconds=config.http_timeout_seconds,
            rate_limit_per_minute=config.rate_limit_per_minute,
        ),
        db_url=config.db_url,
        settings=PlanSettings(
            emergency_stop_pct=config.emergency_stop_pct,
            crypto_stop_limit_pct=config.crypto_stop_limit_pct,
            max_daily_loss_pct=config.max_daily_loss_pct,
            consecutive_loss_pause=config.consecutive_loss_pause,
        ),
        masked_key_id=config.masked_key_id,
        operator=getpass.getuser(),
        now=now or (lambda: datetime.now(UTC)),
        new_run_id=lambda: uuid.uuid4().hex[:12],
    )
