"""`recon fleet reconcile`: every account of a fleet file reconciled at once, in one process,
each with its own lock, broker client, rate limiter and outcome. One account's failure never
stops or changes another; the fleet's exit code is the highest of theirs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import structlog

from engine import secrets
from engine.errors import UsageError, first_line
from engine.fleet.accounts import FleetAccount
from engine.reconcile.command import EXIT_UNCOVERED, EXIT_USAGE, Finished, reconcile_once
from engine.reconcile.headless import print_summary
from engine.watch.watching import Watching, watching


async def run_fleet(
    accounts: list[FleetAccount],
    *,
    yes: bool,
    dry_run: bool,
    json_output: bool,
    notify_urls: Sequence[str] = (),
) -> int:
    # One notifier for the whole fleet: each alert names its account.
    async with watching(notify_urls) as watch:
        finished = await asyncio.gather(
            *(
                _reconcile_account(account, yes=yes, dry_run=dry_run, watch=watch)
                for account in accounts
            )
        )
    ended = list(zip(accounts, finished, strict=True))
    exit_code = max(outcome.exit_code for outcome in finished)
    if json_output:
        report = {
            "exit_code": exit_code,
            "accounts": [_account_json(account, outcome) for account, outcome in ended],
        }
        print(secrets.dumps(report, indent=2))
        return exit_code
    for account, outcome in ended:
        print(f"== {account.name}: exit {outcome.exit_code}")
        if outcome.result is None:
            print(secrets.scrub(f"recon: {outcome.trouble}"))
        else:
            print_summary(outcome.result, sys.stdout)
    codes = " · ".join(f"{account.name} {outcome.exit_code}" for account, outcome in ended)
    print(f"fleet: exit {exit_code} — {codes}")
    return exit_code


async def _reconcile_account(
    account: FleetAccount, *, yes: bool, dry_run: bool, watch: Watching
) -> Finished:
    # Each account runs in a task of its own, so this names it in its log lines alone.
    structlog.contextvars.bind_contextvars(account=account.name)
    try:
        config = account.config()
    except UsageError as exc:
        return Finished(EXIT_USAGE, trouble=str(exc))
    try:
        # Nobody is asked at a fleet's pace: decisions need --yes, or are kept and reported.
        return await reconcile_once(config, yes=yes, dry_run=dry_run, prompt=False, watch=watch)
    except Exception as exc:  # a fault of this account's alone: the others carry on
        return Finished(EXIT_UNCOVERED, trouble=f"failed: {first_line(exc)}")


def _account_json(account: FleetAccount, ended: Finished) -> dict[str, Any]:
    if ended.result is None:
        return {"name": account.name, "exit_code": ended.exit_code, "error": ended.trouble}
    return {"name": account.name, **ended.result.to_json(), "exit_code": ended.exit_code}
