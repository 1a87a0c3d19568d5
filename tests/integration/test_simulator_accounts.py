"""Several accounts at one simulator URL, told apart by their key pairs as Alpaca tells them
apart: each key pair reaches its own book, faults and stream alone, over REST and the stream as
alpaca-py speaks them; and `recon sim --accounts N --fleet-dir DIR` as a desk runs it, through
`recon fleet reconcile` to every account covered."""

import asyncio
import json
import os
import shlex
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import GetOrdersRequest, StopOrderRequest
from alpaca.trading.stream import TradingStream
from websockets.exceptions import ConnectionClosedError

from engine.fleet.accounts import KEY_ID, load_fleet
from engine.simulator.accounts import (
    SimulatedAccount,
    simulated_account_number,
    simulated_key_pair,
)
from engine.simulator.faults import Fault, FaultKind
from engine.simulator.runner import (
    DEMO_KEY_ID,
    DEMO_SECRET_KEY,
    Simulator,
    SimulatorThread,
    running_simulator,
)
from engine.simulator.scenarios import CRASH_TIME, load_scenario
from tests.integration.simulator_harness import (
    Listening,
    recon_sim,
    seeded_rows,
    trading_stream,
)

D = Decimal
ALL_ORDERS = GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500)


def client(simulator: Simulator, account: SimulatedAccount) -> TradingClient:
    trading = TradingClient(account.key_id, account.secret_key, url_override=simulator.url)
    trading._retry = 0  # alpaca-py would sleep 3 s before retrying a 503
    return trading


def holding_aapl(account: SimulatedAccount) -> SimulatedAccount:
    account.broker.prices["AAPL"] = D("189.50")
    account.broker.seed_position("AAPL", D(100), D("187.20"))
    return account


def sell_stop(qty: int, client_order_id: str) -> StopOrderRequest:
    return StopOrderRequest(
        symbol="AAPL",
        qty=qty,
        side=OrderSide.SELL,
        time_in_force=TimeInForce.GTC,
        stop_price=183.45,
        client_order_id=client_order_id,
    )


@pytest.fixture
def desk() -> Iterator[Simulator]:
    """One simulator, two accounts: alpha holds the crashed day, bravo 100 AAPL and nothing else."""
    with SimulatorThread("crashed_day", now=lambda: CRASH_TIME) as simulator:
        holding_aapl(simulator.add_account("bravo", "empty"))
        yield simulator


def test_each_key_pair_reaches_its_own_book_at_the_one_url(desk: Simulator) -> None:
    alpha, bravo = desk.accounts["alpha"], desk.accounts["bravo"]
    alpha_client, bravo_client = client(desk, alpha), client(desk, bravo)
    alpha_orders = alpha_client.get_orders(ALL_ORDERS)
    placed = bravo_client.submit_order(sell_stop(100, "bravo-stop-AAPL"))
    assert isinstance(placed, Order)
    assert [o.id for o in bravo_client.get_orders(ALL_ORDERS)] == [placed.id]
    assert [p.qty for p in bravo_client.get_all_positions()] == ["100"]
    assert alpha_client.get_orders(ALL_ORDERS) == alpha_orders
    assert placed.id not in {o.id for o in alpha_orders}
    assert len(alpha_client.get_all_positions()) > 1
    assert {str(o.id) for o in alpha_orders} == set(alpha.broker.orders)
    assert status_of(lambda: alpha_client.get_order_by_id(placed.id)) == 404
    assert status_of(lambda: alpha_client.get_order_by_client_id("bravo-stop-AAPL")) == 404
    assert status_of(lambda: bravo_client.get_order_by_id(alpha_orders[0].id)) == 404
    assert alpha.requests.count("POST") == 0 and bravo.requests.count("POST") == 1


def status_of(call: Callable[[], object]) -> int | None:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status_code


def test_each_added_account_has_a_number_of_its_own(desk: Simulator) -> None:
    charlie = desk.add_account("charlie", "crashed_day")  # its scenario names the first's number
    numbers = [
        client(desk, account).get_account().account_number for account in desk.accounts.values()
    ]
    assert numbers[0] == "PA3SIMRECON1"
    assert len(set(numbers)) == 3
    assert all(len(number) == 12 and number.startswith("PA") for number in numbers)
    assert charlie.broker.account.account_number == simulated_account_number("charlie")


def test_a_known_key_id_with_another_accounts_secret_is_unauthorized(desk: Simulator) -> None:
    alpha, bravo = desk.accounts["alpha"], desk.accounts["bravo"]
    for key_id, secret in ((bravo.key_id, alpha.secret_key), (alpha.key_id, bravo.secret_key)):
        intruder = TradingClient(key_id, secret, url_override=desk.url)
        assert status_of(intruder.get_account) == 401
    # Each attempt is in the log of the account whose key id it carried, and only there.
    assert (alpha.requests.count("GET"), bravo.requests.count("GET")) == (1, 1)


