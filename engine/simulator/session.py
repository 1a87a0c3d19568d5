"""The regular New York trading session as the simulated broker's clock reports it: when the
market next opens and closes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
SESSION_OPEN = time(9, 30)
SESSION_CLOSE = time(16, 0)
SATURDAY = 5


def session_edges(now: datetime, is_open: bool) -> tuple[datetime, datetime]:
    """The next regular-session open and close in New York, weekends skipped (holidays are
    not): while open, the close is today's."""
    local = now.astimezone(NEW_YORK)
    day = local.date()
    if is_open:
        close = datetime.combine(day, SESSION_CLOSE, NEW_YORK)
        return _next_session_open(day + timedelta(days=1)), close
    if local.time() >= SESSION_OPEN:
        day += timedelta(days=1)
    opening = _next_session_open(day)
    return opening, datetime.combine(opening.date(), SESSION_CLOSE, NEW_YORK)


def _next_session_open(day: date) -> datetime:
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return datetime.combine(day, SESSION_OPEN, NEW_YORK)
