"""A host cancels one time of an event: its bookers are told, the waiting list is closed,
the feeds show it cancelled; the other times stay."""

from __future__ import annotations

import pytest

from outreach.booking.tables import Booking
from outreach.booking.writes import place_booking
from outreach.events.tables import Slot
from outreach.feeds.render import drafts_for_bookings, drafts_for_slots
from outreach.outbox.tables import Notification
from tests.factories import class_visit, make_event, make_slot, make_world
from tests.pages.conftest import give_password, post_form, sign_in
from tests.support import bearer


@pytest.fixture
async def world(db):
    world = await make_world()
    await give_password(world.firm_a.email)
    return world


async def test_cancelling_a_time_tells_its_bookers_and_closes_its_waiting_list(client, world):
    event_id = await make_event(world.firm_a, waitlist=True)
    slot_id = await make_slot(world.firm_a, event_id, capacity=22)
    other = await make_slot(world.firm_a, event_id, capacity=22)
    held = (await place_booking(slot_id, class_visit("8a"), by=world.school_a)).booking
    waiting = (await place_booking(slot_id, class_visit("9b"), by=world.school_b)).booking
    kept = (await place_booking(other, class_visit("7c"), by=world.school_a)).booking
    assert (held.status, waiting.status) == ("confirmed", "waitlisted")

    refused = await client.post(
        f"/api/v1/slots/{slot_id}/cancel",
        json={"reason": "Maschine defekt"},
        headers=bearer(world.tokens["firm_b"]),
    )
    assert refused.status_code in (403, 404)
    done = await client.post(
        f"/api/v1/slots/{slot_id}/cancel",
        json={"reason": "Maschine defekt"},
        headers=bearer(world.tokens["firm_a"]),
    )
    assert done.status_code == 200, done.text
    assert done.json()["cancelled"] is True

    rows = {b.id: b for b in await Booking.objects()}
    assert rows[held.id].status == rows[waiting.id].status == "cancelled"
    assert rows[held.id].reason == "Maschine defekt"
    assert rows[kept.id].status == "confirmed"  # the other time stays as it was
    slot = await Slot.objects().where(Slot.id == slot_id).first()
    assert slot.held == 0 and slot.cancelled
    told = await Notification.select(Notification.booking, Notification.kind).where(
        Notification.kind == "booking.cancelled"
    )
    assert {(n["booking"], n["kind"]) for n in told} == {
        (held.id, "booking.cancelled"),
        (waiting.id, "booking.cancelled"),
    }
    pieces = [*await drafts_for_slots([slot_id]), *await drafts_for_bookings([held.id])]
    assert pieces and all(p.spec.status == "CANCELLED" for p in pieces)

    again = await client.post(
        f"/api/v1/slots/{slot_id}/cancel", json={}, headers=bearer(world.tokens["firm_a"])
    )
    assert again.status_code == 409 and again.json().get("reason") == "slot_cancelled"
    late = await client.post(
        f"/api/v1/slots/{slot_id}/bookings",
        json={"class_label": "6a", "grade": 6, "pupils": 5, "adults": 1},
        headers=bearer(world.tokens["school_a"]),
    )
    assert late.status_code in (404, 409, 422)


async def test_a_host_cancels_a_time_on_its_page(client, world):
    event_id = await make_event(world.firm_a)
    slot_id = await make_slot(world.firm_a, event_id)
    await place_booking(slot_id, class_visit("8a"), by=world.school_a)
    await sign_in(client, world.firm_a.email)
    form = (await client.get(f"/firm/slots/{slot_id}/edit")).text
    assert f'action="/firm/slots/{slot_id}/cancel"' in form and "Diesen Termin absagen" in form
    done = await post_form(
        client,
        f"/firm/slots/{slot_id}/cancel",
        {"reason": "Krankheit"},
        from_page=f"/firm/slots/{slot_id}/edit",
    )
    assert done.status_code == 303 and done.headers["location"] == f"/firm/events/{event_id}"
    assert (await Slot.objects().where(Slot.id == slot_id).first()).cancelled
    assert {b.status for b in await Booking.objects()} == {"cancelled"}
