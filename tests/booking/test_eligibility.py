"""One rule answers "can this party take this slot now": its order, and every asker agrees."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta

import pytest

from outreach.booking.eligibility import (
    Busy,
    Party,
    Reason,
    SlotFacts,
    load_slots,
    refusal,
    slot_state_refusal,
)
from outreach.booking.rules import class_visit_obstacles
from outreach.booking.tables import Booking
from outreach.booking.writes import place_booking
from outreach.calendar.holidays import closures_between
from outreach.errors import DomainError
from outreach.events.services import get_slot, slot_bookable
from outreach.events.tables import Event, Slot
from outreach.itineraries.availability import _class_busy, _load_infos, _Query, _why_not
from tests.factories import at, class_visit, make_event, make_slot, make_world, school_day

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
DAY = school_day(start=NOW.date(), after_days=14)


def facts(**changes) -> SlotFacts:
    starts = at(DAY, 9)
    values = {
        "slot_id": 1,
        "starts_at": starts,
        "ends_at": starts + timedelta(minutes=90),
        "capacity": 30,
        "held": 0,
        "min_party": 1,
        "max_party": None,
        "opens_at": None,
        "closes_at": None,
        "cancelled": False,
        "event_status": "published",
        "booking_mode": "auto",
        "waitlist": False,
        "grades": (),
    }
    return SlotFacts(**{**values, **changes})


CLASS = Party(class_visit=True, grade=8, persons=21, label="8a", persons_field="pupils")


def test_a_slot_that_fits_is_not_refused():
    assert refusal(facts(), CLASS, NOW) is None
    assert refusal(facts(), Party(), NOW) is None


def test_the_slots_state_and_time_come_first_and_a_final_no_before_a_temporary_one():
    started = facts(starts_at=NOW - timedelta(minutes=5), cancelled=True)
    assert refusal(started, CLASS, NOW).reason is Reason.CANCELLED
    assert refusal(facts(event_status="draft"), CLASS, NOW).reason is Reason.NOT_PUBLISHED
    assert refusal(facts(booking_mode="none"), CLASS, NOW).reason is Reason.NO_BOOKING
    begun = facts(starts_at=NOW, opens_at=NOW + timedelta(days=1))
    found = refusal(begun, CLASS, NOW)
    assert found.reason is Reason.PAST and found.params == {"starts_at": NOW}
    # Closed and not yet open at once (a window set backwards): closed is the answer.
    odd = facts(closes_at=NOW - timedelta(days=1), opens_at=NOW + timedelta(days=1))
    found = refusal(odd, CLASS, NOW)
    assert found.reason is Reason.WINDOW_CLOSED and found.params == {"closes_at": odd.closes_at}
    later = facts(opens_at=NOW + timedelta(days=2))
    found = refusal(later, CLASS, NOW)
    assert found.reason is Reason.WINDOW_NOT_OPEN and found.params == {"opens_at": later.opens_at}
    assert found.error().status_code == 409 and found.field == "slot"


def test_holidays_refuse_class_visits_only_and_name_the_holiday():
    closure = closures_between(DAY, DAY + timedelta(days=300))[0]
    slot = facts(starts_at=at(closure.first_day, 9), ends_at=at(closure.first_day, 11))
    found = refusal(slot, CLASS, NOW)
    assert found.reason.value == closure.reason
    assert found.params["holiday"] == closure.name and found.params["day"] == closure.first_day
    assert refusal(slot, Party(persons=3), NOW) is None  # a family may come on a holiday


def test_the_party_grade_size_places_and_class_in_that_order():
    found = refusal(facts(grades=(9, 10), max_party=10), CLASS, NOW)
    assert (found.reason, found.field) == (Reason.WRONG_GRADE, "grade")
    assert found.params == {"grades": (9, 10), "grade": 8} and found.error().status_code == 422
    found = refusal(facts(min_party=25), CLASS, NOW)
    assert (found.reason, found.field, found.params) == (
        Reason.PARTY_TOO_SMALL,
        "pupils",
        {"min": 25, "persons": 21},
    )
    found = refusal(facts(max_party=40, capacity=20), CLASS, NOW)
    assert found.reason is Reason.PARTY_TOO_LARGE and found.params == {"max": 20, "persons": 21}
    found = refusal(facts(held=20), CLASS, NOW)
    assert found.reason is Reason.FULL and found.params == {"free": 10, "persons": 21}
    slot = facts()
    clash = Party(
        **{**_fields(CLASS), "busy": [Busy(slot.starts_at + timedelta(hours=1), at(DAY, 12))]}
    )
    found = refusal(slot, clash, NOW)
    assert found.reason is Reason.CLASS_CONFLICT and found.field == "class_label"
    assert found.params == {"label": "8a", "starts_at": slot.starts_at + timedelta(hours=1)}
    touching = Party(**{**_fields(CLASS), "busy": [Busy(slot.ends_at, at(DAY, 13))]})
    assert refusal(slot, touching, NOW) is None


def test_a_full_slot_with_a_waiting_list_takes_bookings_that_may_wait():
    full = facts(held=30, waitlist=True)
    assert refusal(full, CLASS, NOW) is None
    assert refusal(full, Party(), NOW) is None  # the calendar shows it bookable
    several = Party(**{**_fields(CLASS), "may_wait": False})  # a class day cannot wait
    assert refusal(full, several, NOW).reason is Reason.FULL
    no_list = facts(held=30)
    assert refusal(no_list, Party(), NOW).params == {"free": 0, "persons": 1}
    # What the engine asks before it reads the request: the slot's state and time only.
    assert slot_state_refusal(no_list, NOW) is None
    assert slot_state_refusal(facts(cancelled=True), NOW).reason is Reason.CANCELLED


def _fields(party: Party) -> dict:
    return {name: getattr(party, name) for name in Party.__slots__}


# ---------------------------------------------------------------------------
# Everyone who asks gets the same answer


@pytest.fixture
async def world(db):
    return await make_world()


async def _engine(slot_id: int, by, request) -> str | None:
    try:
        await place_booking(slot_id, request, by=by)
    except DomainError as exc:
        return exc.reason
    return None


async def _planner(slot_id: int, by, request) -> str | None:
    info = (await _load_infos(slot_ids=[slot_id]))[0]
    q = _Query(
        days=(info.day,),
        grade=request.grade,
        pupils=request.pupils,
        adults=request.adults,
        arrive=dt.time(7),
        leave=dt.time(20),
        travel_mode="bus",
        lunch_minutes=0,
        firms=frozenset(),
        topics=frozenset(),
        min_visits=1,
        max_visits=1,
        limit=1,
        class_label=request.class_label,
        school_id=by.org_id,
    )
    busy = await _class_busy(q.school_id, q.class_label, [info.day])
    return _why_not(info, q, datetime.now(UTC), busy)


async def test_the_engine_the_planner_and_the_teachers_pages_agree(world):
    tour = await make_event(world.firm_a, waitlist=False, grades=[8, 9])
    day = school_day(20)
    visit = class_visit("8a")  # grade 8, 20 pupils and 2 adults
    cases: dict[str, int] = {}
    cases["window_not_open"] = await make_slot(world.firm_a, tour, starts_at=at(day, 8))
    await Slot.update({Slot.booking_opens_at: datetime.now(UTC) + timedelta(days=2)}).where(
        Slot.id == cases["window_not_open"]
    )
    cases["window_closed"] = await make_slot(world.firm_a, tour, starts_at=at(day, 9))
    await Slot.update({Slot.booking_closes_at: datetime.now(UTC) - timedelta(hours=1)}).where(
        Slot.id == cases["window_closed"]
    )
    cases["past"] = await make_slot(world.firm_a, tour, starts_at=at(day, 10))
    begun = datetime.now(UTC) - timedelta(minutes=30)
    await Slot.update({Slot.starts_at: begun, Slot.ends_at: begun + timedelta(hours=1)}).where(
        Slot.id == cases["past"]
    )
    cases["full"] = await make_slot(world.firm_a, tour, starts_at=at(day, 11), capacity=30)
    await Slot.update({Slot.held: 30}).where(Slot.id == cases["full"])
    cases["party_too_large"] = await make_slot(
        world.firm_a, tour, starts_at=at(day, 12), max_party=15
    )
    ninth = await make_event(world.firm_b, grades=[9])
    cases["wrong_grade"] = await make_slot(world.firm_b, ninth, starts_at=at(day, 13))
    holiday = closures_between(day, day + timedelta(days=300))[0]
    cases[holiday.reason] = await make_slot(world.firm_a, tour, starts_at=at(holiday.first_day, 9))
    other = await make_event(world.firm_b)
    first = await make_slot(world.firm_b, other, starts_at=at(day, 15))
    await place_booking(first, class_visit("8a"), by=world.school_a)
    cases["class_conflict"] = await make_slot(world.firm_a, tour, starts_at=at(day, 15, 30))
    fits = await make_slot(world.firm_a, tour, starts_at=at(day, 17))

    obstacles = await class_visit_obstacles(
        [*cases.values(), fits], by=world.school_a, class_label="8a", grade=8
    )
    loaded = await load_slots(cases.values())
    before = await Booking.count()
    for reason, slot_id in cases.items():
        said = {
            "engine": await _engine(slot_id, world.school_a, visit),
            "planner": await _planner(slot_id, world.school_a, visit),
        }
        if reason not in ("party_too_large",):  # the pages ask before the size is typed
            said["pages"] = obstacles[slot_id].reason
        assert set(said.values()) == {reason}, (reason, said)
        slot_level = reason in ("window_not_open", "window_closed", "past", "full")
        # The calendar asks without a party: only what holds for any party shows there.
        assert (await get_slot(slot_id, by=world.school_a)).bookable is not slot_level, reason
        row = await Slot.objects().get(Slot.id == slot_id)
        event = await Event.objects().get(Event.id == row.event)
        assert slot_bookable(row, event, datetime.now(UTC)) is not slot_level, reason
        assert loaded[slot_id].grades == tuple(event.grades)
    assert await Booking.count() == before  # nothing refused was booked
    assert fits not in obstacles
    assert await _planner(fits, world.school_a, visit) is None
    assert await _engine(fits, world.school_a, visit) is None
