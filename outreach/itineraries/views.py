"""Reading itineraries: one itinerary with each visit's status and the day's legs,
a school's list, its calendar file, and what a booking's mail says of the day it
belongs to.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from outreach.booking.queries import get_booking
from outreach.booking.schemas import BookingOut
from outreach.booking.tables import Booking
from outreach.config import get_settings
from outreach.errors import Forbidden, NotFound, Unauthorised
from outreach.itineraries import ical, planner
from outreach.itineraries.availability import (
    ACTIVE,
    _booked_query,
    _candidate,
    _instant,
    _load_infos,
    _SlotInfo,
    travel_rules,
)
from outreach.itineraries.schemas import (
    ItineraryOut,
    LegOut,
    LunchOut,
    VisitStatusOut,
)
from outreach.itineraries.tables import Itinerary, ItineraryVisit
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import local

__all__ = [
    "ItineraryNotice",
    "get_itinerary",
    "itinerary_calendar",
    "itinerary_for_booking",
    "list_itineraries",
]


def _leg_out(
    leg: planner.Leg,
    infos: dict[int, _SlotInfo],
    mode: str,
    lunch: tuple[int, int] | None = None,
) -> LegOut:
    departs = local(infos[leg.origin.slot_id].ends_at)
    # Lunch in this gap: walk first when the walk fits before it, else eat first.
    if (
        lunch is not None
        and leg.origin.end <= lunch[0] < leg.destination.start
        and lunch[0] - leg.origin.end < leg.minutes
    ):
        departs += dt.timedelta(minutes=lunch[1] - leg.origin.end)
    return LegOut(
        from_=leg.origin.host,
        to=leg.destination.host,
        minutes=leg.minutes,
        km=round(leg.km, 2),
        mode=mode,  # type: ignore[arg-type]
        departs_at=departs,
        arrives_at=departs + dt.timedelta(minutes=leg.minutes),
    )


def _lunch_out(day: dt.date, lunch: tuple[int, int] | None) -> LunchOut | None:
    if lunch is None:
        return None
    return LunchOut(starts_at=_instant(day, lunch[0]), ends_at=_instant(day, lunch[1]))


# ---------------------------------------------------------------------------
# Reading itineraries


async def _itinerary_row(itinerary_id: int, by: Principal) -> Itinerary:
    if not by.is_member:
        raise Unauthorised("sign in to see itineraries")
    row = await Itinerary.objects().where(Itinerary.id == itinerary_id).first()
    # Another school's itinerary looks like none at all.
    if row is None or not (by.is_admin or (by.role == "school" and by.belongs_to(row.school))):
        raise NotFound(f"no itinerary {itinerary_id}", field="itinerary")
    return row


@dataclass(frozen=True)
class _Visit:
    position: int
    booking: dict[str, Any]
    info: _SlotInfo

    @property
    def active(self) -> bool:
        return self.booking["status"] in ACTIVE


async def _visits(itinerary_id: int) -> list[_Visit]:
    links = (
        await ItineraryVisit.select(ItineraryVisit.booking, ItineraryVisit.position)
        .where(ItineraryVisit.itinerary == itinerary_id)
        .order_by(ItineraryVisit.position)
    )
    if not links:
        return []
    rows = {
        r["id"]: r
        for r in await Booking.select(
            Booking.id,
            Booking.slot,
            Booking.status,
            Booking.reason,
            Booking.sequence,
            Booking.updated_at,
        ).where(Booking.id.is_in([link["booking"] for link in links]))
    }
    infos = {i.slot_id: i for i in await _load_infos(slot_ids=[r["slot"] for r in rows.values()])}
    visits = [
        _Visit(link["position"], rows[link["booking"]], infos[rows[link["booking"]]["slot"]])
        for link in links
    ]
    return sorted(visits, key=lambda v: (v.info.starts_at, v.position))


def _status(visits: list[_Visit]) -> str:
    statuses = [v.booking["status"] for v in visits]
    if not any(s in ACTIVE for s in statuses):
        return "cancelled"
    if any(s not in ACTIVE for s in statuses):
        return "incomplete"
    return "confirmed" if all(s == "confirmed" for s in statuses) else "pending"


def _day_plan(row: Itinerary, visits: list[_Visit]) -> tuple[list[LegOut], LunchOut | None]:
    """Legs between the visits still on, and where lunch fits between them."""
    active = [v.info for v in visits if v.active]
    if not active:
        return [], None
    day = row.day
    rules = travel_rules(
        row.travel_mode,
        day,
        dt.time.fromisoformat(row.arrive_at),
        dt.time.fromisoformat(row.leave_by),
        min_visits=1,
        max_visits=len(active),
        lunch_minutes=row.lunch_minutes,
    )
    q = _booked_query(row, min_visits=1, max_visits=len(active), limit=1)
    infos = {i.slot_id: i for i in active}
    chain = [_candidate(i, q) for i in active if i.lat is not None and i.lon is not None]
    plan = planner.evaluate(chain, rules) if len(chain) == len(active) else None
    lunch = plan.lunch if plan else None
    legs = [
        _leg_out(planner.make_leg(a, b, rules), infos, row.travel_mode, lunch)
        for a, b in itertools.pairwise(chain)
    ]
    return legs, _lunch_out(day, lunch)


async def get_itinerary(
    itinerary_id: int, *, by: Principal, now: dt.datetime | None = None
) -> ItineraryOut:
    """The itinerary with each visit's status (its school and the network office)."""
    row = await _itinerary_row(itinerary_id, by)
    return await _itinerary_out(row, by)


