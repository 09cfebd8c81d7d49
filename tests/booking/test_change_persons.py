"""Changing a booking's party size: through the engine's one guard, told once.

More persons only if the slot has them free (409 `not_enough_places` with the free
count); fewer free places that go to the waiting list at once; the slot's limits
hold; the booker and the office may, the host and everyone else may not.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from outreach.booking import manage
from outreach.booking.schemas import PersonsIn
from outreach.booking.tables import Booking
from outreach.booking.writes import cancel_booking, place_booking
from outreach.config import set_settings
from outreach.errors import Conflict, Forbidden, Invalid, NotFound
from outreach.events.tables import Slot
from outreach.links import view_token
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.principal import ANONYMOUS
from outreach.timeutil import utcnow
from tests.factories import class_visit, make_event, make_slot, make_world, registration
from tests.support import bearer


@pytest.fixture(autouse=True)
def whole_slot_for_unconfirmed(settings):
    """The share unconfirmed registrations may hold is tested in
    tests/booking/test_places_bound.py; here they may hold the whole slot."""
    set_settings(dataclasses.replace(settings, unconfirmed_share_percent=100))
    yield
    set_settings(settings)


@pytest.fixture
async def world(db):
    outbox.set_dispatcher(None)  # the outbox rows are the record here
    return await make_world()


async def held(slot_id: int) -> int:
    return (await Slot.select(Slot.held).where(Slot.id == slot_id).first())["held"]


async def assert_exact(slot_id: int) -> None:
    """`held` is the sum of the holding bookings' persons, never above the capacity."""
    rows = await Booking.select(Booking.persons).where(
        (Booking.slot == slot_id) & Booking.status.is_in(["pending", "confirmed"])
    )
    slot = await Slot.select(Slot.held, Slot.capacity).where(Slot.id == slot_id).first()
    assert slot["held"] == sum(r["persons"] for r in rows) <= slot["capacity"]


async def kinds_of(booking_id: int) -> list[tuple[str, str]]:
    rows = (
        await Notification.select(Notification.kind, Notification.recipient)
        .where(Notification.booking == booking_id)
        .order_by(Notification.id)
    )
    return [(r["kind"], r["recipient"]) for r in rows]


async def status_of(booking_id: int) -> str:
    return (await Booking.select(Booking.status).where(Booking.id == booking_id).first())["status"]


async def test_a_class_visit_grows_into_free_places_and_host_and_booker_are_told(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event, capacity=30)
    placed = (
        await place_booking(slot, class_visit(pupils=20, adults=2), by=world.school_a)
    ).booking
    before = await kinds_of(placed.id)

    out = await manage.change_persons(placed.id, PersonsIn(pupils=24), by=world.school_a)

    assert (out.pupils, out.adults, out.persons, out.status) == (24, 2, 26, "confirmed")
    assert await held(slot) == 26
    await assert_exact(slot)
    new = (await kinds_of(placed.id))[len(before) :]
    assert [kind for kind, _ in new] == ["booking.changed", "host.booking_changed"]


async def test_more_persons_than_free_places_is_refused_with_the_free_count(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event, capacity=30)
    first = (await place_booking(slot, class_visit(pupils=20, adults=2), by=world.school_a)).booking
    await place_booking(slot, class_visit("9b", pupils=5, adults=1), by=world.school_b)
    before = await kinds_of(first.id)

    with pytest.raises(manage.NotEnoughPlaces) as refused:
        await manage.change_persons(first.id, PersonsIn(pupils=23), by=world.school_a)

    assert refused.value.params == {"free": 2}
    assert refused.value.field == "pupils"
    assert refused.value.to_dict()["params"] == {"free": 2}
    assert await held(slot) == 28
    row = (
        await Booking.select(Booking.pupils, Booking.persons).where(Booking.id == first.id).first()
    )
    assert row == {"pupils": 20, "persons": 22}
    assert await kinds_of(first.id) == before
    # Exactly the free places: taken.
    out = await manage.change_persons(first.id, PersonsIn(pupils=22), by=world.school_a)
    assert out.persons == 24 and await held(slot) == 30
    await assert_exact(slot)


