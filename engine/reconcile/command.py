"""`recon reconcile`: one headless run of the same service the console drives, every way it
can end mapped to SPEC §1's exit codes."""

from __future__ import annotations

import json
import sys

from engine.config import Config
from engine.reconcile.headless import decision_callback, log_event, print_summary
from engine.reconcile.lock import ReconciliationLocked
from engine.reconcile.service import service_from_config
from engine.store import SchemaNotReady, StoreError

EXIT_ABORTED = 2
EXIT_LOCKED = 3
EXIT_USAGE = 64


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
    except SchemaNotReady as exc:
        _say(f"recon: {exc}")
        return EXIT_USAGE
    except StoreError as exc:
        _say(f"recon: aborted before any change: {exc}")
        return EXIT_ABORTED
    except ReconciliationLocked as exc:
        _say(f"recon: {exc}")
        return EXIT_LOCKED
    if json_output:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_summary(result, sys.stdout)
    return result.exit_code


def _say(line: str) -> None:
    print(line, file=sys.stderr)