def test_faults_on_one_account_leave_the_other_answering(desk: Simulator) -> None:
    alpha, bravo = desk.accounts["alpha"], desk.accounts["bravo"]
    bravo.faults.add(Fault(FaultKind.STATUS, status=503, times=None))
    assert status_of(client(desk, bravo).get_all_positions) == 503
    assert client(desk, alpha).get_account().account_number == "PA3SIMRECON1"
    assert desk.faults is alpha.faults and desk.requests is alpha.requests
    bravo.faults.clear()
    assert [p.symbol for p in client(desk, bravo).get_all_positions()] == ["AAPL"]


def test_an_account_added_while_serving_answers_at_once_and_names_stay_unique() -> None:
    with SimulatorThread("empty") as simulator:
        charlie = simulator.add_account("charlie", "crashed_day")
        assert client(simulator, charlie).get_all_positions()
        with pytest.raises(ValueError, match="already has an account named 'charlie'"):
            simulator.add_account("charlie", "empty", key_id="PKANOTHERKEY0000000X")
        with pytest.raises(ValueError, match="already belongs to another account"):
            simulator.add_account("delta", "empty", key_id=charlie.key_id)
        assert list(simulator.accounts) == ["alpha", "charlie"]


def test_an_accounts_key_pair_is_paper_shaped_its_own_and_the_same_every_run() -> None:
    key_id, secret = simulated_key_pair("bravo")
    assert (key_id, secret) == simulated_key_pair("bravo")
    assert len(key_id) == 20 and key_id.startswith("PK") and KEY_ID.fullmatch(key_id)
    assert secret == "simulator-bravo-secret-not-a-real-key"
    assert simulated_key_pair("charlie")[0] != key_id
    assert Simulator(load_scenario("empty")).add_account("bravo", "empty").key_id == key_id


@pytest.fixture
async def two_accounts() -> AsyncIterator[Simulator]:
    async with running_simulator("empty", now=lambda: CRASH_TIME) as simulator:
        holding_aapl(simulator.accounts["alpha"])
        holding_aapl(simulator.add_account("bravo", "empty"))
        yield simulator


async def place(simulator: Simulator, account: SimulatedAccount, client_order_id: str) -> None:
    trading = client(simulator, account)
    await asyncio.to_thread(trading.submit_order, sell_stop(10, client_order_id))


async def test_each_accounts_stream_hears_only_its_own_orders(two_accounts: Simulator) -> None:
    alpha, bravo = two_accounts.accounts["alpha"], two_accounts.accounts["bravo"]
    async with (
        Listening(two_accounts, alpha) as alpha_hears,
        Listening(two_accounts, bravo) as bravo_hears,
    ):
        await place(two_accounts, alpha, "alpha-stop-1")
        await place(two_accounts, bravo, "bravo-stop-1")
        await place(two_accounts, alpha, "alpha-stop-2")
        assert await alpha_hears.events(2) == ["new", "new"]
        assert await bravo_hears.events(1) == ["new"]
        await asyncio.sleep(0.2)  # time enough for a stray update to arrive
    assert heard_orders(alpha_hears) == ["alpha-stop-1", "alpha-stop-2"]
    assert heard_orders(bravo_hears) == ["bravo-stop-1"]


def heard_orders(listening: Listening) -> list[str]:
    """The client order ids of the orders the stream heard of."""
    return [update.order.client_order_id for update in listening.updates]


async def test_dropping_and_refusing_one_accounts_stream_leaves_the_others_alone(
    two_accounts: Simulator,
) -> None:
    alpha, bravo = two_accounts.accounts["alpha"], two_accounts.accounts["bravo"]
    async with Listening(two_accounts, alpha) as alpha_hears:
        alpha_socket = alpha_hears.stream._ws
        bravo_stream = trading_stream(two_accounts, bravo)
        await bravo_stream._start_ws()
        assert json.loads(await bravo_stream._ws.recv())["stream"] == "listening"
        bravo.streams.drop_all()
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(bravo_stream._ws.recv(), timeout=5)
        await bravo_stream.close()
        bravo.streams.refuse()
        with pytest.raises(ValueError, match="failed to authenticate"):
            await bravo_stream._start_ws()
        await bravo_stream.close()
        second_alpha = trading_stream(two_accounts, alpha)
        await second_alpha._start_ws()  # bravo's refusal is bravo's alone
        await second_alpha.close()
        await place(two_accounts, alpha, "alpha-after-bravo-dropped")
        assert await alpha_hears.events(1) == ["new"]
        assert heard_orders(alpha_hears) == ["alpha-after-bravo-dropped"]
        assert alpha_hears.stream._ws is alpha_socket  # heard on its first socket: never cut


async def test_a_stream_key_id_with_another_accounts_secret_is_unauthorized(
    two_accounts: Simulator,
) -> None:
    alpha, bravo = two_accounts.accounts["alpha"], two_accounts.accounts["bravo"]
    stream = TradingStream(bravo.key_id, alpha.secret_key, url_override=two_accounts.stream_url)
    await stream._connect()
    with pytest.raises(ValueError, match="failed to authenticate"):
        await stream._auth()
    await stream.close()


