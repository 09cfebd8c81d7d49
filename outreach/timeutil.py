"""Time at the edges: UTC inside, Europe/Berlin when shown."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from outreach.errors import Invalid

__all__ = ["LOCAL_TZ", "as_utc", "local", "utcnow"]

LOCAL_TZ = ZoneInfo("Europe/Berlin")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def as_utc(moment: datetime, *, field: str = "time") -> datetime:
    """An aware instant in UTC; a naive one is refused, since its meaning is unknown."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid.because("needs_offset", field=field)
    return moment.astimezone(UTC)


def local(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL_TZ)
