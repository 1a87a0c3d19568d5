"""Every parse of what comes from outside — the broker's answers, its stream's frames, the
trading engine's rows, the fleet file — given anything at all (dates before time began, nesting
past the stack, numbers of ten thousand digits, the wrong types, bytes that are not UTF-8)
either returns a value or raises its own typed error: nothing else, ever, and never more than
one line. A run then aborts before any change, and the guard reads again at its next sweep."""

import json
from collections.abc import Callable
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Row

from engine.broker.errors import MalformedBrokerResponse
from engine.broker.trade_updates import order_from_frame
from engine.broker.wire import (
    account_from_wire,
    clock_from_wire,
    crypto_asset_from_wire,
    option_contract_from_wire,
    order_from_wire,
    orders_from_wire,
    position_from_wire,
    trade_update_from_wire,
)
from engine.fleet.accounts import FleetFileError, load_fleet
from engine.store import CorruptRow
from engine.store.queries import _local_order, _order_event, _trade
from tests.unit.test_wire import nested, wire_account, wire_order, wire_position

# Deterministic, and quick enough for every run of the suite.
FUZZ = settings(max_examples=150, deadline=None, derandomize=True)

# Values -----------------------------------------------------------------------------------

EXTREME_TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00+01:00",  # year 0 once in UTC: astimezone overflowed
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "9000-01-01T00:00:00Z",
        "2026-11-24T14:30:00.123456789Z",
        "2026-11-24T14:30:00",
        "2026-13-01T00:00:00Z",
        "yesterday",
        "",
    ]
)
OFFSETS = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
).map(timezone)
ANY_TIME = st.datetimes(timezones=OFFSETS).map(lambda moment: moment.isoformat())
HUGE_NUMBERS = st.sampled_from(
    [
        "1e999999",
        "-9e999999",
        "1e9999999999999999999",
        "9" * 10_000,
        "0." + "1" * 10_000,
        "1e-999999",
        "0E-999999",
        "NaN",
        "sNaN",
        "-Infinity",
        "1E+18",
        "999999999999999999",
        "1_000",
        " 12 ",
        "١٢",
        "-0",
    ]
)
NUMBERS = st.decimals(allow_nan=True, allow_infinity=True).map(str) | st.integers().map(str)
WORDS = st.sampled_from(
    [
        "new", "filled", "held", "replaced", "canceled", "buy", "sell", "stop", "limit",
        "market", "gtc", "day", "long", "short", "simple", "bracket", "oco", "ACTIVE", "USD",
        "AAPL", "trade_updates", "fill", "entry", "stop_loss", "accepted", "pending_submit",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    # An int of ten thousand digits (built, as hypothesis cannot show one as a constant).
    | st.just(10_000).map(lambda digits: 10**digits)
    | st.floats()
    | st.text(max_size=12)
    | WORDS
    | HUGE_NUMBERS
    | NUMBERS
    | EXTREME_TIMES
    | ANY_TIME
)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=6) | WORDS, children, max_size=3)
    ),
    max_leaves=10,
)
# Nesting past Python's recursion limit: repr(), str() and json all fail on it.
DEEP = st.integers(min_value=1, max_value=3_000).map(nested)
HOSTILE = JSON_LIKE | DEEP