def lines_until(process: subprocess.Popen[str], last: str) -> list[str]:
    """What the process printed, up to the line starting with `last`."""
    assert process.stdout is not None
    lines: list[str] = []
    while not (lines and lines[-1].startswith(last)):
        line = process.stdout.readline()
        if not line:
            error = process.stderr.read() if process.stderr is not None else ""
            raise AssertionError(f"recon sim ended early after {lines}: {error}")
        lines.append(line.rstrip("\n"))
    return lines


def test_recon_sim_accounts_prints_each_accounts_key_pair_under_its_name() -> None:
    with recon_sim("--accounts", "2", "--scenario", "empty") as process:
        lines = lines_until(process, "bravo:")
        url = lines[0].removeprefix("recon simulator listening on ")
        bravo_key_id, bravo_secret = simulated_key_pair("bravo")
        assert lines[1:] == [
            f"scenario empty in 2 accounts; APCA_API_BASE_URL={url}",
            f"alpha: APCA_API_KEY_ID={DEMO_KEY_ID} APCA_API_SECRET_KEY={DEMO_SECRET_KEY}",
            f"bravo: APCA_API_KEY_ID={bravo_key_id} APCA_API_SECRET_KEY={bravo_secret}",
        ]
        assert TradingClient(bravo_key_id, bravo_secret, url_override=url).get_clock()


def exported(lines: list[str]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for line in lines:
        if line.startswith("export "):
            variables.update(word.split("=", 1) for word in shlex.split(line)[1:])
    return variables


def test_recon_sim_fleet_dir_hands_recon_fleet_reconcile_every_account(tmp_path: Path) -> None:
    folder = tmp_path / "desk"
    with recon_sim("--accounts", "3", "--fleet-dir", str(folder)) as process:
        lines = lines_until(process, "recon fleet reconcile")
        url = lines[0].removeprefix("recon simulator listening on ")
        fleet_file = folder / "fleet.toml"
        assert lines[-1] == f"recon fleet reconcile --accounts {fleet_file}"
        keys = exported(lines)
        assert sorted(keys) == [
            "ALPHA_KEY_ID", "ALPHA_SECRET_KEY", "BRAVO_KEY_ID", "BRAVO_SECRET_KEY",
            "CHARLIE_KEY_ID", "CHARLIE_SECRET_KEY",
        ]  # fmt: skip
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        fleet = load_fleet(fleet_file)
        assert [(a.name, a.base_url, a.db) for a in fleet] == [
            (name, url, f"sqlite+aiosqlite:///{folder / name}.db")
            for name in ("alpha", "bravo", "charlie")
        ]
        assert all(keys[a.key_id_env] and keys[a.secret_key_env] for a in fleet)
        crashed_day = Simulator(load_scenario("crashed_day")).local_book
        for name in ("alpha", "bravo", "charlie"):
            orders, trades = seeded_rows(folder / f"{name}.db")
            assert orders == {order.local_id for order in crashed_day.orders}
            assert trades == len(crashed_day.trades) > 0
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "RECON_"))}
        done = subprocess.run(
            [sys.executable, "-m", "recon", "fleet", "reconcile", "--accounts",
             str(fleet_file), "--yes", "--json"],
            capture_output=True,
            text=True,
            env={**clean, **keys},
            timeout=120,
        )  # fmt: skip
        report = json.loads(done.stdout)
        assert done.returncode == report["exit_code"] == 0, done.stderr[-2000:]
        stops: dict[str, set[str]] = {}
        for account in report["accounts"]:
            assert account["exit_code"] == 0 and account["emergency_stops_placed"] > 0
            assert all(position["protected"] for position in account["positions"])
            stops[account["name"]] = {
                order_id for p in account["positions"] for order_id in p["stop_order_ids"]
            }
        # Each account's stops are in its own book, read back over REST with its own key pair.
        for name in stops:
            prefix = name.upper()
            trading = TradingClient(
                keys[f"{prefix}_KEY_ID"], keys[f"{prefix}_SECRET_KEY"], url_override=url
            )
            held = {str(o.id) for o in trading.get_orders(ALL_ORDERS)}
            assert stops[name] <= held
            assert not held & set().union(*(stops[other] for other in stops if other != name))


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--accounts", "0"], "recon: --accounts must be between 1 and 26 (got 0)"),
        (["--accounts", "27"], "recon: --accounts must be between 1 and 26 (got 27)"),
        (
            ["--fleet-dir", "desk", "--seed-db", "sqlite:///day.db"],
            "recon: --fleet-dir seeds a database for each account: leave out --seed-db",
        ),
    ],
)
def test_recon_sim_bad_accounts_usage_is_one_line_and_exit_64(
    flags: list[str], complaint: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "recon", "sim", *flags],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 64
    assert done.stderr.strip() == complaint
    assert done.stdout == "" and list(tmp_path.iterdir()) == []
