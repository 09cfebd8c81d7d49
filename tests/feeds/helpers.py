"""Builders and readers shared by the feed tests."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

from icalendar import Calendar

from outreach.events.schemas import EventIn, VenueIn
from outreach.events.services import create_event
from outreach.feeds import services
from outreach.feeds.tables import FeedDocument
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow
from tests.factories import at, make_slot, school_day

_counter = itertools.count(1)

GLASHUETTE = VenueIn(
    name="Werk 2",
    street="Altenberger Straße 1",
    postal_code="01768",
    city="Glashütte",
    lat=50.852,
    lon=13.779,
)


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ)


def school_day_2027(month: int = 5, day: int = 3) -> date:
    """A school day in 2027 (no holiday), so class visits are accepted."""
    return school_day(0, start=date(2027, month, day))


async def titled_event(
    host: Principal,
    title: str | None = None,
    *,
    kind: str = "factory_tour",
    grades: list[int] | None = None,
    visibility: str = "public",
    status: str = "published",
    description: str = "",
    venue: VenueIn | None = GLASHUETTE,
    booking_mode: str = "auto",
) -> int:
    event = await create_event(
        EventIn(
            kind=kind,  # type: ignore[arg-type]
            title=title or f"Führung {next(_counter)}",
            description=description,
            venue=venue,
            grades=grades or [],
            visibility=visibility,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            booking_mode=booking_mode,  # type: ignore[arg-type]
        ),
        by=host,
    )
    return event.id


async def tour_with_slot(
    host: Principal, *, hour: int = 9, day: date | None = None, **event: object
) -> tuple[int, int]:
    event_id = await titled_event(host, **event)  # type: ignore[arg-type]
    slot_id = await make_slot(host, event_id, starts_at=at(day or school_day_2027(), hour))
    return event_id, slot_id


async def public_body(
    filters: services.PublicFilter | None = None, now: datetime | None = None
) -> bytes:
    return (await services.public_feed(filters or services.PublicFilter(), now=now)).body


def vevents(body: bytes) -> list[Calendar]:
    return list(Calendar.from_ical(body).walk("VEVENT"))


def summaries(body: bytes) -> list[str]:
    return [str(e["SUMMARY"]) for e in vevents(body)]


def uids(body: bytes) -> list[str]:
    return [str(e["UID"]) for e in vevents(body)]


async def stored(key: str) -> dict:
    row = await FeedDocument.select().where(FeedDocument.key == key).first()
    assert row is not None, f"feed {key} is not stored"
    return row


async def publish(now: datetime | None = None) -> services.PublishResult:
    """Run the publisher until the queue is empty (as the scheduler's ticks would)."""
    total = services.PublishResult()
    for _ in range(10):
        result = await services.publish_pending(now=now)
        total.changes += result.changes
        total.rendered += result.rendered
        total.pieces += result.pieces
        total.expired += result.expired
        total.feeds += result.feeds
        total.dropped += result.dropped
        if result.idle:
            break
    return total


def later(days: float = 0, **kwargs: float) -> datetime:
    return utcnow() + timedelta(days=days, **kwargs)
