"""Public registrations hold places only until the registrant confirms the address.

Anyone may register for an open day without an account. Such a registration is held
(pending, places taken) until `verify_by`; the link in the first mail confirms it, and
the scheduler releases it after the deadline: cancelled, places freed, the waiting list
moved up. Signed-in bookers are not affected.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from outreach.booking.links import UNVERIFIED_REASON, confirm_address, release_unverified
from outreach.booking.tables import Booking
from outreach.booking.writes import confirm_booking, place_booking
from outreach.config import Settings, set_settings
from outreach.errors import Conflict, NotFound
from outreach.events.tables import Slot
from outreach.links import address_token, address_url, respond_token
from outreach.notifications import services as delivery
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.principal import ANONYMOUS
from outreach.timeutil import utcnow
from tests.factories import make_event, make_slot, make_world, registration
from tests.notifications.helpers import read_eml_dir, text_of, with_settings
from tests.pages.conftest import post_form


@pytest.fixture(autouse=True)
def whole_slot_for_unconfirmed(settings):
    """The share unconfirmed registrations may hold is tested in
    tests/booking/test_places_bound.py; here they may hold the whole slot."""
    set_settings(dataclasses.replace(settings, unconfirmed_share_percent=100))
    yield
    set_settings(settings)


@pytest.fixture
async def world(db):
    outbox.set_dispatcher(None)  # the outbox rows are the record here; nothing is sent
    return await make_world()


@pytest.fixture
def mail_settings(db: str, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Mails as .eml files in this test's own folder."""
    yield with_settings(settings, data_dir=tmp_path)
    set_settings(settings)


async def notices(booking_id: int) -> list[tuple[str, str]]:
    rows = (
        await Notification.select(Notification.kind, Notification.recipient)
        .where(Notification.booking == booking_id)
        .order_by(Notification.id)
    )
    return [(r["kind"], r["recipient"]) for r in rows]


async def held(slot_id: int) -> int:
    return (await Slot.select(Slot.held).where(Slot.id == slot_id).first())["held"]


async def assert_invariant(slot_id: int) -> None:
    rows = await Booking.select(Booking.persons).where(
        (Booking.slot == slot_id) & Booking.status.is_in(["pending", "confirmed"])
    )
    slot = await Slot.select(Slot.held, Slot.capacity).where(Slot.id == slot_id).first()
    assert slot["held"] == sum(r["persons"] for r in rows) <= slot["capacity"]


async def open_day(world, *, mode: str = "auto", capacity: int = 10) -> tuple[int, int]:
    event = await make_event(world.firm_a, kind="open_day", booking_mode=mode)
    return event, await make_slot(world.firm_a, event, capacity=capacity)


async def test_an_anonymous_registration_is_held_until_the_address_is_confirmed(world, settings):
    _, slot = await open_day(world)
    before = utcnow()
    placed = (await place_booking(slot, registration(3), by=ANONYMOUS)).booking
    assert placed.status == "pending"
    assert placed.verify_by is not None
    hours = settings.registration_confirm_hours
    assert before + timedelta(hours=hours) <= placed.verify_by <= utcnow() + timedelta(hours=hours)
    assert await held(slot) == 3
    # Only the booker hears of it, with the link; the host not before it is confirmed.
    assert await notices(placed.id) == [("booking.received", "family@test.example")]
    stored = await Notification.select(Notification.payload).first()
    payload = json.loads(stored["payload"])
    assert payload["address"] is True

    with pytest.raises(NotFound):
        await confirm_address(placed.id, respond_token(settings, placed.id))
    with pytest.raises(NotFound):
        await confirm_address(placed.id, "0" * 32)
    confirmed = await confirm_address(placed.id, address_token(settings, placed.id))
    assert confirmed.status == "confirmed" and confirmed.verify_by is None
    again = await confirm_address(placed.id, address_token(settings, placed.id))
    assert again.status == "confirmed"
    kinds = await notices(placed.id)
    assert [k for k, _ in kinds] == [
        "booking.received",
        "booking.confirmed",
        "host.booking_received",
    ], "each notice once, even when the link is used twice"
    assert kinds[2][1].endswith("@firm.example"), "the host's notice goes to the firm"
    assert await held(slot) == 3
    await assert_invariant(slot)


async def test_in_approval_mode_the_host_decides_only_after_confirmation(world, settings):
    _, slot = await open_day(world, mode="approval")
    placed = (await place_booking(slot, registration(2), by=ANONYMOUS)).booking
    assert placed.status == "pending"
    with pytest.raises(Conflict) as early:
        await confirm_booking(placed.id, by=world.firm_a)
    assert early.value.reason == "unverified"
    done = await confirm_address(placed.id, address_token(settings, placed.id))
    assert done.status == "pending" and done.verify_by is None
    assert [k for k, _ in await notices(placed.id)] == ["booking.received", "host.booking_received"]
    assert (await confirm_booking(placed.id, by=world.firm_a)).status == "confirmed"


