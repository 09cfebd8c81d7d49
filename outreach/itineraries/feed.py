"""Legs for the private feeds: the journeys between the visits of a booked day, as
the calendar feeds show them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace

from outreach.booking.tables import Booking
from outreach.itineraries import planner
from outreach.itineraries.availability import _booked_query, _candidate, travel_rules
from outreach.itineraries.tables import Itinerary, ItineraryVisit
from outreach.itineraries.views import _day_plan, _Visit, _visits

__all__ = [
    "feed_legs",
]


# ---------------------------------------------------------------------------
# Legs for the private feeds


@dataclass(frozen=True)
class FeedLeg:
    """The way to one visit of a day from the visit before it, for the teacher's feed.

    Keyed by the visit it leads to. `active` is False when that visit, or every visit
    before it, fell away: the leg then stays in the feed as cancelled for a while.
    """

    booking_id: int  # the visit the leg leads to
    slot_id: int
    itinerary_id: int
    school_id: int
    booked_by: int | None
    class_label: str
    origin: str  # host names
    destination: str
    destination_address: str
    mode: str
    minutes: int
    km: float
    departs_at: dt.datetime
    arrives_at: dt.datetime
    active: bool
    sequence: int  # grows with any change of the day's visits
    stamp: dt.datetime  # the newest change among them
    event_id: int
    host_id: int
    event_status: str


async def feed_legs(booking_ids: Iterable[int]) -> tuple[list[FeedLeg], set[int]]:
    """The legs of the itineraries these bookings belong to, and every booking of them.

    The second value lets the feed publisher re-render the whole day when one visit of
    it changes (a cancelled visit joins its neighbours with a new leg).
    """
    ids = sorted(set(booking_ids))
    if not ids:
        return [], set()
    links = await ItineraryVisit.select(ItineraryVisit.itinerary).where(
        ItineraryVisit.booking.is_in(ids)
    )
    itinerary_ids = sorted({r["itinerary"] for r in links})
    if not itinerary_ids:
        return [], set()
    legs: list[FeedLeg] = []
    members: set[int] = set()
    for row in await Itinerary.objects().where(Itinerary.id.is_in(itinerary_ids)):
        visits = await _visits(row.id)
        members |= {v.booking["id"] for v in visits}
        legs.extend(await _legs_of(row, visits))
    return legs, members


async def _legs_of(row: Itinerary, visits: list[_Visit]) -> list[FeedLeg]:
    if len(visits) < 2:
        return []
    rules = travel_rules(
        row.travel_mode,
        row.day,
        dt.time.fromisoformat(row.arrive_at),
        dt.time.fromisoformat(row.leave_by),
    )
    active_legs = {leg.to: leg for leg in _day_plan(row, visits)[0]}
    # Each counter only grows and a replacement adds a visit: the sum grows on any change.
    sequence = len(visits) + sum(v.booking["sequence"] + v.info.sequence for v in visits)
    stamp = max([row.created_at, *(v.booking["updated_at"] for v in visits)])
    booked_by = (
        await Booking.select(Booking.booked_by).where(Booking.id == visits[0].booking["id"]).first()
    )["booked_by"]
    # The legs only need times and travel, not the teacher's wishes.
    q = replace(
        _booked_query(row, min_visits=1, max_visits=len(visits), limit=1),
        firms=frozenset(),
        topics=frozenset(),
    )
    out = []
    # Every visit after the first (in the day as booked) has a leg leading to it.
    for before, visit in itertools.pairwise(visits):
        dest = visit.info
        leg = active_legs.get(dest.host) if visit.active else None
        if leg is not None:
            origin = next(v.info for v in visits if v.active and v.info.host == leg.from_)
            minutes, km = leg.minutes, leg.km
            departs = leg.departs_at or origin.ends_at
            arrives = leg.arrives_at or departs + dt.timedelta(minutes=minutes)
        else:
            origin = before.info
            if None in (origin.lat, origin.lon, dest.lat, dest.lon):
                continue
            drawn = planner.make_leg(_candidate(origin, q), _candidate(dest, q), rules)
            minutes, km = drawn.minutes, round(drawn.km, 2)
            departs = origin.ends_at
            arrives = departs + dt.timedelta(minutes=minutes)
        venue = dest.venue
        address = (
            ", ".join(
                p
                for p in (venue.name, venue.street, f"{venue.postal_code} {venue.city}".strip())
                if p
            )
            if venue
            else ""
        )
        out.append(
            FeedLeg(
                booking_id=visit.booking["id"],
                slot_id=dest.slot_id,
                itinerary_id=row.id,
                school_id=row.school,
                booked_by=booked_by,
                class_label=row.class_label,
                origin=origin.host_name,
                destination=dest.host_name,
                destination_address=address,
                mode=row.travel_mode,
                minutes=minutes,
                km=km,
                departs_at=departs,
                arrives_at=arrives,
                active=leg is not None,
                sequence=sequence,
                stamp=stamp,
                event_id=dest.event_id,
                host_id=dest.host_id,
                event_status=dest.status,
            )
        )
    return out
