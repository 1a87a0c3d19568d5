"""`recon` and its subcommands: parse flags, validate configuration once, run one command, and
turn every expected failure into one line on stderr and an exit code (SPEC §1)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
from collections.abc import Callable, Sequence
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from engine.errors import UsageError
from engine.private_files import keep_private
from engine.reconcile.guard_settings import GuardSettings

# Where `recon console`, `recon fleet console` and `recon demo` log, in the user's log folder.
CONSOLE_LOG = "console.log"

if TYPE_CHECKING:
    from console.app import Backend, BackendFactory
    from engine.config import Config

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_ABORTED = 2
EXIT_USAGE = 64
LONGEST_SECONDS_FLAG = 3600.0
# Allocations between two collections of the youngest objects (Python's default is 700). What
# recon allocates comes in bursts that live on — the modules a start loads, a page of 500
# orders parsed — and at 700 the collector walks each burst again and again as it ages.
YOUNG_COLLECTION_ALLOCATIONS = 10_000
# A port a scraper can be pointed at: 0, "any free port", would be one nobody knows.
PORT_RANGE = (1, 65535)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage, which `recon reconcile` reserves for "aborted before any
    change"; bad usage is 64 here, as for every other configuration error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="recon", description="Reconcile a trading engine with its broker.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    connection = _Parser(add_help=False)
    connection.add_argument("--broker-url", help="Alpaca base URL (env APCA_API_BASE_URL)")
    connection.add_argument("--db", help="database URL (env RECON_DB_URL)")
    connection.add_argument(
        "--stop-pct", help="emergency stop distance, 0.005–0.10 (env RECON_EMERGENCY_STOP_PCT)"
    )

    notify = _Parser(add_help=False)
    notify.add_argument(
        "--notify",
        action="append",
        metavar="URL",
        help="an apprise URL alerts go to; repeatable (env RECON_NOTIFY_URLS)",
    )

    commands.add_parser(
        "console", parents=[connection], help="the operator console against your broker"
    )
    demo = commands.add_parser("demo", help="the console against the built-in simulator")
    demo.add_argument(
        "--fleet", action="store_true", help="a fleet of three simulated accounts instead of one"
    )
    reconcile = commands.add_parser(
        "reconcile", parents=[connection, notify], help="reconcile headless, for scripts"
    )
    reconcile.add_argument("--yes", action="store_true", help="confirm every operator decision")
    reconcile.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    reconcile.add_argument("--json", action="store_true", help="one JSON object on stdout")

    guard = commands.add_parser(
        "guard",
        parents=[connection, notify],
        help="reconcile, then keep every position covered until stopped",
    )
    guard.add_argument(
        "--yes", action="store_true", help="confirm cancellations (protection never waits)"
    )
    guard.add_argument(
        "--grace",
        type=_seconds("--grace", 0),
        default=GuardSettings().grace_seconds,
        metavar="SECONDS",
        help="how long a newly uncovered position waits before recon covers it (default 10)",
    )
    guard.add_argument(
        "--sweep",
        type=_seconds("--sweep", 1),
        default=GuardSettings().sweep_seconds,
        metavar="SECONDS",
        help="how often the whole book is re-read over REST (default 15)",
    )
    guard.add_argument(
        "--metrics-port",
        type=_port("--metrics-port"),
        metavar="N",
        help="serve Prometheus metrics on 127.0.0.1:N",
    )
    guard.add_argument(
        "--standby",
        action="store_true",
        help="wait for the database's lock another guard holds, and take over when it is free",
    )

    fleet = commands.add_parser("fleet", help="every account of a fleet file at once")
    fleet_commands = fleet.add_subparsers(dest="fleet_command", required=True, parser_class=_Parser)
    fleet_reconcile = fleet_commands.add_parser(
        "reconcile",
        parents=[notify],
        help="reconcile every account of the fleet file concurrently",
    )
    fleet_reconcile.add_argument(
        "--accounts", required=True, metavar="FILE", help="the fleet file (TOML, SPEC §1)"
    )
    fleet_reconcile.add_argument("--yes", action="store_true", help="confirm every decision")
    fleet_reconcile.add_argument("--dry-run", action="store_true", help="change nothing")
    fleet_reconcile.add_argument("--json", action="store_true", help="one JSON object on stdout")
    fleet_console = fleet_commands.add_parser(
        "console", help="the console over the fleet: one row per account, enter opens one"
    )
    fleet_console.add_argument(
        "--accounts", required=True, metavar="FILE", help="the fleet file (TOML, SPEC §1)"
    )

    db = commands.add_parser("db", help="the local database")
    db_commands = db.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    db_commands.add_parser("init", parents=[connection], help="create or upgrade the schema")

    sim = commands.add_parser("sim", help="run the Alpaca-compatible simulator on 127.0.0.1")
    sim.add_argument("--scenario", default="crashed_day", help="scenario to load")
    sim.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    sim.add_argument(
        "--seed-db",
        metavar="URL",
        help="first write the scenario's local rows into this database (it must hold no orders)",
    )
    sim.add_argument(
        "--accounts",
        type=int,
        default=1,
        metavar="N",
        help="serve N accounts, 1–26 (alpha, bravo, …), each its own key pair and scenario book",
    )
    sim.add_argument(
        "--fleet-dir",
        type=Path,
        metavar="DIR",
        help="write a fleet file for the accounts there, each account's database seeded beside it",
    )
    return parser


def run() -> NoReturn:
    """The `recon` command: `main`, its youngest objects collected once every
    `YOUNG_COLLECTION_ALLOCATIONS` allocations, then out at once with its exit code. By then
    every file and connection is closed and every line written; only the interpreter's teardown
    of the hundreds of modules a run loads is left, which would add about a third of a second to
    every run a service manager, a script or an operator waits on. An exception `main` does not
    turn into an exit code still ends the process as Python ends it, with its traceback."""
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS)
    code = main()
    if sys.gettrace() is not None or sys.getprofile() is not None:
        sys.exit(code)  # a profiler or coverage, which write what they found as Python ends
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone, or the stream closed
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    keep_private()
    try:
        args = build_parser().parse_args(argv)
        return _run(args)
    except UsageError as exc:
        _say(f"recon: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "db":
        return _db_init(_config(args))
    if args.command == "sim":
        return _sim(args)
    if args.command == "reconcile":
        return _reconcile(args)
    if args.command == "guard":
        return _guard(args)
    if args.command == "fleet" and args.fleet_command == "console":
        return _fleet_console(args)
    if args.command == "fleet":
        return _fleet_reconcile(args)
    if args.command == "console":
        return _console(args)
    if args.command == "demo":
        return _demo(fleet=args.fleet)
    raise UsageError(f"unknown command {args.command!r}")


def _reconcile(args: argparse.Namespace) -> int:
    from engine.logging import configure_logging
    from engine.reconcile.command import run_headless

    config = _config(args)
    config.require_credentials()
    notify_urls = _notify_urls(args)
    configure_logging(json_lines=args.json)
    return asyncio.run(
        run_headless(
            config,
            yes=args.yes,
            dry_run=args.dry_run,
            json_output=args.json,
            notify_urls=notify_urls,
        )
    )


def _guard(args: argparse.Namespace) -> int:
    from engine.logging import configure_logging
    from engine.reconcile.command import run_guard

    config = _config(args)
    config.require_credentials()
    notify_urls = _notify_urls(args)
    configure_logging(json_lines=False)
    settings = GuardSettings(grace_seconds=args.grace, sweep_seconds=args.sweep)
    return asyncio.run(
        run_guard(
            config,
            yes=args.yes,
            settings=settings,
            standby=args.standby,
            notify_urls=notify_urls,
            metrics_port=args.metrics_port,
        )
    )


def _fleet_reconcile(args: argparse.Namespace) -> int:
    from engine.fleet.accounts import load_fleet
    from engine.fleet.command import run_fleet
    from engine.logging import configure_logging

    accounts = load_fleet(Path(args.accounts))
    notify_urls = _notify_urls(args)
    configure_logging(json_lines=args.json)
    return asyncio.run(
        run_fleet(
            accounts,
            yes=args.yes,
            dry_run=args.dry_run,
            json_output=args.json,
            notify_urls=notify_urls,
        )
    )


def _seconds(flag: str, least: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{flag} takes a number of seconds (got {text!r})") from None
        if not least <= value <= LONGEST_SECONDS_FLAG:
            raise UsageError(f"{flag} must be between {least:g} and {LONGEST_SECONDS_FLAG:g} s")
        return value

    return parse


def _port(flag: str) -> Callable[[str], int]:
    low, high = PORT_RANGE

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise UsageError(f"{flag} takes a port number (got {text!r})") from None
        if not low <= value <= high:
            raise UsageError(f"{flag} must be between {low} and {high} (got {value})")
        return value

    return parse


def _notify_urls(args: argparse.Namespace) -> tuple[str, ...]:
    from engine.config import load_notify_urls

    return load_notify_urls(args.notify)


@cache
def _log_to_a_file() -> None:
    """A console owns the terminal: its log lines — the tracebacks of what it caught among
    them, scrubbed as every log line is — go to a file of the operator's alone. Once per
    process, as its first account connects: after the first frame, which waits for nothing."""
    from platformdirs import user_log_dir

    from engine.logging import configure_logging
    from engine.private_files import PRIVATE_FILE, private_folder

    path = private_folder(Path(user_log_dir("recon"))) / CONSOLE_LOG
    log_file = path.open("a", encoding="utf-8")  # open for the life of the process
    os.fchmod(log_file.fileno(), PRIVATE_FILE)
    configure_logging(to=log_file)


def _logging_first(connect: BackendFactory) -> BackendFactory:
    async def connected() -> Backend:
        _log_to_a_file()
        return await connect()

    return connected


def _console(args: argparse.Namespace) -> int:
    from console.app import ReconApp

    config = _config(args)
    config.require_credentials()

    async def connect() -> Backend:
        # Imported here, after the console's first frame: alpaca-py and SQLAlchemy are heavy.
        from engine.reconcile.service import service_from_config

        return service_from_config(config)

    from platformdirs import user_data_dir

    reports = Path(user_data_dir("recon")) / "reports"
    return ReconApp(_logging_first(connect), reports_dir=reports).run() or 0


def _fleet_console(args: argparse.Namespace) -> int:
    from console.app import FleetApp
    from engine.fleet.accounts import FleetAccount, load_fleet

    accounts = load_fleet(Path(args.accounts))

    def connector(account: FleetAccount) -> BackendFactory:
        async def connect() -> Backend:
            # A key pair missing from the environment stops this account alone, on its row.
            from engine.reconcile.service import service_from_config

            return service_from_config(account.config())

        return _logging_first(connect)

    from platformdirs import user_data_dir

    reports = Path(user_data_dir("recon")) / "reports"
    backends = {account.name: connector(account) for account in accounts}
    return FleetApp(backends, reports_dir=reports).run() or 0


def _demo(*, fleet: bool) -> int:
    from console.app import FleetApp, ReconApp
    from engine.simulator.demo import DemoEnvironment

    demo = DemoEnvironment(fleet=fleet)
    try:
        if fleet:
            accounts = {name: _logging_first(partial(demo.connect, name)) for name in demo.accounts}
            return FleetApp(accounts, reports_dir=demo.reports_dir).run() or 0
        return ReconApp(_logging_first(demo.start), reports_dir=demo.reports_dir).run() or 0
    finally:
        demo.close()


def _config(args: argparse.Namespace) -> Config:
    # Imported on demand: settings and database URLs pull in pydantic and SQLAlchemy, which
    # `recon demo` must not wait for before its first frame.
    from engine.config import load_config

    return load_config(broker_url=args.broker_url, db_url=args.db, stop_pct=args.stop_pct)


def _db_init(config: Config) -> int:
    from engine.store import DatabaseUnreachable, StoreConfigError, StoreError
    from engine.store.schema import init_schema

    try:
        report = asyncio.run(init_schema(config.db_url))
    except StoreConfigError as exc:
        _say(f"recon: {exc}")
        return EXIT_USAGE
    except DatabaseUnreachable as exc:
        _say(f"recon: {exc}")
        return EXIT_ABORTED
    except StoreError as exc:
        _say(f"recon: {exc}")
        return EXIT_ERRORS
    print(report.describe())
    return EXIT_OK


def _sim(args: argparse.Namespace) -> int:
    from engine.simulator.accounts import ACCOUNT_NAMES
    from engine.simulator.runner import serve
    from engine.simulator.scenarios import UnknownScenario, load_scenario
    from engine.store import StoreConfigError, StoreError, normalize_db_url

    try:
        load_scenario(args.scenario)
    except UnknownScenario as exc:
        raise UsageError(str(exc)) from None
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535 (got {args.port})")
    if not 1 <= args.accounts <= len(ACCOUNT_NAMES):
        raise UsageError(
            f"--accounts must be between 1 and {len(ACCOUNT_NAMES)} (got {args.accounts})"
        )
    if args.fleet_dir is not None and args.seed_db is not None:
        raise UsageError("--fleet-dir seeds a database for each account: leave out --seed-db")
    if args.seed_db is not None:
        try:
            normalize_db_url(args.seed_db, setting="--seed-db")
        except StoreConfigError as exc:
            raise UsageError(str(exc)) from None
    try:
        serve(
            args.scenario,
            port=args.port,
            seed_db=args.seed_db,
            accounts=args.accounts,
            fleet_dir=args.fleet_dir,
        )
    except StoreError as exc:
        _say(f"recon: {exc}")
        return EXIT_ERRORS
    return EXIT_OK


def _say(line: str) -> None:
    from engine.secrets import scrub  # light: the standard library only

    print(scrub(line), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
