"""The booking engine's rules, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.booking.cascades import anonymise_ended_bookings
from outreach.booking.links import cancel_by_link, get_booking_by_link, reconfirm_by_link
from outreach.booking.queries import get_booking, list_bookings
from outreach.booking.schemas import BookingRequest
from outreach.booking.tables import Booking, IdempotencyRecord
from outreach.booking.writes import (
    cancel_booking,
    confirm_booking,
    decline_booking,
    place_booking,
    place_many,
)
from outreach.calendar.holidays import closure_on
from outreach.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorised
from outreach.events import services as events
from outreach.events.schemas import SlotPatch
from outreach.events.tables import Slot
from outreach.organisations.tables import Organisation
from outreach.outbox.tables import Notification
from outreach.principal import ANONYMOUS
from outreach.timeutil import LOCAL_TZ, utcnow
from tests.factories import (
    at,
    class_visit,
    make_event,
    make_slot,
    make_world,
    registration,
    school_day,
)


async def held_and_sum(slot_id: int) -> tuple[int, int, int]:
    slot = await Slot.select(Slot.held, Slot.capacity).where(Slot.id == slot_id).first()
    rows = await Booking.select(Booking.persons).where(
        (Booking.slot == slot_id) & Booking.status.is_in(["pending", "confirmed"])
    )
    return slot["held"], sum(r["persons"] for r in rows), slot["capacity"]


async def assert_invariant(slot_id: int) -> None:
    held, booked, capacity = await held_and_sum(slot_id)
    assert held == booked <= capacity


@pytest.fixture
async def world(db):
    return await make_world()


async def test_auto_mode_confirms_and_holds_places(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event, capacity=30)
    placed = await place_booking(slot, class_visit(pupils=20, adults=2), by=world.school_a)
    assert placed.booking.status == "confirmed"
    assert placed.booking.persons == 22
    assert placed.booking.school == "school-a"
    assert await held_and_sum(slot) == (22, 22, 30)


async def test_approval_mode_is_pending_until_host_decides(world):
    event = await make_event(world.firm_a, booking_mode="approval")
    slot = await make_slot(world.firm_a, event, capacity=30)
    placed = await place_booking(slot, class_visit(pupils=10, adults=1), by=world.school_a)
    assert placed.booking.status == "pending"
    assert (await held_and_sum(slot))[0] == 11  # pending holds its places
    with pytest.raises(Forbidden):
        await confirm_booking(placed.booking.id, by=world.school_a)
    with pytest.raises(NotFound):  # another firm does not even learn it exists
        await confirm_booking(placed.booking.id, by=world.firm_b)
    confirmed = await confirm_booking(placed.booking.id, by=world.firm_a)
    assert confirmed.status == "confirmed"
    with pytest.raises(Conflict):
        await confirm_booking(placed.booking.id, by=world.firm_a)


async def test_decline_frees_places_and_promotes_the_first_waiting_that_fits(world):
    event = await make_event(world.firm_a, booking_mode="approval")
    slot = await make_slot(world.firm_a, event, capacity=30)
    first = await place_booking(slot, class_visit("8a", 20, 2), by=world.school_a)
    big = await place_booking(slot, class_visit("9a", 25, 2), by=world.school_b)
    small = await place_booking(slot, class_visit("9b", 6, 1), by=world.school_b)
    later = await place_booking(slot, class_visit("7c", 7, 1), by=world.school_a)
    assert [p.booking.status for p in (first, big, small, later)] == [
        "pending",
        "waitlisted",
        "pending",
        "waitlisted",
    ]
    assert big.booking.waitlist_position == 1 and later.booking.waitlist_position == 2
    await decline_booking(first.booking.id, "no room that day", by=world.firm_a)
    statuses = {b.id: b.status for b in await list_bookings(by=world.admin)}
    assert statuses[first.booking.id] == "declined"
    # 23 places free: the 27 waiting first do not fit, so the next waiting class that fits
    # (8 persons) moves up; the 27 keep their place at the head of the list.
    assert statuses[big.booking.id] == "waitlisted"
    assert statuses[later.booking.id] == "pending"
    await assert_invariant(slot)
    kinds = [
        n["kind"]
        for n in await Notification.select(Notification.kind).where(
            Notification.booking == later.booking.id
        )
    ]
    assert "booking.promoted" in kinds
    assert (await get_booking(big.booking.id, by=world.admin)).waitlist_position == 1


async def test_full_without_waitlist_is_refused_and_changes_nothing(world):
    event = await make_event(world.firm_a, waitlist=False)
    slot = await make_slot(world.firm_a, event, capacity=25)
    await place_booking(slot, class_visit("8a", 20, 2), by=world.school_a)
    before = await Booking.count()
    with pytest.raises(Conflict) as refused:
        await place_booking(slot, class_visit("8b", 5, 1), by=world.school_a)
    assert refused.value.reason == "full"
    assert "3 free places" in refused.value.message
    assert await Booking.count() == before
    await assert_invariant(slot)


async def test_cancel_by_booker_promotes_and_tells_the_host(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event, capacity=30)
    first = await place_booking(slot, class_visit("8a", 20, 2), by=world.school_a)
    waiting = await place_booking(slot, class_visit("8b", 20, 2), by=world.school_b)
    assert waiting.booking.status == "waitlisted"
    with pytest.raises(NotFound):  # another school cannot touch it
        await cancel_booking(first.booking.id, "", by=world.school_b)
    cancelled = await cancel_booking(first.booking.id, "bus strike", by=world.teacher_a2)
    assert cancelled.status == "cancelled" and cancelled.reason == "bus strike"
    promoted = await get_booking(waiting.booking.id, by=world.school_b)
    assert promoted.status == "confirmed"
    await assert_invariant(slot)
    host = (
        await Organisation.select(Organisation.contact_email)
        .where(Organisation.slug == "firm-a")
        .first()
    )
    host_kinds = [
        n["kind"]
        for n in await Notification.select(Notification.kind).where(
            Notification.recipient == host["contact_email"]
        )
    ]
    assert host_kinds.count("host.booking_received") == 2
    assert host_kinds.count("host.booking_cancelled") == 1
    with pytest.raises(Conflict):
        await cancel_booking(first.booking.id, "again", by=world.school_a)


async def test_capacity_raise_promotes_and_lowering_below_booked_is_refused(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event, capacity=20)
    await place_booking(slot, class_visit("8a", 15, 1), by=world.school_a)
    waiting = await place_booking(slot, class_visit("8b", 10, 1), by=world.school_b)
    assert waiting.booking.status == "waitlisted"
    with pytest.raises(Conflict) as refused:
        await events.update_slot(slot, SlotPatch(capacity=10), by=world.firm_a)
    assert refused.value.field == "capacity"
    await events.update_slot(slot, SlotPatch(capacity=30), by=world.firm_a)
    assert (await get_booking(waiting.booking.id, by=world.school_b)).status == "confirmed"
    await assert_invariant(slot)


async def test_class_cannot_be_in_two_overlapping_slots(world):
    day = school_day()
    e1 = await make_event(world.firm_a)
    e2 = await make_event(world.firm_b)
    s1 = await make_slot(world.firm_a, e1, starts_at=at(day, 9))
    s2 = await make_slot(world.firm_b, e2, starts_at=at(day, 10))  # overlaps 9:00-10:30
    s3 = await make_slot(world.firm_b, e2, starts_at=at(day, 10, 30))  # touches, no overlap
    await place_booking(s1, class_visit("8a"), by=world.school_a)
    with pytest.raises(Conflict) as clash:
        await place_booking(s2, class_visit(" 8A "), by=world.teacher_a2)
    assert clash.value.reason == "class_conflict" and clash.value.field == "class_label"
    # Another class of the same school, and the same label at another school, are fine.
    assert (await place_booking(s2, class_visit("8b"), by=world.school_a)).booking.id
    assert (await place_booking(s2, class_visit("8a"), by=world.school_b)).booking.id
    assert (await place_booking(s3, class_visit("8a"), by=world.school_a)).booking.id


async def test_class_visits_refused_on_holidays_but_hosts_may_schedule_them(world):
    event = await make_event(world.firm_a, kind="open_day")
    # The next weekday that is a Saxon public or school holiday.
    holiday = utcnow().astimezone(LOCAL_TZ).date() + timedelta(days=3)
    while holiday.weekday() >= 5 or closure_on(holiday) is None:
        holiday += timedelta(days=1)
    slot = await make_slot(world.firm_a, event, starts_at=at(holiday, 10), capacity=100)
    with pytest.raises(Conflict) as refused:
        await place_booking(slot, class_visit(), by=world.school_a)
    assert refused.value.reason in ("public_holiday", "school_holiday")
    assert (
        str(holiday.year) in refused.value.message
        or holiday.strftime("%d.%m") in refused.value.message
    )
    # A family may still register for the open day on that date.
    placed = await place_booking(slot, registration(3), by=ANONYMOUS)
    # Held (pending) until the family confirms its address; see test_registration_confirm.
    assert placed.booking.status == "pending" and placed.booking.verify_by is not None


async def test_booking_window_and_party_size(world):
    event = await make_event(world.firm_a)
    starts = at(school_day(), 9)
    slot = await make_slot(world.firm_a, event, starts_at=starts, min_party=5, max_party=28)
    too_late = starts - timedelta(hours=47)
    with pytest.raises(Conflict) as closed:
        await place_booking(slot, class_visit(), by=world.school_a, now=too_late)
    assert closed.value.reason == "window_closed"
    with pytest.raises(Invalid) as small:
        await place_booking(slot, class_visit(pupils=3, adults=1), by=world.school_a)
    assert small.value.field == "pupils" and "at least 5" in small.value.message
    with pytest.raises(Invalid) as big:
        await place_booking(slot, class_visit(pupils=28, adults=2), by=world.school_a)
    assert "at most 28" in big.value.message
    assert await Booking.count() == 0


async def test_input_errors_name_the_field(world):
    event = await make_event(world.firm_a, grades=[8, 9])
    slot = await make_slot(world.firm_a, event)
    cases = [
        (BookingRequest(class_label="8a", grade=8, pupils=20), "adults"),
        (BookingRequest(class_label="8a", grade=7, pupils=20, adults=1), "grade"),
        (BookingRequest(class_label="  ", grade=8, pupils=20, adults=1), "class_label"),
        (BookingRequest(class_label="8a", grade=8, pupils=20, adults=1, name="x"), "name"),
        (
            BookingRequest(class_label="8a", grade=8, pupils=20, adults=1, contact_email="nope"),
            "contact_email",
        ),
    ]
    for request, field in cases:
        with pytest.raises(Invalid) as err:
            await place_booking(slot, request, by=world.school_a)
        assert err.value.field == field, request
    with pytest.raises(NotFound):
        await place_booking(999_999, class_visit(), by=world.school_a)
    assert await Booking.count() == 0


async def test_who_may_book_what(world):
    tour = await make_event(world.firm_a)
    tour_slot = await make_slot(world.firm_a, tour)
    with pytest.raises(Unauthorised):
        await place_booking(tour_slot, class_visit(), by=ANONYMOUS)
    with pytest.raises(Forbidden):
        await place_booking(tour_slot, class_visit(), by=world.firm_b)
    with pytest.raises(Invalid):  # a factory tour takes classes, not families
        await place_booking(tour_slot, registration(), by=ANONYMOUS)
    seminar = await make_event(world.firm_a, kind="teacher_training", visibility="network")
    seminar_slot = await make_slot(world.firm_a, seminar)
    with pytest.raises(NotFound):  # network events are invisible to the public
        await place_booking(seminar_slot, registration(1), by=ANONYMOUS)
    with pytest.raises(Forbidden):
        await place_booking(seminar_slot, registration(1), by=world.firm_b)
    placed = await place_booking(
        seminar_slot, BookingRequest(name="Frau Lehrerin", persons=1), by=world.school_a
    )
    assert placed.booking.contact_email == world.school_a.email
    draft = await make_event(world.firm_a, status="draft")
    draft_slot = await make_slot(world.firm_a, draft)
    with pytest.raises(NotFound):
        await place_booking(draft_slot, class_visit(), by=world.school_a)


async def test_isolation_of_bookings_between_firms_and_schools(world):
    ea = await make_event(world.firm_a)
    eb = await make_event(world.firm_b)
    sa = await make_slot(world.firm_a, ea)
    sb = await make_slot(world.firm_b, eb)
    a = await place_booking(sa, class_visit("8a"), by=world.school_a)
    b = await place_booking(sb, class_visit("8b"), by=world.school_b)
    assert [x.id for x in await list_bookings(by=world.firm_a)] == [a.booking.id]
    assert [x.id for x in await list_bookings(by=world.firm_b)] == [b.booking.id]
    assert [x.id for x in await list_bookings(by=world.school_a)] == [a.booking.id]
    assert [x.id for x in await list_bookings(by=world.teacher_a2)] == [a.booking.id]
    assert len(await list_bookings(by=world.admin)) == 2
    with pytest.raises(NotFound):
        await get_booking(b.booking.id, by=world.firm_a)
    with pytest.raises(NotFound):
        await get_booking(b.booking.id, by=world.school_a)
    with pytest.raises(Unauthorised):
        await list_bookings(by=ANONYMOUS)


async def test_idempotency_key_replays_and_refuses_another_body(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event)
    first = await place_booking(slot, class_visit(), by=world.school_a, key="k-1")
    again = await place_booking(slot, class_visit(), by=world.school_a, key="k-1")
    assert again.replayed and again.booking == first.booking
    assert await Booking.count() == 1
    with pytest.raises(Invalid) as reused:
        await place_booking(slot, class_visit(pupils=5), by=world.school_a, key="k-1")
    assert reused.value.field == "Idempotency-Key"
    # Keys are private to their sender: another teacher's "k-1" is a new request.
    other = await place_booking(slot, class_visit("9c"), by=world.school_b, key="k-1")
    assert not other.replayed
    assert await Booking.count() == 2
    # A refused request stores no key, so a retry is judged afresh.
    with pytest.raises(Invalid):
        await place_booking(slot, class_visit(pupils=0), by=world.school_a, key="k-2")
    assert await IdempotencyRecord.count() == 2


async def test_place_many_is_all_or_nothing(world):
    day = school_day()
    e1, e2 = await make_event(world.firm_a), await make_event(world.firm_b, waitlist=True)
    s1 = await make_slot(world.firm_a, e1, starts_at=at(day, 9))
    s2 = await make_slot(world.firm_b, e2, starts_at=at(day, 11), capacity=30)
    await place_booking(s2, class_visit("9z", 20, 1), by=world.school_b)
    with pytest.raises(Conflict) as full:
        await place_many([s1, s2], class_visit("8a", 20, 2), by=world.school_a)
    assert full.value.reason == "full"  # no waiting list inside an itinerary
    assert await Booking.count() == 1 and (await held_and_sum(s1))[0] == 0
    s3 = await make_slot(world.firm_b, e2, starts_at=at(day, 11), capacity=30)
    placed = await place_many([s1, s3], class_visit("8a", 20, 2), by=world.school_a)
    assert [b.status for b in placed.bookings] == ["confirmed", "confirmed"]
    s4 = await make_slot(world.firm_b, e2, starts_at=at(day, 9, 30), capacity=30)
    with pytest.raises(Conflict):  # the class cannot be in two places at once
        await place_many([s4], class_visit("8a", 20, 2), by=world.school_a)


async def test_event_cancel_cancels_every_booking_and_frees_places(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event, capacity=25)
    a = await place_booking(slot, class_visit("8a", 20, 2), by=world.school_a)
    w = await place_booking(slot, class_visit("8b", 20, 2), by=world.school_b)
    with pytest.raises(Forbidden):
        await events.cancel_event(event, "storm", by=world.firm_b)
    await events.cancel_event(event, "storm damage", by=world.firm_a)
    for placed in (a, w):
        assert (await get_booking(placed.booking.id, by=world.admin)).status == "cancelled"
    assert (await held_and_sum(slot))[0] == 0
    kinds = [n["kind"] for n in await Notification.select(Notification.kind)]
    assert kinds.count("event.cancelled") == 2


async def test_moving_a_slot_tells_its_bookers_and_raises_sequence(world):
    event = await make_event(world.firm_a)
    day = school_day()
    slot = await make_slot(world.firm_a, event, starts_at=at(day, 9))
    placed = await place_booking(slot, class_visit(), by=world.school_a)
    await events.update_slot(
        slot, SlotPatch(starts_at=at(day, 13), ends_at=at(day, 14, 30)), by=world.firm_a
    )
    row = await Slot.select(Slot.sequence, Slot.starts_at).where(Slot.id == slot).first()
    assert row["sequence"] == 1 and row["starts_at"] == at(day, 13)
    moved = await Notification.select().where(
        (Notification.booking == placed.booking.id) & (Notification.kind == "slot.moved")
    )
    assert len(moved) == 1


async def test_reminder_link_reconfirms_or_cancels_without_signing_in(world, settings):
    from outreach.links import respond_token

    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event, capacity=30)
    first = await place_booking(slot, class_visit("8a", 20, 2), by=world.school_a)
    waiting = await place_booking(slot, class_visit("8b", 20, 2), by=world.school_b)
    token = respond_token(settings, first.booking.id)
    with pytest.raises(NotFound):  # a wrong or foreign token looks like no booking
        await get_booking_by_link(first.booking.id, respond_token(settings, 999))
    shown = await get_booking_by_link(first.booking.id, token)
    assert shown.reconfirmed_at is None  # looking changes nothing
    kept = await reconfirm_by_link(first.booking.id, token)
    assert kept.reconfirmed_at is not None
    again = await reconfirm_by_link(first.booking.id, token)
    assert again.reconfirmed_at == kept.reconfirmed_at
    with pytest.raises(NotFound):
        await cancel_by_link(first.booking.id, "x" + token[1:], "")
    cancelled = await cancel_by_link(first.booking.id, token, "Klasse krank")
    assert cancelled.status == "cancelled"
    assert (await get_booking(waiting.booking.id, by=world.admin)).status == "confirmed"
    with pytest.raises(Conflict):
        await reconfirm_by_link(first.booking.id, token)
    await assert_invariant(slot)


async def test_bookings_are_anonymised_a_year_after_the_visit(world):
    event = await make_event(world.firm_a)
    day = school_day()
    slot = await make_slot(world.firm_a, event, starts_at=at(day, 9))
    later = await make_slot(world.firm_a, event, starts_at=at(school_day(60, start=day), 9))
    old = await place_booking(
        slot,
        BookingRequest(
            class_label="8a",
            grade=8,
            pupils=20,
            adults=2,
            contact_name="Frau Beispiel",
            contact_email="t@school.example",
            notes="Rollstuhl",
        ),
        by=world.school_a,
    )
    recent = await place_booking(later, class_visit("9a"), by=world.school_a)
    visit_end = at(day, 10, 30)
    assert await anonymise_ended_bookings(now=visit_end + timedelta(days=364)) == 0
    assert await anonymise_ended_bookings(now=visit_end + timedelta(days=366)) == 1
    gone = await get_booking(old.booking.id, by=world.admin)
    assert (gone.contact_name, gone.contact_email, gone.notes) == ("", "", "")
    assert (gone.pupils, gone.adults, gone.grade, gone.school, gone.status) == (
        20,
        2,
        8,
        "school-a",
        "confirmed",
    )  # the counts stay for the reports
    kept = await get_booking(recent.booking.id, by=world.admin)
    assert kept.contact_email == world.school_a.email
    # The outbox forgets the address too: the old booking's notices keep no recipient,
    # the recent one's keep theirs.
    old_notices = await Notification.select(Notification.recipient, Notification.status).where(
        Notification.booking == old.booking.id
    )
    assert "t@school.example" not in {n["recipient"] for n in old_notices}
    blanked = [n for n in old_notices if n["recipient"] == ""]
    assert blanked and all(n["status"] == "sent" for n in blanked)
    recent_notices = await Notification.select(Notification.recipient).where(
        Notification.booking == recent.booking.id
    )
    assert world.school_a.email in {n["recipient"] for n in recent_notices}
    assert await anonymise_ended_bookings(now=visit_end + timedelta(days=400)) == 0