async def test_signed_in_bookers_of_their_own_address_are_not_held(world):
    _, slot = await open_day(world)
    placed = (
        await place_booking(slot, registration(2, world.school_a.email), by=world.school_a)
    ).booking
    assert placed.status == "confirmed" and placed.verify_by is None
    assert "host.booking_received" in [k for k, _ in await notices(placed.id)]
    # Another address goes through that address's confirmation (issue 16, finding 2).
    other = (await place_booking(slot, registration(2), by=world.school_b)).booking
    assert other.status == "pending" and other.verify_by is not None


async def test_an_unconfirmed_registration_is_released_once_and_told(world, settings):
    _, slot = await open_day(world, capacity=5)
    placed = (await place_booking(slot, registration(4), by=ANONYMOUS)).booking
    assert await release_unverified() == 0, "nothing is due before the deadline"
    later = placed.verify_by + timedelta(seconds=1)
    assert await release_unverified(now=later) == 1
    assert await release_unverified(now=later) == 0
    row = await Booking.objects().where(Booking.id == placed.id).first()
    assert row.status == "cancelled" and row.reason == UNVERIFIED_REASON
    assert await held(slot) == 0
    kinds = [k for k, _ in await notices(placed.id)]
    assert kinds == ["booking.received", "booking.cancelled"]
    with pytest.raises(Conflict) as late:
        await confirm_address(placed.id, address_token(settings, placed.id), now=later)
    assert late.value.reason == "wrong_status"


async def test_a_confirmation_after_the_deadline_is_refused(world, settings):
    _, slot = await open_day(world)
    placed = (await place_booking(slot, registration(1), by=ANONYMOUS)).booking
    with pytest.raises(Conflict) as late:
        await confirm_address(
            placed.id,
            address_token(settings, placed.id),
            now=placed.verify_by + timedelta(minutes=1),
        )
    assert late.value.reason == "expired"


async def test_released_places_go_to_the_first_confirmed_waiting_booking(world, settings):
    """The waiting list stays first come, first served, but an unconfirmed waiting
    registration is passed over until confirmed: it never moves into a place unconfirmed."""
    _, slot = await open_day(world, capacity=4)
    holder = (await place_booking(slot, registration(4, "a@x.example"), by=ANONYMOUS)).booking
    early_anon = (
        # An hour later: its own deadline is an hour after the holder's.
        await place_booking(
            slot, registration(2, "b@x.example"), by=ANONYMOUS, now=utcnow() + timedelta(hours=1)
        )
    ).booking
    teacher = (
        await place_booking(slot, registration(2, world.school_a.email), by=world.school_a)
    ).booking
    assert (holder.status, early_anon.status, teacher.status) == (
        "pending",
        "waitlisted",
        "waitlisted",
    )
    assert early_anon.waitlist_position == 1 and teacher.waitlist_position == 2

    # The holder never confirms; the release frees 4 places for the waiting list.
    assert await release_unverified(now=holder.verify_by + timedelta(seconds=1)) == 1
    statuses = {r["id"]: r["status"] for r in await Booking.select(Booking.id, Booking.status)}
    assert statuses[holder.id] == "cancelled"
    assert statuses[teacher.id] == "confirmed", "the confirmed waiting booking moves up"
    assert statuses[early_anon.id] == "waitlisted", "an unconfirmed one is passed over"
    assert "booking.promoted" in [k for k, _ in await notices(teacher.id)]
    await assert_invariant(slot)

    # Confirming the address puts it in line again, and the free places are its now.
    done = await confirm_address(early_anon.id, address_token(settings, early_anon.id))
    assert done.status == "confirmed"
    assert [k for k, _ in await notices(early_anon.id)] == [
        "booking.received",
        "booking.waitlisted",
        "host.booking_received",
        "booking.promoted",
    ]
    assert await held(slot) == 4
    await assert_invariant(slot)


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_release_and_confirmation_racing_end_in_one_state(world, settings):
    """Two schedulers releasing and the registrant confirming, all at once (PostgreSQL
    row locks): one outcome, each place counted once, each notice sent once."""
    for round_ in range(6):
        _, slot = await open_day(world, capacity=3)
        placed = (
            await place_booking(slot, registration(3, f"r{round_}@x.example"), by=ANONYMOUS)
        ).booking
        waiting = (
            await place_booking(slot, registration(3, world.school_a.email), by=world.school_a)
        ).booking
        deadline = placed.verify_by
        token = address_token(settings, placed.id)
        results = await asyncio.gather(
            release_unverified(now=deadline + timedelta(seconds=1)),
            release_unverified(now=deadline + timedelta(seconds=1)),
            confirm_address(placed.id, token, now=deadline - timedelta(seconds=1)),
            return_exceptions=True,
        )
        released = results[0] + results[1]
        row = await Booking.objects().where(Booking.id == placed.id).first()
        other = await Booking.objects().where(Booking.id == waiting.id).first()
        if row.status == "cancelled":
            assert released == 1 and isinstance(results[2], Conflict)
            assert other.status == "confirmed"
        else:
            assert released == 0 and row.status == "confirmed"
            assert other.status == "waitlisted"
        kinds = [k for k, _ in await notices(placed.id)]
        assert len(kinds) == len(set(kinds)), kinds
        await assert_invariant(slot)