async def _itinerary_out(row: Itinerary, by: Principal) -> ItineraryOut:
    visits = await _visits(row.id)
    school = (
        await Organisation.select(Organisation.slug, Organisation.name)
        .where(Organisation.id == row.school)
        .first()
    )
    legs, lunch = _day_plan(row, visits)
    bookings: list[BookingOut] = [await get_booking(v.booking["id"], by=by) for v in visits]
    return ItineraryOut(
        id=row.id,
        school=school["slug"],
        school_name=school["name"],
        date=row.day,
        class_label=row.class_label,
        grade=row.grade,
        pupils=row.pupils,
        adults=row.adults,
        status=_status(visits),
        travel_mode=row.travel_mode,
        arrive_at=row.arrive_at,
        leave_by=row.leave_by,
        lunch_minutes=row.lunch_minutes,
        visits=[_visit_status(v) for v in visits],
        legs=legs,
        lunch=lunch,
        bookings=bookings,
        ics_url=f"{get_settings().base_url}/itineraries/{row.id}.ics",
        created_at=local(row.created_at),
    )


def _visit_status(v: _Visit) -> VisitStatusOut:
    i = v.info
    return VisitStatusOut(
        position=v.position,
        booking_id=v.booking["id"],
        slot_id=i.slot_id,
        status=v.booking["status"],
        reason=v.booking["reason"],
        host=i.host,
        host_name=i.host_name,
        event_id=i.event_id,
        event_title=i.title,
        starts_at=local(i.starts_at),
        ends_at=local(i.ends_at),
        venue=i.venue,
        contact_name=i.contact_name,
        contact_phone=i.contact_phone,
        contact_email=i.contact_email,
    )


async def list_itineraries(
    *, by: Principal, limit: int = 200, offset: int = 0
) -> list[ItineraryOut]:
    """A school's itineraries (the network office: all), newest day first."""
    if not by.is_member:
        raise Unauthorised("sign in to see itineraries")
    query = (
        Itinerary.objects()
        .order_by(Itinerary.day, ascending=False)
        .order_by(Itinerary.id, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    if by.role == "school" and by.org_id is not None:
        query = query.where(Itinerary.school == by.org_id)
    elif not by.is_admin:
        raise Forbidden("itineraries belong to schools")
    return [await _itinerary_out(row, by) for row in await query]


async def itinerary_calendar(itinerary_id: int, *, by: Principal) -> bytes:
    """The itinerary as one iCalendar file: every visit, every leg, lunch."""
    row = await _itinerary_row(itinerary_id, by)
    out = await _itinerary_out(row, by)
    visits = await _visits(row.id)
    # As in the feeds: both numbers only grow, so their sum grows on any change.
    sequences = {v.booking["id"]: v.booking["sequence"] + v.info.sequence for v in visits}
    stamp = max([row.created_at, *(v.booking["updated_at"] for v in visits)])
    settings = get_settings()
    return ical.itinerary_calendar(
        out,
        host=urlsplit(settings.base_url).hostname or "outreach.invalid",
        stamp=stamp,
        sequences=sequences,
    )


@dataclass(frozen=True)
class ItineraryNotice:
    """What a mail about one booking should add when the booking is part of a day."""

    itinerary_id: int
    day: dt.date
    class_label: str
    other_visits: list[VisitStatusOut]
    itinerary_url: str
    replacements_url: str
    ics_url: str


async def itinerary_for_booking(booking_id: int) -> ItineraryNotice | None:
    """For the notifications: the itinerary a booking belongs to, or None.

    System-side (no principal): the mail goes to the booking's own contact.
    """
    link = (
        await ItineraryVisit.select(ItineraryVisit.itinerary)
        .where(ItineraryVisit.booking == booking_id)
        .first()
    )
    if link is None:
        return None
    row = await Itinerary.objects().where(Itinerary.id == link["itinerary"]).first()
    visits = await _visits(row.id)
    base = get_settings().base_url
    return ItineraryNotice(
        itinerary_id=row.id,
        day=row.day,
        class_label=row.class_label,
        other_visits=[_visit_status(v) for v in visits if v.booking["id"] != booking_id],
        itinerary_url=itinerary_page_url(row.id),
        replacements_url=f"{itinerary_page_url(row.id)}?replace={booking_id}#replacements",
        ics_url=f"{base}/itineraries/{row.id}.ics",
    )


def itinerary_page_url(itinerary_id: int) -> str:
    """The teacher's page of the day (status, cancel, replacements, print, .ics)."""
    return f"{get_settings().base_url}/school/itineraries/{itinerary_id}"
