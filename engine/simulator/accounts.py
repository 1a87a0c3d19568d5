"""The simulator's accounts: as Alpaca serves every account at one URL and tells them apart by
the key pair, each account here is a key pair and the book behind it, with faults, a request
log and stream connections of its own."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.simulator.book import SimulatedBroker
from engine.simulator.faults import Faults, RequestLog
from engine.simulator.scenarios import LocalBookSeed, Scenario
from engine.simulator.stream import TradeStreams

# The names `recon sim --accounts N` gives its accounts, in order; the first is the simulator's
# own account, the one a single-account simulator has always served.
ACCOUNT_NAMES = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
    "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
)  # fmt: skip
# Alpaca's paper key ids: `PK` and 18 capitals or digits.
PAPER_KEY_ID_LENGTH = 20
PAPER_ACCOUNT_NUMBER_LENGTH = 12


@dataclass(frozen=True, eq=False)
class SimulatedAccount:
    """One account at the simulator's URL: a test moves its book through `broker`, spoils its
    requests through `faults` and its stream connections through `streams`, and reads what it
    was asked in `requests` — none of which touches another account."""

    name: str
    key_id: str
    secret_key: str
    broker: SimulatedBroker
    local_book: LocalBookSeed
    faults: Faults
    requests: RequestLog
    streams: TradeStreams


def open_account(
    name: str, scenario: Scenario, broker: SimulatedBroker, *, key_id: str, secret_key: str
) -> SimulatedAccount:
    """`broker` seeded with `scenario`, behind `name`'s key pair."""
    return SimulatedAccount(
        name=name,
        key_id=key_id,
        secret_key=secret_key,
        broker=broker,
        local_book=scenario.seed(broker),
        faults=Faults(),
        requests=RequestLog(),
        streams=TradeStreams(broker),
    )


def separate_book(name: str, now: Callable[[], datetime]) -> SimulatedBroker:
    """An empty book on the shared clock whose order ids are `name`'s alone: two accounts never
    hold orders with the same id, so one that answered for the other could not pass unseen."""
    return SimulatedBroker(now=now, id_seed=f"recon-sim:{name}")


def simulated_account_number(name: str) -> str:
    """An account number shaped like Alpaca's paper ones (`PA` and ten capitals or digits), the
    same for `name` on every run: the accounts of one desk must not share one, as the live gate
    asks for it by heart."""
    return "PA" + _digest(f"recon-sim-account:{name}")[: PAPER_ACCOUNT_NUMBER_LENGTH - 2]


def simulated_key_pair(name: str) -> tuple[str, str]:
    """A key pair shaped like Alpaca's paper keys, the same for `name` on every run, so exports
    an operator copied stay good across restarts; the secret says what it is."""
    key_id = "PK" + _digest(f"recon-sim:{name}")[: PAPER_KEY_ID_LENGTH - 2]
    return key_id, f"simulator-{name}-secret-not-a-real-key"


def _digest(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()
