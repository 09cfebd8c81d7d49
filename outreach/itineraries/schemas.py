"""Structs of the class day planner: what a teacher asks, what the planner proposes,
and a booked itinerary with each visit's status."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from outreach.booking.schemas import BookingOut
from outreach.events.schemas import VenueOut

__all__ = [
    "ItineraryConflictOut",
    "ItineraryIn",
    "ItineraryOut",
    "LegOut",
    "LunchOut",
    "PlanOut",
    "PlanRequest",
    "ProposalOut",
    "Suggestion",
    "UnavailableOut",
    "VisitOut",
    "VisitStatusOut",
]

TravelMode = Literal["foot", "bus"]
# A row id fits PostgreSQL's `integer`; a larger number would fail in the driver (a 500).
SlotId = Annotated[int, Meta(ge=1, le=2**31 - 1)]
# Local wall time "HH:MM" in Europe/Berlin.
LocalTime = Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Slug = Annotated[str, Meta(min_length=1, max_length=64)]
Topic = Annotated[str, Meta(min_length=1, max_length=64)]
Count = Annotated[int, Meta(ge=0, le=1000)]
Visits = Annotated[int, Meta(ge=1, le=4)]


class PlanRequest(Struct, forbid_unknown_fields=True):
    """A class's day to plan: `date` or `dates` (at most 31), the class, the school day."""

    grade: Annotated[int, Meta(ge=1, le=13)]
    pupils: Annotated[int, Meta(ge=1, le=1000)]
    adults: Count = 0
    date: dt.date | None = None
    dates: Annotated[list[dt.date], Meta(max_length=31)] = []
    arrive_at: LocalTime = "08:00"
    leave_by: LocalTime = "15:00"
    travel_mode: TravelMode = "foot"
    # 0: no lunch break; else it must fit between 11:00 and 14:00.
    lunch_minutes: Annotated[int, Meta(ge=0, le=180)] = 0
    firms: Annotated[list[Slug], Meta(max_length=10)] = []
    topics: Annotated[list[Topic], Meta(max_length=10)] = []
    max_visits: Visits = 3
    # Fewest visits a proposal has (default: 2, or max_visits if that is 1).
    min_visits: Visits | None = None
    # With it, slots overlapping this class's other visits are left out.
    class_label: Annotated[str, Meta(min_length=1, max_length=32)] | None = None
    limit: Annotated[int, Meta(ge=1, le=10)] = 5


class VisitOut(Struct):
    slot_id: int
    host: str  # slug
    starts_at: dt.datetime
    ends_at: dt.datetime
    event_id: int
    event_title: str
    host_name: str
    venue: VenueOut | None
    wanted: bool  # the host is one the teacher asked for
    topics: list[str]  # of the asked topics, those the event has


class LegOut(Struct):
    from_: str = msgspec.field(name="from")  # host slug
    to: str = ""
    minutes: int = 0  # travel on the detoured distance plus the buffer
    km: float = 0.0  # straight line between the venues
    mode: TravelMode = "foot"
    departs_at: dt.datetime | None = None
    arrives_at: dt.datetime | None = None


class LunchOut(Struct):
    starts_at: dt.datetime
    ends_at: dt.datetime


class ProposalOut(Struct):
    date: dt.date
    visits: list[VisitOut]
    legs: list[LegOut]
    score: int  # higher is better; same order as the ranking
    waiting_minutes: int
    travel_minutes: int
    lunch: LunchOut | None
    explanation: str


class Suggestion(Struct):
    """What would work instead: another date, a smaller group, fewer visits, no lunch."""

    kind: Literal["date", "group", "visits", "lunch"]
    message: str
    date: dt.date | None = None
    persons: int | None = None
    visits: int | None = None


class PlanOut(Struct):
    proposals: list[ProposalOut]
    explanation: str
    suggestions: list[Suggestion] = []


class ItineraryIn(Struct, forbid_unknown_fields=True):
    """Book these slots for one class, all or nothing; the class fields of a booking.

    The planning fields (`travel_mode` ... `topics`) are those the proposal was planned
    with: the legs are checked with them, and a 409 re-plans with them. Left out,
    the school day is that of the chosen slots and their hosts are the wanted firms.
    """

    slot_ids: Annotated[list[SlotId], Meta(min_length=1, max_length=4)]
    class_label: Annotated[str, Meta(min_length=1, max_length=32)]
    grade: Annotated[int, Meta(ge=1, le=13)]
    pupils: Annotated[int, Meta(ge=1, le=1000)]
    adults: Count = 0
    contact_name: Annotated[str, Meta(max_length=200)] | None = None
    contact_email: Annotated[str, Meta(max_length=254)] | None = None
    notes: Annotated[str, Meta(max_length=2000)] = ""
    language: Annotated[str, Meta(pattern="^(de|en|cs)$")] | None = None
    travel_mode: TravelMode = "foot"
    arrive_at: LocalTime | None = None
    leave_by: LocalTime | None = None
    lunch_minutes: Annotated[int, Meta(ge=0, le=180)] = 0
    firms: Annotated[list[Slug], Meta(max_length=10)] | None = None
    topics: Annotated[list[Topic], Meta(max_length=10)] = []


class VisitStatusOut(Struct):
    position: int
    booking_id: int
    slot_id: int
    status: str  # the booking's: pending, confirmed, waitlisted, declined, cancelled
    reason: str
    host: str
    host_name: str
    event_id: int
    event_title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    venue: VenueOut | None
    # The host's contact for the day (for the printed plan).
    contact_name: str
    contact_phone: str
    contact_email: str


class ItineraryOut(Struct):
    id: int
    school: str  # slug
    school_name: str
    date: dt.date
    class_label: str
    grade: int
    pupils: int
    adults: int
    # confirmed: every visit confirmed; pending: some await their host; incomplete: a
    # visit was cancelled or declined (see replacements); cancelled: none is left.
    status: str
    travel_mode: str
    arrive_at: str
    leave_by: str
    lunch_minutes: int
    visits: list[VisitStatusOut]
    legs: list[LegOut]  # between the visits still on
    lunch: LunchOut | None
    bookings: list[BookingOut]
    ics_url: str
    created_at: dt.datetime


class UnavailableOut(Struct):
    slot_id: int
    reason: str
    message: str


class ItineraryConflictOut(Struct):
    """409: nothing was booked; fresh proposals planned with the same parameters."""

    message: str
    reason: str
    field: str | None
    unavailable: list[UnavailableOut]
    proposals: list[ProposalOut]
    explanation: str
    suggestions: list[Suggestion]