async def test_fewer_persons_free_places_for_the_waiting_list_at_once(world):
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=6)
    family = (
        await place_booking(slot, registration(5, world.school_a.email), by=world.school_a)
    ).booking
    waiting = (
        await place_booking(slot, registration(3, world.school_b.email), by=world.school_b)
    ).booking
    assert waiting.status == "waitlisted"

    out = await manage.change_persons(family.id, PersonsIn(persons=2), by=world.school_a)

    assert out.persons == 2
    assert await status_of(waiting.id) == "confirmed"
    assert await held(slot) == 5
    await assert_exact(slot)
    assert ("booking.promoted", world.school_b.email) in await kinds_of(waiting.id)


async def test_a_waiting_booking_that_shrinks_to_fit_moves_up_with_one_mail(world):
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=6)
    await place_booking(slot, registration(4, world.school_a.email), by=world.school_a)
    waiting = (
        await place_booking(slot, registration(4, world.school_b.email), by=world.school_b)
    ).booking
    before = await kinds_of(waiting.id)

    out = await manage.change_persons(waiting.id, PersonsIn(persons=2), by=world.school_b)

    assert (out.status, out.persons) == ("confirmed", 2)
    await assert_exact(slot)
    new = [kind for kind, _ in (await kinds_of(waiting.id))[len(before) :]]
    # The promotion's mail tells the booker; the host hears of the change once.
    assert new == ["booking.promoted", "host.booking_changed"]


async def test_the_slot_limits_hold(world):
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=20, min_party=2, max_party=5)
    placed = (
        await place_booking(slot, registration(3, world.school_a.email), by=world.school_a)
    ).booking
    with pytest.raises(Invalid) as too_many:
        await manage.change_persons(placed.id, PersonsIn(persons=6), by=world.school_a)
    assert too_many.value.field == "persons"
    with pytest.raises(Invalid):
        await manage.change_persons(placed.id, PersonsIn(persons=1), by=world.school_a)
    assert await held(slot) == 3


async def test_the_fields_belong_to_the_kind_of_booking(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event)
    visit = (await place_booking(slot, class_visit(), by=world.school_a)).booking
    with pytest.raises(Invalid) as wrong:
        await manage.change_persons(visit.id, PersonsIn(persons=3), by=world.school_a)
    assert wrong.value.field == "persons"
    with pytest.raises(Invalid):
        await manage.change_persons(visit.id, PersonsIn(pupils=0), by=world.school_a)
    with pytest.raises(Invalid):
        await manage.change_persons(visit.id, PersonsIn(), by=world.school_a)


async def test_the_same_size_changes_nothing_and_tells_nobody(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event)
    visit = (await place_booking(slot, class_visit(), by=world.school_a)).booking
    before = await kinds_of(visit.id)
    await manage.change_persons(visit.id, PersonsIn(pupils=20, adults=2), by=world.school_a)
    assert await kinds_of(visit.id) == before


async def test_who_may_change_the_persons(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event)
    visit = (await place_booking(slot, class_visit(), by=world.school_a)).booking
    with pytest.raises(Forbidden):
        await manage.change_persons(visit.id, PersonsIn(pupils=10), by=world.firm_a)
    for stranger in (world.firm_b, world.school_b):
        with pytest.raises(NotFound):
            await manage.change_persons(visit.id, PersonsIn(pupils=10), by=stranger)
    out = await manage.change_persons(visit.id, PersonsIn(pupils=10), by=world.admin)
    assert out.persons == 12
    # Another teacher of the same school is a booker too (the school's visit).
    out = await manage.change_persons(visit.id, PersonsIn(adults=3), by=world.teacher_a2)
    assert out.persons == 13


