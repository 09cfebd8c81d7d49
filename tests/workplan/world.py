"""A small, hand-counted world for the reports: two firms, two schools, two school years.

All slots are made and booked through the services at past instants (`now=`), then the
hosts record attendance. The figures the tests expect are counted by hand from this.

2026/27 (current year; "now" is after all of its past slots):
  firm A tour  SA1 2026-09-15 cap 30: school A 8a, 20 pupils + 2 adults -> 21 came
               SA2 2026-10-06 cap 30: school B 9b, 25 + 1            -> 0 (no-show)
               SA3 2026-11-10 cap 30: school A 9a, 18 + 2            -> not recorded
  firm B tour  SB1 2026-09-22 cap 20: school B 8c, 15 + 1            -> 16 came
               SB2 in the future cap 30: school A 7c, 10 + 1 (not counted: not begun)
  firm A seminar ST 2026-10-20 cap 15: teacher of school A 1 person -> 1, school B 2 -> 2
2025/26 (previous year):
  firm A tour  SP  2026-03-10 cap 30: school A 7a, 10 + 1 -> 11 came
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from outreach.booking.attendance import record_attendance
from outreach.booking.schemas import BookingRequest
from outreach.booking.writes import place_booking
from outreach.events.schemas import SlotIn
from outreach.events.services import add_slot
from outreach.timeutil import utcnow
from tests.factories import World, at, class_visit, make_event, make_slot, make_world, school_day

__all__ = ["ReportWorld", "build_report_world"]


@dataclass
class ReportWorld:
    world: World
    now: datetime
    tour_a: int
    tour_b: int
    seminar: int
    slots: dict[str, int]
    bookings: dict[str, int]


def _day(year: int, month: int, day: int) -> date:
    # The first school day on or after the date (holidays move it; the month stays).
    return school_day(0, start=date(year, month, day))


async def _past_slot(host, event_id: int, starts_at: datetime, capacity: int) -> int:
    slot = await add_slot(
        event_id,
        SlotIn(
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=90),
            capacity=capacity,
        ),
        by=host,
        now=starts_at - timedelta(days=40),
    )
    return slot.id


async def _book(slot_id: int, req: BookingRequest, by, starts_at: datetime) -> int:
    placed = await place_booking(slot_id, req, by=by, now=starts_at - timedelta(days=20))
    assert placed.booking.status == "confirmed"
    return placed.booking.id


async def build_report_world() -> ReportWorld:
    w = await make_world()
    now = utcnow()
    assert now >= datetime.fromisoformat("2026-11-20T00:00:00+00:00"), (
        "the fixture needs a later now"
    )
    tour_a = await make_event(w.firm_a, grades=[7, 8, 9, 10])
    tour_b = await make_event(w.firm_b, grades=[7, 8, 9, 10])
    seminar = await make_event(w.firm_a, kind="teacher_training", visibility="network")
    slots: dict[str, int] = {}
    bookings: dict[str, int] = {}
    plan = [
        (
            "SA1",
            w.firm_a,
            tour_a,
            at(_day(2026, 9, 15), 9),
            30,
            w.school_a,
            class_visit("8a", 20, 2, 8),
        ),
        (
            "SA2",
            w.firm_a,
            tour_a,
            at(_day(2026, 10, 6), 9),
            30,
            w.school_b,
            class_visit("9b", 25, 1, 9),
        ),
        (
            "SA3",
            w.firm_a,
            tour_a,
            at(_day(2026, 11, 10), 9),
            30,
            w.school_a,
            class_visit("9a", 18, 2, 9),
        ),
        (
            "SB1",
            w.firm_b,
            tour_b,
            at(_day(2026, 9, 22), 9),
            20,
            w.school_b,
            class_visit("8c", 15, 1, 8),
        ),
        (
            "SP",
            w.firm_a,
            tour_a,
            at(_day(2026, 3, 10), 9),
            30,
            w.school_a,
            class_visit("7a", 10, 1, 7),
        ),
    ]
    for name, host, event, starts_at, cap, school, req in plan:
        slots[name] = await _past_slot(host, event, starts_at, cap)
        bookings[name] = await _book(slots[name], req, school, starts_at)
    seminar_start = at(date(2026, 10, 20), 14)
    slots["ST"] = await _past_slot(w.firm_a, seminar, seminar_start, 15)
    bookings["STA"] = await _book(
        slots["ST"], BookingRequest(name="Frau Lehrerin", persons=1), w.school_a, seminar_start
    )
    bookings["STB"] = await _book(
        slots["ST"], BookingRequest(name="Herr Lehrer", persons=2), w.school_b, seminar_start
    )
    slots["SB2"] = await make_slot(w.firm_b, tour_b, capacity=30)
    placed = await place_booking(slots["SB2"], class_visit("7c", 10, 1, 7), by=w.school_a)
    bookings["SB2"] = placed.booking.id
    for name, came, by in (
        ("SA1", 21, w.firm_a),
        ("SA2", 0, w.firm_a),
        ("SB1", 16, w.firm_b),
        ("SP", 11, w.firm_a),
        ("STA", 1, w.firm_a),
        ("STB", 2, w.admin),
    ):
        await record_attendance(bookings[name], came, by=by)
    return ReportWorld(w, now, tour_a, tour_b, seminar, slots, bookings)
