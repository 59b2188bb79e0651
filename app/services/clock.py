"""Time: the one place that knows about time zones and "now".

Services receive a `Clock` (tests freeze it) and compute "today" in the caller's zone at read
time; calendar dates cross into queries as `YYYY-MM-DD` strings, which compare correctly as text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.errors import ValidationFailed

ALL_DAY = time(0, 0)


class Clock:
    """The system clock. Always aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that only moves when told to: for tests and reproducible benchmarks."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._at += delta


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone(name: str, *, loc: tuple[str, ...] = ("query", "tz")) -> ZoneInfo:
    """Resolve an IANA zone name; an unknown name is a 422 naming where it came from."""
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationFailed(
            f"Unknown time zone {name!r}", loc=loc, msg="unknown IANA time zone"
        ) from exc


def is_known_zone(name: str) -> bool:
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


def today_in(tz: ZoneInfo, now: datetime) -> date:
    return now.astimezone(tz).date()


def local_to_utc(day: date, at: time | None, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `day at` in `tz` (00:00 when no time is given)."""
    return datetime.combine(day, at or ALL_DAY, tzinfo=tz).astimezone(UTC)


def utc_instant(value: datetime) -> datetime:
    """An aware datetime as UTC; one beyond the calendar's range (year 1 at +14:00) clamps to
    its edge, which every stored instant is inside of."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if value.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)


def utc_ms(value: datetime) -> datetime:
    """An aware datetime as UTC, cut to the milliseconds MongoDB keeps: what is written then
    reads back equal on both engines, and ids and cursors built from it stay valid."""
    if value.tzinfo is UTC and not value.microsecond % 1000:
        return value  # already what would be stored (the connector's values, the frozen clock)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def iso_date(day: date) -> str:
    return day.isoformat()


def request_zone(tz: str | None, token_tz: str | None, default_tz: str) -> ZoneInfo:
    """The zone "today" is computed in: query `tz`, else the token's `tz`, else DEFAULT_TZ."""
    if tz is not None:
        return zone(tz)
    return zone(token_tz or default_tz or "UTC", loc=("token", "tz"))