async def test_closed_bookings_and_begun_visits_are_not_changed(world):
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event)
    visit = (await place_booking(slot, class_visit(), by=world.school_a)).booking
    later = (await Slot.select(Slot.starts_at).where(Slot.id == slot).first())["starts_at"]
    with pytest.raises(Conflict) as begun:
        await manage.change_persons(
            visit.id, PersonsIn(pupils=5), by=world.school_a, now=later + timedelta(minutes=1)
        )
    assert begun.value.reason == "started"
    await cancel_booking(visit.id, "", by=world.school_a)
    with pytest.raises(Conflict) as closed:
        await manage.change_persons(visit.id, PersonsIn(pupils=5), by=world.school_a)
    assert closed.value.reason == "wrong_status"


async def test_the_signed_link_changes_and_cancels_without_an_account(world, settings):
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=10)
    placed = (await place_booking(slot, registration(4), by=ANONYMOUS)).booking
    token = view_token(settings, placed.id)

    out = await manage.change_persons(placed.id, PersonsIn(persons=3), by=ANONYMOUS, token=token)
    assert out.persons == 3 and await held(slot) == 3
    with pytest.raises(manage.LinkInvalid):
        await manage.change_persons(
            placed.id, PersonsIn(persons=2), by=ANONYMOUS, token=token[:-1] + "0"
        )
    other = (await place_booking(slot, registration(1, "x@test.example"), by=ANONYMOUS)).booking
    with pytest.raises(manage.LinkInvalid):  # bound to its booking
        await manage.cancel_by_view_link(other.id, token, "")
    done = await manage.cancel_by_view_link(placed.id, token, "ill")
    assert done.status == "cancelled" and await held(slot) == 1


async def test_the_signed_link_expires_some_days_after_the_visit(world, settings):
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=10)
    placed = (await place_booking(slot, registration(2), by=ANONYMOUS)).booking
    token = view_token(settings, placed.id)
    ends = (await Slot.select(Slot.ends_at).where(Slot.id == slot).first())["ends_at"]
    shown = await manage.booking_page(placed.id, by=ANONYMOUS, token=token)
    assert shown.reader == "booker" and shown.may_cancel and shown.may_change
    after = ends + manage.LINK_VALID_AFTER_END - timedelta(minutes=1)
    assert (await manage.booking_page(placed.id, by=ANONYMOUS, token=token, now=after)).booking
    with pytest.raises(manage.LinkInvalid):
        await manage.booking_page(
            placed.id, by=ANONYMOUS, token=token, now=ends + manage.LINK_VALID_AFTER_END
        )
    assert utcnow() < ends


# --------------------------------------------------------------------------- the API


async def test_patch_changes_the_persons_and_answers_409_with_the_free_count(client, world):
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=8)
    placed = (
        await place_booking(slot, registration(3, world.school_a.email), by=world.school_a)
    ).booking
    url = f"/api/v1/bookings/{placed.id}"
    teacher = bearer(world.tokens["school_a"])

    ok = await client.patch(url, json={"persons": 5}, headers=teacher)
    assert ok.status_code == 200, ok.text
    assert ok.json()["persons"] == 5

    full = await client.patch(url, json={"persons": 9}, headers=teacher)
    assert full.status_code in (409, 422)
    too_many = await client.patch(url, json={"persons": 8}, headers=teacher)
    assert too_many.status_code == 200  # exactly the three free places

    await place_booking(slot, registration(1, world.school_b.email), by=world.school_b)
    fewer = await client.patch(url, json={"persons": 6}, headers=teacher)
    assert fewer.status_code == 200
    more = await client.patch(url, json={"persons": 8}, headers=teacher)
    assert more.status_code == 409, more.text
    body = more.json()
    assert body["reason"] == "not_enough_places"
    assert body["field"] == "persons"
    assert body["params"] == {"free": 1}

    host = await client.patch(url, json={"persons": 2}, headers=bearer(world.tokens["firm_a"]))
    assert host.status_code == 403
    stranger = await client.patch(url, json={"persons": 2}, headers=bearer(world.tokens["firm_b"]))
    assert stranger.status_code == 404
    unknown = await client.patch(url, json={"guests": 2}, headers=teacher)
    assert unknown.status_code in (400, 422)
    anonymous = await client.patch(url, json={"persons": 2})
    assert anonymous.status_code == 401
