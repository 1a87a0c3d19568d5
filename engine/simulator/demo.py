"""`recon demo`: the crashed trading day on an in-process simulator and a fresh database, ready
for the console — no account, no configuration."""

from __future__ import annotations

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


class DemoEnvironment:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="recon-demo-"))
        self._thread: SimulatorThread | None = None

    @property
    def reports_dir(self) -> Path:
        """Outlives the demo's scratch folder, so the report it shows the path of is kept."""
        from platformdirs import user_data_dir

        return Path(user_data_dir("recon")) / "demo-reports"

    async def start(self) -> ReconcileService:
        # Heavy imports wait for the console's first frame.
        from engine.simulator.local_seed import seed_local_database
        from engine.simulator.runner import SimulatorThread

        self._thread = SimulatorThread("crashed_day")
        simulator = self._thread.__enter__()
        simulator.broker.accept_delay = DEMO_ACCEPT_DELAY
        db_url = f"sqlite:///{self.folder / 'demo.db'}"
        await seed_local_database(db_url, simulator.local_book)
        return demo_service(simulator, db_url)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.__exit__(None, None, None)
        shutil.rmtree(self.folder, ignore_errors=True)


def demo_service(simulator: Simulator, db_url: str) -> ReconcileService:
    from engine.broker.retry import RetryPolicy
    from engine.config import mask_key_id
    from engine.reconcile.actions import PlanSettings
    from engine.reconcile.service import BrokerAccess, ReconcileService

    return ReconcileService(
        broker=BrokerAccess(
            key_id=simulator.key_id,
            secret_key=simulator.secret_key,
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
        masked_key_id=mask_key_id(simulator.key_id),
        paper=True,
        operator=getpass.getuser(),
        now=lambda: datetime.now(UTC),
        new_run_id=lambda: uuid.uuid4().hex[:12],
    )
