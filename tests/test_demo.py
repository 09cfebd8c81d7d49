"""The demo network: believable, consistent with the booking rules, loaded once.

Each load costs a few seconds (29 argon2 password hashes and some 170 bookings through
the services), so one test loads and checks everything, and only the test of other
times of the year loads again, on SQLite alone (it checks dates, not storage).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from datetime import time as clock

import pytest

from outreach.accounts.services import authenticate_password
from outreach.accounts.tables import User
from outreach.booking.tables import Booking
from outreach.calendar.holidays import closure_on
from outreach.db import all_tables
from outreach.demo import (
    ADMIN_EMAIL,
    ALREADY_LOADED,
    CLASS_DAYS,
    DEMO_PASSWORD,
    FIRMS,
    NETWORK_SLUG,
    TOUR_TIMES,
    load_demo,
    load_demo_if_empty,
)
from outreach.events.tables import Event, Slot
from outreach.internships.tables import ClassPeriod, InternshipOffer, Placement, Pupil, Round, Wish
from outreach.organisations.services import OrganisationIn, create_organisation
from outreach.organisations.tables import Organisation
from outreach.outbox.tables import Notification
from outreach.timeutil import local

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
KINDS = {"open_day", "factory_tour", "parents_evening", "teacher_training", "other"}
STATUSES = {"pending", "confirmed", "waitlisted", "declined", "cancelled"}
POSTAL_CODES = {
    "Glashütte": "01768",
    "Altenberg": "01773",
    "Dippoldiswalde": "01744",
    "Pirna": "01796",
    "Freital": "01705",
    "Heidenau": "01809",
}
GLASHUETTE = (50.8517, 13.7793)
# Real firms of the region: the demo must not borrow their names.
REAL_NAMES = (
    "glashütte original",
    "lange",
    "nomos",
    "mühle",
    "tutima",
    "union",
    "wempe",
    "grossmann",
    "söhnle",
    "hanhart",
)
TOUR_STARTS = {clock(8, 30), clock(10, 30), clock(13, 0)}


async def _row_counts() -> dict[str, int]:
    return {t._meta.tablename: await t.count() for t in all_tables()}


async def _check_places(slots: list[dict], bookings: list[dict]) -> None:
    holding: dict[int, int] = defaultdict(int)
    for b in bookings:
        if b["status"] in ("pending", "confirmed"):
            holding[b["slot"]] += b["persons"]
    for s in slots:
        assert 0 <= s["held"] <= s["capacity"], s
        assert s["held"] == holding[s["id"]], s


def _check_tour_slot(slot: dict) -> None:
    start, end = local(slot["starts_at"]), local(slot["ends_at"])
    assert start.weekday() < 5, start
    assert closure_on(start.date()) is None, (start, closure_on(start.date()))
    assert start.timetz().replace(tzinfo=None) in TOUR_STARTS, start
    assert end - start == timedelta(minutes=90)
    assert (slot["capacity"], slot["min_party"], slot["max_party"]) == (30, 5, 30)


async def test_demo_loads_a_believable_network_once(db: str) -> None:
    summary = await load_demo_if_empty(now=NOW)
    print(f"\n{db}: {summary}")
    assert summary is not None
    assert summary.startswith("demo network: 18 firms, 10 schools, ")
    assert DEMO_PASSWORD in summary
    # What the summary tells the person who loaded it is what was written. (How long a
    # load takes is no test's business: no timed assertions; bench/ measures speed.)
    told = re.search(r"(\d+) events, (\d+) slots, (\d+) bookings; (\d+) users", summary)
    assert told, summary
    written = (await Event.count(), await Slot.count(), await Booking.count(), await User.count())
    assert tuple(int(n) for n in told.groups()) == written

    # Organisations
    orgs = await Organisation.select()
    by_kind = Counter(o["kind"] for o in orgs)
    assert by_kind == {"network": 1, "firm": 18, "school": 10}
    network = next(o for o in orgs if o["kind"] == "network")
    assert network["slug"] == NETWORK_SLUG
    assert network["city"] == "Glashütte"
    firms = [o for o in orgs if o["kind"] == "firm"]
    for firm in firms:
        assert not any(name in firm["name"].lower() for name in REAL_NAMES), firm["name"]
        assert POSTAL_CODES[firm["city"]] == firm["postal_code"], firm
        assert firm["street"] and firm["contact_name"] and firm["contact_phone"]
        assert firm["contact_email"].endswith(".example")
        assert 50.70 < firm["lat"] < 51.05 and 13.60 < firm["lon"] < 14.00, firm
        if firm["city"] == "Glashütte":
            # Within a few kilometres of the town centre.
            assert abs(firm["lat"] - GLASHUETTE[0]) < 0.04, firm
            assert abs(firm["lon"] - GLASHUETTE[1]) < 0.05, firm
    assert sum(f["city"] == "Glashütte" for f in firms) >= 9
    assert len({f["name"] for f in orgs}) == len(orgs)
    schools = [o for o in orgs if o["kind"] == "school"]
    assert {s["school_type"] for s in schools} == {
        "Oberschule",
        "Gymnasium",
        "Förderschule",
        "Berufliches Schulzentrum",
    }
    for school in schools:
        assert school["contact_email"].endswith(".example")
        assert 50.70 < school["lat"] < 51.05 and 13.60 < school["lon"] < 14.00, school

    # Users: the network office, a coordinator per firm, a teacher per school
    users = await User.select(User.email, User.role, User.organisation)
    assert Counter(u["role"] for u in users) == {"admin": 1, "firm": 18, "school": 10}
    assert all(u["email"].endswith(".example") for u in users)
    org_kind = {o["id"]: o["kind"] for o in orgs}
    for role in ("firm", "school"):
        owners = Counter(u["organisation"] for u in users if u["role"] == role)
        assert len(owners) == by_kind[role] and set(owners.values()) == {1}
        assert {org_kind[o] for o in owners} == {role}
    admin = await authenticate_password(ADMIN_EMAIL, DEMO_PASSWORD)
    assert admin.is_admin
    teacher = next(u for u in users if u["role"] == "school")
    assert (await authenticate_password(teacher["email"], DEMO_PASSWORD)).role == "school"

    # Events
    events = await Event.select()
    assert {e["kind"] for e in events} == KINDS
    statuses = Counter(e["status"] for e in events)
    assert statuses["cancelled"] == 1
    assert 1 <= statuses["draft"] <= 2
    assert statuses["published"] > len(events) * 0.8
    tours = [e for e in events if e["kind"] == "factory_tour"]
    assert 18 <= len(tours) <= 30
    assert {e["booking_mode"] for e in tours} == {"auto", "approval"}
    for e in events:
        assert e["title"] and e["description"]
        host_kind = org_kind[e["host"]]
        if e["kind"] in ("factory_tour", "open_day"):
            assert host_kind == "firm"
        elif e["kind"] == "parents_evening":
            assert host_kind == "school" and e["booking_mode"] == "auto"
        else:
            assert host_kind == "network"
        if e["kind"] == "teacher_training":
            assert e["visibility"] == "network"
        if e["kind"] == "factory_tour":
            assert set(e["grades"]) <= {7, 8, 9, 10}

    # Slots: never overbooked, held matches the bookings, tours on school days
    slots = await Slot.select()
    bookings = await Booking.select()
    await _check_places(slots, bookings)
    event_of = {e["id"]: e for e in events}
    tour_slots: defaultdict[int, list[dict]] = defaultdict(list)
    for s in slots:
        if event_of[s["event"]]["kind"] == "factory_tour":
            _check_tour_slot(s)
            tour_slots[s["event"]].append(s)
    assert set(tour_slots) == {e["id"] for e in tours}
    # 3-8 slots of their own, plus the three times on each class day at some firms.
    assert all(3 <= len(v) <= 8 + CLASS_DAYS * len(TOUR_TIMES) for v in tour_slots.values())
    open_days = [s for s in slots if event_of[s["event"]]["kind"] == "open_day"]
    assert open_days and all(s["capacity"] >= 100 for s in open_days)

    # Bookings of every status; class visits in the past (reports) and the future
    assert {b["status"] for b in bookings} == STATUSES
    assert Counter(b["status"] for b in bookings)["waitlisted"] == 1
    slot_of = {s["id"]: s for s in slots}
    visits = [b for b in bookings if b["kind"] == "class_visit"]
    assert len({b["school"] for b in visits}) >= 5
    for b in visits:
        assert re.fullmatch(r"(\d{1,2})[a-e]", b["class_label"]), b
        assert int(b["class_label"][:-1]) == b["grade"]
        assert b["grade"] in event_of[b["event"]]["grades"]
        assert 9 <= b["pupils"] <= 28 and 1 <= b["adults"] <= 2, b
        assert b["persons"] == b["pupils"] + b["adults"]
        assert org_kind[b["school"]] == "school"
    past = [
        b for b in visits if b["status"] == "confirmed" and slot_of[b["slot"]]["starts_at"] < NOW
    ]
    future = [b for b in visits if slot_of[b["slot"]]["starts_at"] > NOW]
    assert len(past) >= 20 and len(future) >= 10
    assert all(
        b["status"] in ("confirmed", "cancelled")
        for b in bookings
        if slot_of[b["slot"]]["starts_at"] < NOW
    )
    waiting = next(b for b in bookings if b["status"] == "waitlisted")
    waiting_slot = slot_of[waiting["slot"]]
    assert waiting_slot["held"] + waiting["persons"] > waiting_slot["capacity"]
    assert all(
        event_of[b["event"]]["booking_mode"] == "approval"
        for b in bookings
        if b["status"] in ("pending", "declined")
    )
    registrations = [b for b in bookings if b["kind"] == "registration"]
    for b in registrations:
        assert b["contact_name"] and b["contact_email"].endswith(".example"), b
        if event_of[b["event"]]["kind"] == "open_day":
            assert 1 <= b["persons"] <= 4
    assert {event_of[b["event"]]["kind"] for b in registrations} == {
        "open_day",
        "parents_evening",
        "teacher_training",
    }
    cancelled_event = next(e for e in events if e["status"] == "cancelled")
    assert all(b["status"] == "cancelled" for b in bookings if b["event"] == cancelled_event["id"])

    # The invented history is recorded in the outbox, never mailed.
    notices = await Notification.select(Notification.status, Notification.last_error)
    assert notices and all(
        n["status"] == "sent" and n["last_error"].startswith("skipped:") for n in notices
    )

    await _internships_are_there()

    # A second run finds the network office and writes nothing
    counts = await _row_counts()
    assert await load_demo(now=NOW) == ALREADY_LOADED
    assert await load_demo() == ALREADY_LOADED
    assert await load_demo_if_empty(now=NOW) is None
    assert await _row_counts() == counts


async def _internships_are_there() -> None:
    """Offers of the demo firms, two schools' class periods, wishes of two classes, one
    confirmed round with placements and reasons (first names and codes only)."""
    offers = await InternshipOffer.select(
        InternshipOffer.occupation,
        InternshipOffer.status,
        InternshipOffer.host.slug.as_alias("host"),
    )
    assert len(offers) == 6 and {o["status"] for o in offers} == {"published"}
    assert {"Uhrmacher/in", "Feinwerkmechaniker/in", "Zerspanungsmechaniker/in"} <= {
        o["occupation"] for o in offers
    }
    assert {o["host"] for o in offers} <= {f.slug for f in FIRMS if f.internships}
    classes = await ClassPeriod.select(
        ClassPeriod.class_label, ClassPeriod.school.slug.as_alias("school")
    )
    assert len({c["school"] for c in classes}) == 2 and len(classes) == 3
    pupils = await Pupil.select(Pupil.class_period, Pupil.first_name, Pupil.code)
    assert len({p["class_period"] for p in pupils}) == 2 and len(pupils) == 26
    assert all(" " not in p["first_name"] for p in pupils)  # a first name, no surname
    assert await Wish.count() > 40
    [the_round] = await Round.select(Round.status, Round.classes)
    assert the_round["status"] == "confirmed" and len(the_round["classes"]) == 2
    outcomes = await Placement.select(Placement.status, Placement.reason)
    assert len(outcomes) == 26
    reasons = Counter(o["reason"] for o in outcomes)
    assert reasons["first_wish"] > 10 and reasons["no_wishes"] == 2
    assert Counter(o["status"] for o in outcomes)["placed"] >= 12  # of 15 places


async def test_load_demo_if_empty_leaves_a_used_database_alone(db: str) -> None:
    await create_organisation(OrganisationIn(kind="school", slug="os-test", name="Oberschule Test"))
    assert await load_demo_if_empty() is None
    assert await Organisation.count() == 1
    assert await Event.count() == 0 and await User.count() == 0


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # calendar logic, not storage
@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 8, 3, 6, 0, tzinfo=UTC),  # first days of the school year, in holidays
        datetime(2027, 7, 20, 21, 30, tzinfo=UTC),  # last days, in the summer holidays
    ],
    ids=["august", "july"],
)
async def test_demo_looks_alive_whenever_it_is_loaded(db: str, now: datetime) -> None:
    summary = await load_demo(now=now)
    assert summary.startswith("demo network: 18 firms, 10 schools, ")
    slots = await Slot.select(Slot.all_columns(), Slot.event.kind, Slot.event.status)
    bookings = await Booking.select()
    await _check_places(slots, bookings)
    today = local(now).date()
    tours = [s for s in slots if s["event.kind"] == "factory_tour"]
    for s in tours:
        _check_tour_slot(s)
    bookable = [
        s
        for s in tours
        if s["event.status"] == "published"
        and s["starts_at"] - now > timedelta(hours=48)
        and s["capacity"] - s["held"] >= 19
    ]
    assert len(bookable) >= 15
    assert min(local(s["starts_at"]).date() for s in bookable) - today < timedelta(days=60)
    starts = {s["id"]: s["starts_at"] for s in slots}
    past = [
        b
        for b in bookings
        if b["kind"] == "class_visit" and b["status"] == "confirmed" and starts[b["slot"]] < now
    ]
    assert len(past) >= 10
    assert {b["status"] for b in bookings} == STATUSES


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_a_teacher_plans_and_books_a_three_firm_day_on_the_demo(db: str) -> None:
    """Issue 7's "done when": a class of 24 with 2 adults, three firms, one day, booked."""
    from outreach.accounts.services import principal_for
    from outreach.itineraries.planning import plan_day
    from outreach.itineraries.schemas import ItineraryIn, PlanRequest
    from outreach.itineraries.writes import book_itinerary

    await load_demo(now=NOW)
    teacher = (
        await User.objects().where(User.email == "katrin.boehme@os-glashuette.example").first()
    )
    by = principal_for(teacher)
    first_day = local(NOW).date() + timedelta(days=14)
    plan = await plan_day(
        PlanRequest(
            grade=8,
            pupils=24,
            adults=2,
            dates=[first_day + timedelta(days=i) for i in range(14)],
            max_visits=3,
            min_visits=3,
            lunch_minutes=30,
        ),
        by=by,
        now=NOW,
    )
    assert plan.proposals, plan.explanation
    best = plan.proposals[0]
    assert len({v.host for v in best.visits}) == 3
    booked = await book_itinerary(
        ItineraryIn(
            slot_ids=[v.slot_id for v in best.visits],
            class_label="8a",
            grade=8,
            pupils=24,
            adults=2,
        ),
        by=by,
        now=NOW,
    )
    assert len(booked.itinerary.bookings) == 3
