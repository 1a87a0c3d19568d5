"""`recon reconcile`: one headless run of the same service the console drives, every way it
can end mapped to SPEC §1's exit codes."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from engine import secrets
from engine.config import Config
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.headless import HeadlessLog, decision_callback, print_summary
from engine.reconcile.lock import ReconciliationLocked, StoodDown
from engine.reconcile.result import RunResult
from engine.reconcile.service import service_from_config
from engine.store import SchemaNotReady, StoreConfigError, StoreError
from engine.watch.watching import AccountWatch, Watching, watching

EXIT_OK = 0
EXIT_UNCOVERED = 1
EXIT_ABORTED = 2
EXIT_LOCKED = 3
EXIT_USAGE = 64

log = structlog.get_logger("recon.guard")


@dataclass(frozen=True, slots=True)
class Finished:
    """How one account's run ended: its result, or the one line saying why it could not
    start."""

    exit_code: int
    result: RunResult | None = None
    trouble: str | None = None


async def run_headless(
    config: Config, *, yes: bool, dry_run: bool, json_output: bool, notify_urls: Sequence[str] = ()
) -> int:
    async with watching(notify_urls) as watch:
        finished = await reconcile_once(
            config, yes=yes, dry_run=dry_run, prompt=sys.stdin.isatty(), watch=watch
        )
    if finished.result is None:
        _say(f"recon: {finished.trouble}")
    elif json_output:
        print(secrets.dumps(finished.result.to_json(), indent=2))
    else:
        print_summary(finished.result, sys.stdout)
    return finished.exit_code


async def reconcile_once(
    config: Config, *, yes: bool, dry_run: bool, prompt: bool, watch: Watching
) -> Finished:
    """One reconciliation of one account, as `recon reconcile` runs it."""
    service = service_from_config(config)
    decide = decision_callback(confirm_all=yes, operator=service.operator, prompt=prompt)
    account = watch.account(config.masked_key_id)
    try:
        if dry_run:
            result = await service.preview(account.listener(HeadlessLog()))
        else:
            result = await service.run(decide, account.listener(HeadlessLog()))
    except (StoreError, ReconciliationLocked) as exc:
        return _could_not_start(exc)
    account.run_ended(result)
    return Finished(result.exit_code, result)


async def run_guard(
    config: Config,
    *,
    yes: bool,
    settings: GuardSettings,
    standby: bool = False,
    notify_urls: Sequence[str] = (),
    metrics_port: int | None = None,
) -> int:
    """Reconcile as `recon reconcile` does, then guard until SIGINT or SIGTERM: 0 if every
    position is covered then, else 1; a start that fails exits as `recon reconcile` would. A
    `standby` waits for another guard's lock first. Nobody is asked anything: cancellations
    need `--yes`, protection needs nobody. Alerts and metrics, where asked for, watch it from
    before it starts until it stops."""
    async with watching(notify_urls, metrics_port) as watch:
        account = watch.account(config.masked_key_id, settings)
        return await _guard(config, yes=yes, settings=settings, standby=standby, watch=account)


async def _guard(
    config: Config, *, yes: bool, settings: GuardSettings, standby: bool, watch: AccountWatch
) -> int:
    service = service_from_config(config)
    decide = decision_callback(confirm_all=yes, operator=service.operator, prompt=False)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stopping.set)
    try:
        outcome = await service.guard(
            decide,
            watch.listener(HeadlessLog()),
            settings,
            stopping,
            standby=standby,
            ran=watch.run_ended,
        )
    except StoodDown:
        log.info("guard_stopped_standing_by")
        return EXIT_OK
    except (StoreError, ReconciliationLocked) as exc:
        could_not = _could_not_start(exc)
        _say(f"recon: {could_not.trouble}")
        return could_not.exit_code
    watch.guard_stopped(outcome)
    if outcome.first.aborted is not None:
        print_summary(outcome.first, sys.stdout)
        return outcome.first.exit_code
    log.info("guard_stopped", covered=outcome.covered, guard_runs=len(outcome.guard_runs))
    return EXIT_OK if outcome.covered else EXIT_UNCOVERED


def _could_not_start(error: StoreError | ReconciliationLocked) -> Finished:
    """One line for the operator, and the exit code SPEC §1 gives the reason."""
    if isinstance(error, ReconciliationLocked):
        return Finished(EXIT_LOCKED, trouble=str(error))
    if isinstance(error, SchemaNotReady | StoreConfigError):
        return Finished(EXIT_USAGE, trouble=str(error))
    return Finished(EXIT_ABORTED, trouble=f"aborted before any change: {error}")


def _say(line: str) -> None:
    print(secrets.scrub(line), file=sys.stderr)
