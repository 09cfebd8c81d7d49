"""Recording who came, and the reminder to hosts who have not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.booking.attendance import (
    ATTENDANCE_SLACK,
    ask_hosts_for_attendance,
    record_attendance,
    record_many,
)
from outreach.booking.tables import Booking
from outreach.booking.writes import place_booking
from outreach.errors import Conflict, Invalid, NotFound
from outreach.notifications import services as notifications
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.factories import class_visit, make_event, make_slot
from tests.workplan.world import build_report_world


@pytest.fixture
async def rw(db):
    return await build_report_world()


async def test_the_host_and_the_office_record_and_correct(rw):
    w, b = rw.world, rw.bookings
    done = await record_attendance(b["SA1"], 19, by=w.firm_a)
    assert (done.persons, done.attended) == (22, 19)
    await record_attendance(b["SA1"], 22 + ATTENDANCE_SLACK, by=w.admin)
    row = await Booking.objects().where(Booking.id == b["SA1"]).first()
    assert row.attended == 27 and row.attendance_recorded_at is not None


async def test_others_may_not_record(rw):
    w, b = rw.world, rw.bookings
    for stranger in (w.firm_b, w.school_a, w.school_b):
        with pytest.raises(NotFound):
            await record_attendance(b["SA3"], 5, by=stranger)
    row = await Booking.objects().where(Booking.id == b["SA3"]).first()
    assert row.attended is None


async def test_rules_name_the_field(rw):
    w, b = rw.world, rw.bookings
    with pytest.raises(Invalid) as too_many:
        await record_attendance(b["SA3"], 20 + ATTENDANCE_SLACK + 1, by=w.firm_a)
    assert too_many.value.field == "attended"
    with pytest.raises(Invalid) as negative:
        await record_attendance(b["SA3"], -1, by=w.firm_a)
    assert negative.value.field == "attended"
    with pytest.raises(Conflict) as early:
        await record_attendance(b["SB2"], 5, by=w.firm_b)  # the slot has not begun
    assert early.value.reason == "not_started"
    # After the slot begins it works.
    slot_start = (await Booking.select(Booking.slot.starts_at).where(Booking.id == b["SB2"]))[0]
    later = slot_start["slot.starts_at"] + timedelta(minutes=1)
    assert (await record_attendance(b["SB2"], 11, by=w.firm_b, now=later)).attended == 11


async def test_only_confirmed_bookings_and_all_or_nothing(rw):
    w, b = rw.world, rw.bookings
    event = await make_event(w.firm_a, booking_mode="approval")
    slot = await make_slot(w.firm_a, event)
    pending = (await place_booking(slot, class_visit("10a"), by=w.school_a)).booking
    assert pending.status == "pending"
    after = pending.starts_at + timedelta(hours=1)
    with pytest.raises(Conflict) as refused:
        await record_attendance(pending.id, 5, by=w.firm_a, now=after)
    assert refused.value.field == "status"
    with pytest.raises(Conflict):
        await record_many({b["SA3"]: 20, pending.id: 5}, by=w.firm_a, now=after)
    row = await Booking.objects().where(Booking.id == b["SA3"]).first()
    assert row.attended is None, "one refused entry leaves the others unrecorded"


async def test_hosts_are_asked_once_per_slot_three_days_after(rw):
    w, b = rw.world, rw.bookings
    slot_end = (await Booking.select(Booking.slot.ends_at).where(Booking.id == b["SA3"]))[0][
        "slot.ends_at"
    ]
    # Earlier than three days after the slot: nothing yet.
    assert await ask_hosts_for_attendance(slot_end + timedelta(days=2, hours=23)) == 0
    assert await ask_hosts_for_attendance(utcnow()) == 1  # SA3 only; firm A has one user
    assert await ask_hosts_for_attendance(utcnow()) == 0
    rows = await Notification.select().where(Notification.kind == "host.attendance_missing")
    assert [(r["recipient"], r["booking"]) for r in rows] == [(w.firm_a.email, b["SA3"])]
    assert await notifications.deliver(rows[0]["id"]) == "sent"
    # Once recorded, a slot is not asked about again (new dedupe keys would not matter).
    await Notification.delete().where(Notification.kind == "host.attendance_missing")
    await record_attendance(b["SA3"], 20, by=w.firm_a)
    assert await ask_hosts_for_attendance(utcnow()) == 0


async def test_the_scheduler_tick_asks_at_most_hourly(rw, monkeypatch):
    from workers import scheduler

    monkeypatch.setattr(scheduler, "_last_run", {})
    await scheduler._ask_for_attendance()
    kind = Notification.kind == "host.attendance_missing"
    assert await Notification.count().where(kind) == 1
    await Notification.delete().where(kind)
    await scheduler._ask_for_attendance()  # within the hour: not asked again
    assert await Notification.count().where(kind) == 0