async def test_the_first_mail_carries_the_link_and_the_release_mail_says_why(world, mail_settings):
    _, slot = await open_day(world)
    placed = (await place_booking(slot, registration(2), by=ANONYMOUS)).booking
    await release_unverified(now=placed.verify_by + timedelta(seconds=1))
    for note_id in await outbox.due_ids(placed.verify_by + timedelta(minutes=1)):
        assert await delivery.deliver(note_id, placed.verify_by + timedelta(minutes=1)) == "sent"
    first, last = read_eml_dir(mail_settings.mail_dir)
    if "verfallen" in text_of(first):
        first, last = last, first
    assert address_url(mail_settings, placed.id) in text_of(first)
    assert "bestätigen Sie Ihre E-Mail-Adresse" in text_of(first)
    assert "verfallen" in text_of(last) and "wie gewünscht" not in text_of(last)


async def test_api_answers_pending_with_the_deadline(client, world):
    _, slot = await open_day(world)
    response = await client.post(
        f"/api/v1/slots/{slot}/bookings",
        json={"name": "Familie Test", "email": "t@test.example", "persons": 2},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending" and response.json()["verify_by"]


async def test_the_confirm_page_shows_a_button_and_confirms_on_post(client, world, settings):
    _, slot = await open_day(world)
    placed = (await place_booking(slot, registration(2), by=ANONYMOUS)).booking
    path = f"/bookings/{placed.id}/verify"
    token = address_token(settings, placed.id)
    shown = await client.get(f"{path}?token={token}")
    assert shown.status_code == 200 and "<form" in shown.text
    row = await Booking.objects().where(Booking.id == placed.id).first()
    assert row.verify_by is not None, "opening the link (a mail scanner) confirms nothing"
    assert (await client.get(f"{path}?token={'1' * 32}")).status_code == 404
    done = await post_form(client, path, {"token": token}, from_page=f"{path}?token={token}")
    assert done.status_code == 303
    row = await Booking.objects().where(Booking.id == placed.id).first()
    assert row.verify_by is None and row.status == "confirmed"


async def test_the_host_sees_an_unconfirmed_registration_without_a_confirm_button(
    client, world, settings
):
    from tests.pages.conftest import give_password, sign_in

    event, slot = await open_day(world, mode="approval")
    placed = (await place_booking(slot, registration(2), by=ANONYMOUS)).booking
    await give_password(world.firm_a.email)
    await sign_in(client, world.firm_a.email)
    confirm_form = f'action="/firm/bookings/{placed.id}/confirm'
    html = (await client.get(f"/firm/events/{event}")).text
    assert "E-Mail-Adresse noch nicht bestätigt" in html and confirm_form not in html
    attendees = (await client.get(f"/firm/events/{event}/attendees")).text
    assert "E-Mail-Adresse noch nicht bestätigt" in attendees
    await confirm_address(placed.id, address_token(settings, placed.id))
    html = (await client.get(f"/firm/events/{event}")).text
    assert confirm_form in html and "E-Mail-Adresse noch nicht bestätigt" not in html


async def test_a_scheduler_tick_releases_expired_holds(world):
    from workers.scheduler import _tick

    _, slot = await open_day(world, capacity=5)
    # Registered 25 hours ago and never confirmed: its deadline passed an hour ago.
    stale = (
        await place_booking(slot, registration(3), by=ANONYMOUS, now=utcnow() - timedelta(hours=25))
    ).booking
    fresh = (await place_booking(slot, registration(2, "f@x.example"), by=ANONYMOUS)).booking
    await _tick(True)
    statuses = {r["id"]: r["status"] for r in await Booking.select(Booking.id, Booking.status)}
    assert statuses == {stale.id: "cancelled", fresh.id: "pending"}
    assert await held(slot) == 2