def spoiled(base: dict[str, Any], fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """`base` with a few of its fields (or unknown ones) replaced by anything at all, or
    removed."""
    keys = st.sampled_from([*fields, "extra"])
    return st.builds(
        lambda changes, removed: {
            key: value for key, value in {**base, **changes}.items() if key not in removed
        },
        st.dictionaries(keys, HOSTILE, max_size=4),
        st.sets(keys, max_size=2),
    )


ORDER = wire_order()
ORDERS = st.recursive(
    spoiled(ORDER, [*ORDER, "legs", "order_class", "notional"]),
    lambda legs: st.builds(lambda order, more: {**order, "legs": more}, legs, st.lists(legs)),
    max_leaves=4,
)
DEEP_LEGS = st.integers(min_value=1, max_value=3_000).map(
    lambda depth: _legs_nested(depth, wire_order())
)


def _legs_nested(depth: int, order: dict[str, Any]) -> dict[str, Any]:
    for _ in range(depth):
        order = wire_order(legs=[order])
    return order


POSITION = wire_position()
ACCOUNT = wire_account()
CRYPTO_ASSET = {
    "class": "crypto",
    "symbol": "BTC/USD",
    "min_order_size": "0.0001",
    "min_trade_increment": "0.000000001",
    "price_increment": "1",
}
OPTION_CONTRACT = {
    "symbol": "AAPL261218C00200000",
    "type": "call",
    "expiration_date": "2026-12-18",
    "underlying_symbol": "AAPL",
    "strike_price": "200",
    "multiplier": "100",
}
CLOCK = {
    "timestamp": "2026-11-24T15:31:00Z",
    "is_open": True,
    "next_open": "2026-11-25T14:30:00Z",
    "next_close": "2026-11-24T21:00:00Z",
}


def read_or_refused(parse: Callable[[Any], object], raw: Any, typed: type[Exception]) -> None:
    """The one thing every parser here promises; anything else raised fails the test."""
    try:
        parse(raw)
    except typed as refused:
        message = str(refused)
        assert "\n" not in message and len(message) < 400, message


# The broker's answers ---------------------------------------------------------------------


@FUZZ
@given(raw=ORDERS | DEEP_LEGS | HOSTILE)
def test_an_order_answer_is_an_order_or_malformed(raw: Any) -> None:
    read_or_refused(order_from_wire, raw, MalformedBrokerResponse)


@FUZZ
@given(raw=st.lists(ORDERS | DEEP_LEGS, max_size=3) | HOSTILE)
def test_an_order_list_is_orders_or_malformed(raw: Any) -> None:
    read_or_refused(lambda value: orders_from_wire(value, "orders"), raw, MalformedBrokerResponse)


@FUZZ
@given(raw=spoiled(POSITION, list(POSITION)) | HOSTILE)
def test_a_position_answer_is_a_position_or_malformed(raw: Any) -> None:
    read_or_refused(position_from_wire, raw, MalformedBrokerResponse)


@FUZZ
@given(raw=spoiled(ACCOUNT, list(ACCOUNT)) | HOSTILE)
def test_an_account_answer_is_an_account_or_malformed(raw: Any) -> None:
    read_or_refused(account_from_wire, raw, MalformedBrokerResponse)


@FUZZ
@given(raw=spoiled(CRYPTO_ASSET, list(CRYPTO_ASSET)) | HOSTILE)
def test_a_crypto_asset_answer_is_its_terms_or_malformed(raw: Any) -> None:
    read_or_refused(crypto_asset_from_wire, raw, MalformedBrokerResponse)


@FUZZ
@given(raw=spoiled(OPTION_CONTRACT, list(OPTION_CONTRACT)) | HOSTILE)
def test_an_option_contract_answer_is_its_terms_or_malformed(raw: Any) -> None:
    read_or_refused(option_contract_from_wire, raw, MalformedBrokerResponse)


@FUZZ
@given(raw=spoiled(CLOCK, list(CLOCK)) | HOSTILE)
def test_a_clock_answer_is_a_clock_or_malformed(raw: Any) -> None:
    read_or_refused(clock_from_wire, raw, MalformedBrokerResponse)


# The stream's frames ----------------------------------------------------------------------

UPDATES = st.builds(
    lambda event, order: {"stream": "trade_updates", "data": {"event": event, "order": order}},
    WORDS | st.text(max_size=8),
    ORDERS,
)
MESSAGES = (
    UPDATES
    | spoiled({"stream": "trade_updates", "data": {"event": "new", "order": ORDER}}, ["data"])
    | HOSTILE
)


def as_frame(message: Any) -> str:
    """JSON text for `message`, or a frame no JSON encoder would write where it cannot be."""
    try:
        return json.dumps(message)
    except (ValueError, RecursionError):  # an int past converting, nesting past the stack
        return "[" * 5_000 + "]" * 5_000


FRAMES = (
    MESSAGES.map(as_frame)
    | MESSAGES.map(as_frame).map(str.encode)
    | st.binary(max_size=40)
    | st.text(max_size=40)
    | st.integers(min_value=1, max_value=100_000).map(lambda n: "[" * n)
    | st.just('{"stream": "trade_updates", "data": ' + "1" * 10_000 + "}")
)


@FUZZ
@given(frame=FRAMES)
def test_a_stream_frame_is_an_order_nothing_or_malformed(frame: str | bytes) -> None:
    read_or_refused(order_from_frame, frame, MalformedBrokerResponse)


@FUZZ
@given(message=MESSAGES)
def test_a_stream_message_is_an_order_nothing_or_malformed(message: Any) -> None:
    read_or_refused(trade_update_from_wire, message, MalformedBrokerResponse)


# The trading engine's rows, as SQLite or PostgreSQL hand them over -------------------------

# What a TEXT column can hold once read: text, or whatever the engine's driver stored there.
STORED = (
    st.none()
    | st.text(max_size=12)
    | WORDS
    | HUGE_NUMBERS
    | NUMBERS
    | EXTREME_TIMES
    | ANY_TIME
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.binary(max_size=8)
)
ORDER_ROW = {
    "id": 1,
    "local_id": "AAPL-stop-1",
    "broker_id": "0b9e7a2c-1111-4c1e-9a55-000000000001",
    "client_order_id": "eng-AAPL-stop-1",
    "correlation_id": "trip-AAPL-1",
    "symbol": "AAPL",
    "side": "sell",
    "order_type": "stop",
    "order_role": "stop_loss",
    "strategy": "momentum",
    "qty_requested": "100",
    "qty_filled": "0",
    "avg_fill_price": None,
    "stop_price": "183.45",
    "limit_price": None,
    "state": "accepted",
    "parent_id": None,
    "last_error": None,
    "created_at": "2026-11-24T13:31:00Z",
    "updated_at": "2026-11-24T13:31:00Z",
}
EVENT_ROW = {
    "id": 7,
    "order_local_id": "AAPL-stop-1",
    "event_type": "created",
    "old_state": None,
    "new_state": "accepted",
    "qty_filled": "0",
    "fill_price": None,
    "broker_id": None,
    "detail": None,
    "recorded_at": "2026-11-24T13:31:00Z",
}
TRADE_ROW = {
    "id": 3,
    "trade_id": "t-AAPL-10",
    "correlation_id": "trip-AAPL-1",
    "symbol": "AAPL",
    "side": "long",
    "qty": "100",
    "entry_price": "187.20",
    "exit_price": "189.50",
    "entry_at": "2026-11-24T14:31:00Z",
    "exit_at": "2026-11-24T15:21:00Z",
    "pnl": "-230.00",
    "pnl_pct": "-0.0123",
    "strategy": "momentum",
    "duration_seconds": 3000,
    "commission": "0",
}


class StoredRow:
    """A row as the store reads it: by column name, and by attribute."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._mapping = values

    def __getattr__(self, column: str) -> Any:
        return self._mapping[column]


def rows_like(base: dict[str, Any]) -> st.SearchStrategy[Row[Any]]:
    return st.builds(
        lambda changes: cast(Row[Any], StoredRow({**base, **changes})),
        st.dictionaries(st.sampled_from(list(base)), STORED, max_size=5),
    )


@FUZZ
@given(row=rows_like(ORDER_ROW))
def test_an_order_row_is_an_order_or_corrupt(row: Row[Any]) -> None:
    read_or_refused(_local_order, row, CorruptRow)


@FUZZ
@given(row=rows_like(EVENT_ROW))
def test_an_order_event_row_is_an_event_or_corrupt(row: Row[Any]) -> None:
    read_or_refused(_order_event, row, CorruptRow)


@FUZZ
@given(row=rows_like(TRADE_ROW))
def test_a_trade_row_is_a_trade_or_corrupt(row: Row[Any]) -> None:
    read_or_refused(_trade, row, CorruptRow)


# The fleet file, as bytes on disk ---------------------------------------------------------

FLEET_KEYS = ("name", "key_id_env", "secret_key_env", "base_url", "db")
GOOD_ACCOUNT = {
    "name": "alpha",
    "key_id_env": "ALPHA_KEY_ID",
    "secret_key_env": "ALPHA_SECRET_KEY",
    "base_url": "https://paper-api.alpaca.markets",
    "db": "sqlite:///alpha.db",
}
# No `@`: a database URL with a password would register it with the scrubber for the rest of
# the suite's process.
FLEET_TEXT = st.text(max_size=16).filter(lambda text: "@" not in text)
FLEET_VALUES = (
    FLEET_TEXT
    | st.sampled_from(["http://[::1", "https://[", "ftp://x", "sqlite:///a.db", "alpha", "PK1"])
    | st.integers().map(str)
)


def toml_account(account: dict[str, str], key: str) -> str:
    lines = [f"{name} = {json.dumps(value)}" for name, value in account.items()]
    return f"[[{key}]]\n" + "\n".join(lines) + "\n"


FLEET_DOCUMENTS = st.builds(
    lambda accounts, key: "\n".join(toml_account(account, key) for account in accounts),
    st.lists(
        st.builds(
            lambda changes: {**GOOD_ACCOUNT, **changes},
            st.dictionaries(st.sampled_from([*FLEET_KEYS, "extra"]), FLEET_VALUES, max_size=2),
        ),
        max_size=3,
    ),
    st.sampled_from(["account", "account", "accounts"]),
).map(str.encode)


def corrupted(document: bytes, at: int, junk: bytes) -> bytes:
    at = at % (len(document) + 1)
    return document[:at] + junk + document[at:]


FLEET_FILES = (
    FLEET_DOCUMENTS
    | st.builds(corrupted, FLEET_DOCUMENTS, st.integers(min_value=0), st.binary(max_size=4))
    | st.binary(max_size=120)
    | st.integers(min_value=1, max_value=5_000).map(lambda n: b"a = " + b"[" * n + b"]" * n)
    | st.just(b"a = " + b"1" * 10_000)
)


@pytest.fixture(scope="module")
def fleet_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fleet")


@FUZZ
@given(content=FLEET_FILES)
def test_a_fleet_file_is_accounts_or_one_line_refusing_it(
    fleet_folder: Path, content: bytes
) -> None:
    path = fleet_folder / "fleet.toml"
    path.write_bytes(content)
    path.chmod(0o600)
    read_or_refused(load_fleet, path, FleetFileError)
