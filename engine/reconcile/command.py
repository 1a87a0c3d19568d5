"""`recon reconcile`: one headless run of the same service the console drives, every way it
can end mapped to SPEC §1's exit codes."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import structlog

from engine.config import Config
from engine.reconcile.guard_settings import GuardSettings
from engine.reconcile.headless import decision_callback, log_event, print_summary
from engine.reconcile.lock import ReconciliationLocked
from engine.reconcile.service import service_from_config
from engine.store import SchemaNotReady, StoreConfigError, StoreError

EXIT_OK = 0
EXIT_UNCOVERED = 1
EXIT_ABORTED = 2
EXIT_LOCKED = 3
EXIT_USAGE = 64

log = structlog.get_logger("recon.guard")


async def run_headless(config: Config, *, yes: bool, dry_run: bool, json_output: bool) -> int:
    service = service_from_config(config)
    decide = decision_callback(
        confirm_all=yes, operator=service.operator, prompt=sys.stdin.isatty()
    )
    try:
        if dry_run:
            result = await service.preview(log_event)
        else:
            result = await service.run(decide, log_event)
    except (StoreError, ReconciliationLocked) as exc:
        return _could_not_start(exc)
    if json_output:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_summary(result, sys.stdout)
    return result.exit_code


async def run_guard(config: Config, *, yes: bool, settings: GuardSettings) -> int:
    """Reconcile as `recon reconcile` does, then guard until SIGINT or SIGTERM: 0 if every
    position is covered then, else 1; a start that fails exits as `recon reconcile` would.
    Nobody is asked anything: cancellations need `--yes`, protection needs nobody."""
    service = service_from_config(config)
    decide = decision_callback(confirm_all=yes, operator=service.operator, prompt=False)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stopping.set)
    try:
        outcome = await service.guard(decide, log_event, settings, stopping)
    except (StoreError, ReconciliationLocked) as exc:
        return _could_not_start(exc)
    if outcome.first.aborted is not None:
        print_summary(outcome.first, sys.stdout)
        return outcome.first.exit_code
    log.info("guard_stopped", covered=outcome.covered, guard_runs=len(outcome.guard_runs))
    return EXIT_OK if outcome.covered else EXIT_UNCOVERED


def _could_not_start(error: StoreError | ReconciliationLocked) -> int:
    """One line for the operator, and the exit code SPEC §1 gives the reason."""
    if isinstance(error, ReconciliationLocked):
        _say(f"recon: {error}")
        return EXIT_LOCKED
    if isinstance(error, SchemaNotReady | StoreConfigError):
        _say(f"recon: {error}")
        return EXIT_USAGE
    _say(f"recon: aborted before any change: {error}")
    return EXIT_ABORTED


def _say(line: str) -> None:
    print(line, file=sys.stderr)
