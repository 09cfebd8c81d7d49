"""The rows every figure is computed from: one school year's bookings and slots.

Fetched with one joined SELECT each (a year holds a few thousand bookings) and
aggregated in Python, so the same code runs on SQLite and PostgreSQL. What counts:
- a booking counts once it is `confirmed` and its slot has begun;
- with attendance recorded it is *actual*: persons = `attended`; a class visit is held
  when anyone came, and its pupils are the persons who came minus the accompanying
  adults (adults are taken to come as booked);
- without attendance it is *expected*: shown apart, never mixed into the actual figure.
Months and school years are taken in Europe/Berlin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from outreach.booking.tables import Booking
from outreach.errors import Invalid
from outreach.events.tables import Slot
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, as_utc, local

__all__ = [
    "BookingFact",
    "SlotFact",
    "booking_facts",
    "in_booking_scope",
    "in_slot_scope",
    "month_labels",
    "previous_year",
    "school_year_bounds",
    "school_year_of",
    "slot_facts",
]


def school_year_bounds(label: str) -> tuple[datetime, datetime]:
    """[1 August, next 1 August) of a school year such as "2026/27", as UTC instants."""
    try:
        first, second = label.split("/")
        start_year = int(first)
        valid = len(first) == 4 and len(second) == 2 and int(second) == (start_year + 1) % 100
    except ValueError:
        valid = False
    if not valid or not 2000 <= start_year <= 2100:
        raise Invalid("year must be a school year like 2026/27", field="year")
    start = datetime.combine(date(start_year, 8, 1), time(0), tzinfo=LOCAL_TZ)
    end = datetime.combine(date(start_year + 1, 8, 1), time(0), tzinfo=LOCAL_TZ)
    return as_utc(start), as_utc(end)


def school_year_of(moment: datetime | date) -> str:
    day = local(moment).date() if isinstance(moment, datetime) else moment
    first = day.year if day.month >= 8 else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def previous_year(label: str) -> str:
    school_year_bounds(label)
    first = int(label[:4]) - 1
    return f"{first}/{(first + 1) % 100:02d}"


def month_labels(label: str) -> list[str]:
    """ "2026-08" ... "2027-07": the months of a school year."""
    first = int(label[:4])
    return [f"{first + (m < 8)}-{m:02d}" for m in (*range(8, 13), *range(1, 8))]


@dataclass(frozen=True, slots=True)
class BookingFact:
    id: int
    kind: str  # class_visit | registration
    event_id: int
    event_kind: str
    event_title: str
    host_id: int
    host_name: str
    school_id: int | None
    school_name: str
    grade: int | None
    persons: int
    pupils: int
    adults: int
    attended: int | None
    starts_at: datetime
    month: str  # "2026-09", Europe/Berlin

    @property
    def recorded(self) -> bool:
        return self.attended is not None

    @property
    def class_held(self) -> bool:
        return self.kind == "class_visit" and (self.attended or 0) > 0

    @property
    def pupils_reached(self) -> int:
        if self.kind != "class_visit" or self.attended is None:
            return 0
        return max(self.attended - self.adults, 0)


@dataclass(frozen=True, slots=True)
class SlotFact:
    id: int
    event_id: int
    event_kind: str
    event_title: str
    host_id: int
    host_name: str
    starts_at: datetime
    capacity: int
    booked: int  # persons of confirmed bookings
    attended: int  # persons recorded as come
    recorded: int  # confirmed bookings with attendance recorded
    confirmed: int  # confirmed bookings


async def booking_facts(year: str, *, now: datetime) -> list[BookingFact]:
    """Confirmed bookings whose slot lies in `year` and has begun by `now`."""
    start, end = school_year_bounds(year)
    until = min(end, as_utc(now))
    b = Booking
    rows = await b.select(
        b.id,
        b.kind,
        b.persons,
        b.pupils,
        b.adults,
        b.grade,
        b.attended,
        b.school.as_alias("school_id"),
        b.school.name.as_alias("school_name"),
        b.event.as_alias("event_id"),
        b.event.kind.as_alias("event_kind"),
        b.event.title.as_alias("event_title"),
        b.event.host.as_alias("host_id"),
        b.event.host.name.as_alias("host_name"),
        b.slot.starts_at.as_alias("starts_at"),
    ).where(
        (b.status == "confirmed")
        & (b.slot.starts_at >= start)
        & (b.slot.starts_at < end)
        & (b.slot.starts_at <= until)
        & (b.slot.cancelled == False)  # noqa: E712
        & (b.event.status != "cancelled")
    )
    return [_booking_fact(row) for row in rows]


def _booking_fact(row: dict[str, Any]) -> BookingFact:
    starts_at = as_utc(row["starts_at"])
    return BookingFact(
        id=row["id"],
        kind=row["kind"],
        event_id=row["event_id"],
        event_kind=row["event_kind"],
        event_title=row["event_title"],
        host_id=row["host_id"],
        host_name=row["host_name"],
        school_id=row["school_id"],
        school_name=row["school_name"] or "",
        grade=row["grade"],
        persons=row["persons"],
        pupils=row["pupils"] or 0,
        adults=row["adults"] or 0,
        attended=row["attended"],
        starts_at=starts_at,
        month=local(starts_at).strftime("%Y-%m"),
    )


async def slot_facts(year: str) -> list[SlotFact]:
    """Bookable slots of `year` (past and future) with their confirmed and attended persons."""
    start, end = school_year_bounds(year)
    s = Slot
    slots = await s.select(
        s.id,
        s.capacity,
        s.starts_at,
        s.event.as_alias("event_id"),
        s.event.kind.as_alias("event_kind"),
        s.event.title.as_alias("event_title"),
        s.event.host.as_alias("host_id"),
        s.event.host.name.as_alias("host_name"),
    ).where(
        (s.starts_at >= start)
        & (s.starts_at < end)
        & (s.cancelled == False)  # noqa: E712
        & (s.event.status == "published")
        & (s.event.booking_mode != "none")
    )
    ids = [row["id"] for row in slots]
    sums: dict[int, list[int]] = {i: [0, 0, 0, 0] for i in ids}
    for chunk in range(0, len(ids), 500):
        rows = await Booking.select(Booking.slot, Booking.persons, Booking.attended).where(
            (Booking.status == "confirmed") & Booking.slot.is_in(ids[chunk : chunk + 500])
        )
        for row in rows:
            acc = sums[row["slot"]]
            acc[0] += row["persons"]
            acc[3] += 1
            if row["attended"] is not None:
                acc[1] += row["attended"]
                acc[2] += 1
    return [
        SlotFact(
            id=row["id"],
            event_id=row["event_id"],
            event_kind=row["event_kind"],
            event_title=row["event_title"],
            host_id=row["host_id"],
            host_name=row["host_name"],
            starts_at=as_utc(row["starts_at"]),
            capacity=row["capacity"],
            booked=sums[row["id"]][0],
            attended=sums[row["id"]][1],
            recorded=sums[row["id"]][2],
            confirmed=sums[row["id"]][3],
        )
        for row in sorted(slots, key=lambda r: (r["starts_at"], r["id"]))
    ]


def in_booking_scope(fact: BookingFact, by: Principal) -> bool:
    """A member's own figures: a firm its events' bookings, a school its own and its events'."""
    if by.is_admin:
        return True
    if by.org_id is None:
        return False
    return fact.host_id == by.org_id or (by.role == "school" and fact.school_id == by.org_id)


def in_slot_scope(fact: SlotFact, by: Principal) -> bool:
    return by.is_admin or (by.org_id is not None and fact.host_id == by.org_id)


def day_end(day: date) -> datetime:
    """The instant a local day ends (a milestone due on a day counts that whole day)."""
    return as_utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=LOCAL_TZ))
