"""The two column types money and time go through, Decimal as exact TEXT and aware UTC datetimes
as ISO-8601 TEXT ending in `Z`, each raising `CorruptValue` on a stored value it cannot read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

from engine.domain import quoted


class CorruptValue(ValueError):
    """A stored value is not what its column promises."""


class DecimalText(TypeDecorator[Decimal]):
    """`Decimal("10.50")` is stored as `"10.50"` and read back with its scale: no float on the
    way, no precision lost."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise CorruptValue(f"refusing to store {value!r} as a decimal")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else parse_decimal(str(value))


class UtcTimestamp(TypeDecorator[datetime]):
    """Aware datetimes as `2026-11-24T15:31:00Z` (microseconds when there are some)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise CorruptValue(f"refusing to store naive datetime {value.isoformat()}")
        return format_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return parse_utc(str(value))


def parse_decimal(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CorruptValue(f"{quoted(text)} is not a number") from None
    if not number.is_finite():
        raise CorruptValue(f"{quoted(text)} is not a finite number")
    return number


def format_utc(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    text = text.removesuffix("+00:00")
    return f"{text.removesuffix('.000000')}Z"


def parse_utc(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CorruptValue(f"{quoted(text)} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise CorruptValue(f"{quoted(text)} has no time zone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC is year 0 in UTC, which datetime cannot hold
        raise CorruptValue(f"{quoted(text)} is beyond any time recon can hold") from None
