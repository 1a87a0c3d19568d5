"""`recon demo`: the crashed trading day on an in-process simulator and a fresh database, ready
for the console — no account, no configuration; `recon demo --fleet`: three such accounts."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.reconcile.service import ReconcileService
    from engine.simulator.runner import Simulator, SimulatorThread

# Long enough to watch a stop sit in STOP PENDING before the broker confirms it.
DEMO_ACCEPT_DELAY = timedelta(seconds=1.5)
# `recon demo --fleet`: a desk of three, each account a different morning after.
DEMO_FLEET = {
    "alpha": "crashed_day",  # every kind of divergence, orphans to decide
    "bravo": "bracket_by_hand",  # a bracket placed by hand is protection already
    "charlie": "protected_book",  # nothing to do: every position covered
}


class DemoEnvironment:
    """The simulator on a thread of its own and a scratch folder of databases, one per account:
    the crashed day alone, or with `fleet` the three accounts of `DEMO_FLEET`."""

    def __init__(self, *, fleet: bool = False) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="recon-demo-"))
        self.accounts = list(DEMO_FLEET) if fleet else ["alpha"]
        self._thread: SimulatorThread | None = None
        self._starting = asyncio.Lock()

    @property
    def reports_dir(self) -> Path:
        """Outlives the demo's scratch folder, so the report it shows the path of is kept."""
        from platformdirs import user_data_dir

        return Path(user_data_dir("recon")) / "demo-reports"

    async def start(self) -> ReconcileService:
        """The lone account of `recon demo`."""
        return await self.connect("alpha")

    async def connect(self, name: str) -> ReconcileService:
        """`name`'s service over its own freshly seeded database."""
        # Heavy imports wait for the console's first frame.
        from engine.simulator.fleet_folder import account_database_url
        from engine.simulator.local_seed import seed_local_database

        simulator = await self._simulator()
        account = simulator.accounts[name]
        db_url = account_database_url(self.folder, name)
        await seed_local_database(db_url, account.local_book)
        return demo_service(simulator, db_url, account=name)

    async def _simulator(self) -> Simulator:
        async with self._starting:  # a fleet's accounts connect at once; one simulator serves all
            if self._thread is None:
                from engine.simulator.runner import SimulatorThread

                # No test to fail: the demo's own errors are logged, and it carries on.
                thread = SimulatorThread(DEMO_FLEET["alpha"], fail_on_internal_errors=False)
                simulator = thread.__enter__()
                self._thread = thread
                for name in self.accounts[1:]:
                    simulator.add_account(name, DEMO_FLEET[name])
                for account in simulator.accounts.values():
                    account.broker.accept_delay = DEMO_ACCEPT_DELAY
            return self._thread.simulator

    def close(self) -> None:
        if self._thread is not None:
            self._thread.__exit__(None, None, None)
        shutil.rmtree(self.folder, ignore_errors=True)


def demo_service(simulator: Simulator, db_url: str, *, account: str = "alpha") -> ReconcileService:
    """The service of one of the simulator's accounts, the first unless named."""
    from pydantic import SecretStr

    from engine.broker.retry import RetryPolicy
    from engine.config import mask_key_id
    from engine.reconcile.actions import PlanSettings
    from engine.reconcile.service import BrokerAccess, ReconcileService

    return ReconcileService(
        broker=BrokerAccess(
            key_id=simulator.accounts[account].key_id,
            secret_key=SecretStr(simulator.accounts[account].secret_key),
            base_url=simulator.url,
            timeout_seconds=5.0,
            rate_limit_per_minute=200,
            retry_policy=RetryPolicy(),
        ),
        db_url=db_url,
        settings=PlanSettings(
            emergency_stop_pct=Decimal("0.02"),
            max_daily_loss_pct=Decimal("0.03"),
            consecutive_loss_pause=3,
        ),
        masked_key_id=mask_key_id(simulator.accounts[account].key_id),
        operator=getpass.getuser(),
        now=lambda: datetime.now(UTC),
        new_run_id=lambda: uuid.uuid4().hex[:12],
    )
