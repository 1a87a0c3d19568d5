"""`recon reconcile`: wire configuration, database, lock and broker around one headless run and
map every way it can end to SPEC §1's exit codes."""

from __future__ import annotations

import getpass
import json
import sys
import uuid
from datetime import UTC, datetime

from engine.broker.alpaca import AlpacaBroker
from engine.config import Config
from engine.reconcile.headless import decision_callback, log_event, print_summary
from engine.reconcile.lock import ReconciliationLocked, reconciliation_lock
from engine.reconcile.plan import PlanSettings
from engine.reconcile.run import RunRequest, reconcile
from engine.store import SchemaNotReady, StoreError, create_engine, require_current_schema

EXIT_ABORTED = 2
EXIT_LOCKED = 3
EXIT_USAGE = 64


async def run_headless(config: Config, *, yes: bool, dry_run: bool, json_output: bool) -> int:
    key_id, secret = config.require_credentials()
    operator = getpass.getuser()
    engine = create_engine(config.db_url)
    try:
        await require_current_schema(engine)
        async with reconciliation_lock(engine):
            broker = AlpacaBroker(
                key_id=key_id,
                secret_key=secret.get_secret_value(),
                base_url=config.broker_url,
                timeout_seconds=config.http_timeout_seconds,
                rate_limit_per_minute=config.rate_limit_per_minute,
            )
            try:
                result = await reconcile(
                    RunRequest(
                        dry_run=dry_run,
                        operator=operator,
                        masked_key_id=config.masked_key_id,
                        paper=config.is_paper,
                        settings=plan_settings(config),
                    ),
                    broker=broker,
                    engine=engine,
                    decide=decision_callback(
                        confirm_all=yes, operator=operator, prompt=sys.stdin.isatty()
                    ),
                    emit=log_event,
                    now=lambda: datetime.now(UTC),
                    run_id=uuid.uuid4().hex[:12],
                )
            finally:
                await broker.close()
    except SchemaNotReady as exc:
        _say(f"recon: {exc}")
        return EXIT_USAGE
    except StoreError as exc:
        _say(f"recon: aborted before any change: {exc}")
        return EXIT_ABORTED
    except ReconciliationLocked as exc:
        _say(f"recon: {exc}")
        return EXIT_LOCKED
    finally:
        await engine.dispose()
    if json_output:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_summary(result, sys.stdout)
    return result.exit_code


def plan_settings(config: Config) -> PlanSettings:
    return PlanSettings(
        emergency_stop_pct=config.emergency_stop_pct,
        max_daily_loss_pct=config.max_daily_loss_pct,
        consecutive_loss_pause=config.consecutive_loss_pause,
    )


def _say(line: str) -> None:
    print(line, file=sys.stderr)
