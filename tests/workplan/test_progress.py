"""The work plan's progress at its edges, counted by hand: every metric, a school's and a
firm's own scope beside the network's, cancelled bookings, slots and events, no-shows,
bookings without attendance, and due days that end at midnight in Europe/Berlin (not UTC).

The hand-counted world (tests/workplan/world.py) plus rows written directly, at instants
after the real today: the plan is read at NOW, after all of them. Its future booking SB2
is cancelled, so that what counts does not depend on the day the test runs.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from outreach.booking.tables import Booking
from outreach.events.tables import Event, Slot
from outreach.timeutil import LOCAL_TZ, as_utc
from outreach.workplan import services
from outreach.workplan.schemas import MilestoneIn, WorkPlanIn
from tests.factories import at, make_org
from tests.workplan.world import build_report_world

YEAR = "2026/27"
NOW = datetime(2027, 7, 20, 12, tzinfo=LOCAL_TZ)


@pytest.fixture
async def rw(db):
    return await build_report_world()


async def _event(host: int, kind: str, status: str = "published") -> int:
    row = Event(
        host=host,
        kind=kind,
        title=f"{kind} {host}",
        grades=[8, 9],
        audience=[],
        topics=[],
        reminder_days=[],
        status=status,
        booking_mode="auto",
    )
    await row.save()
    return row.id


async def _slot(event: int, starts_at: datetime, *, cancelled: bool = False) -> int:
    row = Slot(
        event=event,
        starts_at=as_utc(starts_at),
        ends_at=as_utc(starts_at),
        capacity=60,
        held=0,
        cancelled=cancelled,
    )
    await row.save()
    return row.id


async def _visit(slot: int, event: int, school: int, pupils: int, adults: int, **more) -> None:
    await Booking(
        slot=slot,
        event=event,
        kind="class_visit",
        status=more.pop("status", "confirmed"),
        persons=pupils + adults,
        school=school,
        class_label="7x",
        grade=7,
        pupils=pupils,
        adults=adults,
        **more,
    ).save()


async def _registration(slot: int, event: int, persons: int, attended: int | None) -> None:
    await Booking(
        slot=slot,
        event=event,
        kind="registration",
        status="confirmed",
        persons=persons,
        attended=attended,
    ).save()


async def test_progress_at_the_edges(rw):
    w = rw.world
    firm_b, school_a, school_b = w.firm_b.org_id, w.school_a.org_id, w.school_b.org_id
    school_c = await make_org("school", slug="school-c")
    await Booking.update({Booking.status: "cancelled"}).where(Booking.id == rw.bookings["SB2"])

    # Firm B's tour around the end of 31 March 2027 in Berlin (CEST: 21:30 and 22:30 UTC,
    # both on the 31st in UTC).
    late = await _slot(rw.tour_b, at(date(2027, 3, 31), 23, 30))
    await _visit(late, rw.tour_b, school_a, 10, 1, attended=11)
    await _visit(late, rw.tour_b, school_c, 14, 1)  # no attendance recorded: expected
    await _visit(late, rw.tour_b, school_b, 30, 2, status="cancelled")
    early = await _slot(rw.tour_b, at(date(2027, 4, 1), 0, 30))
    await _visit(early, rw.tour_b, school_a, 12, 1, attended=13)
    # Never counted: a cancelled slot, a cancelled event.
    gone = await _slot(rw.tour_b, at(date(2027, 2, 10), 10), cancelled=True)
    await _visit(gone, rw.tour_b, school_b, 9, 1, attended=10)
    dropped = await _event(firm_b, "factory_tour", status="cancelled")
    await _visit(await _slot(dropped, at(date(2027, 1, 25), 10)), dropped, school_a, 8, 1)
    # Registrations: firm B's open day, school A's parents' evening.
    open_day = await _event(firm_b, "open_day")
    open_slot = await _slot(open_day, at(date(2027, 1, 16), 10))
    await _registration(open_slot, open_day, 3, 2)
    await _registration(open_slot, open_day, 4, None)
    evening = await _event(school_a, "parents_evening")
    await _registration(await _slot(evening, at(date(2027, 1, 20), 18)), evening, 5, 5)

    plan_id = await services.create_plan(WorkPlanIn(school_year=YEAR, title="Plan"), by=w.admin)
    specs = {
        "B pupils to 31 March": ("firm-b", "pupils", date(2027, 3, 31), 30),
        "B pupils to 1 April": ("firm-b", "pupils", date(2027, 4, 1), 30),
        "B schools to 31 March": ("firm-b", "schools", date(2027, 3, 31), 3),
        "A classes": ("school-a", "class_visits", date(2027, 7, 31), 4),
        "A pupils": ("school-a", "pupils", date(2027, 7, 31), 40),
        "A parents": ("school-a", "parents_evening_attendance", date(2027, 7, 31), 5),
        "B seminar": ("school-b", "seminar_participants", date(2027, 7, 31), 3),
        "B classes": ("school-b", "class_visits", date(2027, 7, 31), 2),
        "open day": (None, "open_day_visitors", date(2027, 7, 31), 10),
        "schools": (None, "schools", date(2027, 7, 31), 2),
    }
    for title, (owner, metric, due_on, target) in specs.items():
        spec = MilestoneIn(title=title, due_on=due_on, metric=metric, target=target, owner=owner)
        await services.add_milestone(plan_id, spec, by=w.admin)

    def seen(plan) -> dict[str, tuple]:
        return {m.title: (m.actual, m.expected, m.percent, m.status) for m in plan.milestones}

    office = seen(await services.get_plan(plan_id, by=w.admin, now=NOW))
    assert office == {
        # SB1 15 + late 10; early (00:30 on 1 April in Berlin) not yet; school C's 14 apart.
        "B pupils to 31 March": (25, 14, 83.3, "missed"),
        "B pupils to 1 April": (37, 14, 123.3, "achieved"),
        # Schools B (SB1) and A (late) reached; C only booked.
        "B schools to 31 March": (2, 1, 66.7, "missed"),
        # SA1, late, early held; SA3 without attendance; the cancelled event's visit not.
        "A classes": (3, 1, 75.0, "open"),
        "A pupils": (19 + 10 + 12, 18, 102.5, "achieved"),
        # School A's own event.
        "A parents": (5, 0, 100.0, "achieved"),
        # School B's teachers at firm A's seminar.
        "B seminar": (2, 0, 66.7, "open"),
        # SB1 held; SA2 was a no-show; the cancelled slot's and booking's visits not.
        "B classes": (1, 0, 50.0, "open"),
        "open day": (2, 4, 20.0, "open"),
        # A and B reached; C only booked (expected, apart).
        "schools": (2, 1, 100.0, "achieved"),
    }
    # A member sees its own and the network's milestones, with the office's figures.
    firm = seen(await services.get_plan(plan_id, by=w.firm_b, now=NOW))
    assert set(firm) == {
        "B pupils to 31 March",
        "B pupils to 1 April",
        "B schools to 31 March",
        "open day",
        "schools",
    }
    assert all(firm[t] == office[t] for t in firm)
    school = seen(await services.get_plan(plan_id, by=w.school_a, now=NOW))
    assert set(school) == {"A classes", "A pupils", "A parents", "open day", "schools"}
    assert all(school[t] == office[t] for t in school)
    # Read on 31 March at noon: the late visit has not begun, nothing is missed yet.
    early_read = seen(await services.get_plan(plan_id, by=w.admin, now=at(date(2027, 3, 31), 12)))
    assert early_read["B pupils to 31 March"] == (15, 0, 50.0, "open")
