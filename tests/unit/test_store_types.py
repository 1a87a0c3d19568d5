"""The store's column types and URL handling on their own: exact Decimal text, UTC text ending in
`Z`, one-line complaints about values and URLs that cannot be used."""

import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from engine.store import (
    CorruptValue,
    DecimalText,
    StoreConfigError,
    UtcTimestamp,
    default_db_url,
    normalize_db_url,
)

DIALECT = sqlite.dialect()
DECIMAL = DecimalText()
TIMESTAMP = UtcTimestamp()


def stored(value: object) -> object:
    column_type = DECIMAL if isinstance(value, Decimal) else TIMESTAMP
    return column_type.process_bind_param(value, DIALECT)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["10.50", "0.0001", "0", "-3.20", "123456789012345678901234567890.123456789", "1E+3"]
)
def test_decimal_is_stored_as_the_text_it_was_written_with(text: str) -> None:
    assert stored(Decimal(text)) == text
    read = DECIMAL.process_result_value(text, DIALECT)
    assert (read, str(read)) == (Decimal(text), text)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_finite_decimal_survives_text_with_its_scale(value: Decimal) -> None:
    read = DECIMAL.process_result_value(stored(value), DIALECT)
    assert str(read) == str(value)


@pytest.mark.parametrize("text", ["ten", "", "NaN", "Infinity", "-inf", "1,5"])
def test_stored_text_that_is_not_a_finite_decimal_is_corrupt(text: str) -> None:
    with pytest.raises(CorruptValue) as raised:
        DECIMAL.process_result_value(text, DIALECT)
    assert repr(text) in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), 1.5, "10.50"])
def test_only_finite_decimals_are_written(value: object) -> None:
    with pytest.raises(CorruptValue, match="refusing to store"):
        DECIMAL.process_bind_param(value, DIALECT)  # type: ignore[arg-type]


def test_timestamps_are_written_in_utc_ending_in_z() -> None:
    new_york = timezone(timedelta(hours=-5))
    assert stored(datetime(2026, 11, 24, 10, 31, tzinfo=new_york)) == "2026-11-24T15:31:00Z"
    assert (
        stored(datetime(2026, 11, 24, 15, 31, 0, 123456, tzinfo=UTC))
        == "2026-11-24T15:31:00.123456Z"
    )


def test_naive_datetime_is_refused_on_write() -> None:
    with pytest.raises(CorruptValue, match="naive datetime 2026-11-24T15:31:00"):
        stored(datetime(2026, 11, 24, 15, 31))  # noqa: DTZ001 - the naive value under test


@pytest.mark.parametrize(
    "text", ["2026-11-24T15:31:00Z", "2026-11-24T15:31:00+00:00", "2026-11-24T10:31:00-05:00"]
)
def test_stored_timestamps_read_as_aware_utc(text: str) -> None:
    read = TIMESTAMP.process_result_value(text, DIALECT)
    assert read == datetime(2026, 11, 24, 15, 31, tzinfo=UTC)
    assert read is not None and read.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "",
        "2026-11-24T15:31:00",
        "2026-13-01T00:00:00Z",
        # Year 1 an hour east of UTC is year 0 in UTC, which datetime cannot hold.
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_stored_timestamp_that_is_unparsable_or_has_no_zone_is_corrupt(text: str) -> None:
    with pytest.raises(CorruptValue) as raised:
        TIMESTAMP.process_result_value(text, DIALECT)
    assert repr(text) in str(raised.value)


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("sqlite:///var/recon.db", "sqlite+aiosqlite:///var/recon.db"),
        ("sqlite:////tmp/my trades/recon.db", "sqlite+aiosqlite:////tmp/my trades/recon.db"),
        ("sqlite+pysqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("  sqlite:///x.db\n", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u:p@db/recon", "postgresql+asyncpg://u:p@db/recon"),
        ("postgres://u@db/recon", "postgresql+asyncpg://u@db/recon"),
        ("postgresql+psycopg2://u@db/recon", "postgresql+asyncpg://u@db/recon"),
        (
            "postgresql+asyncpg://u@db/recon?ssl=require",
            "postgresql+asyncpg://u@db/recon?ssl=require",
        ),
    ],
)
def test_bare_urls_are_run_through_async_drivers(given_url: str, expected: str) -> None:
    assert normalize_db_url(given_url) == expected


@pytest.mark.parametrize(
    ("given_url", "complaint"),
    [
        ("", "is not a database URL"),
        ("recon.db", "is not a database URL"),
        ("postgresql://u:hunter2@db:port/recon", "is not a database URL"),
        ("mongodb://db/recon", "unknown database 'mongodb'"),
        ("mysql://db/recon", "'mysql', which has no asyncio driver"),
    ],
)
def test_unusable_url_is_one_line_without_its_password(given_url: str, complaint: str) -> None:
    with pytest.raises(StoreConfigError, match=complaint) as raised:
        normalize_db_url(given_url)
    assert "\n" not in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_DATA_HOME steers platformdirs on Linux")
def test_default_database_is_a_file_in_the_user_data_dir_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = default_db_url()
    assert url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'recon' / 'recon.db'}"
    assert not (tmp_path / "data").exists()
