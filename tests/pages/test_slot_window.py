"""The slot form takes the booking window: opens and closes, errors beside the field."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.events.tables import Slot
from tests.factories import at, make_event, make_world, school_day
from tests.pages.conftest import give_password, post_form, sign_in


@pytest.fixture
async def world(db):
    world = await make_world()
    await give_password(world.firm_a.email)
    return world


async def test_the_firm_sets_when_booking_opens_and_closes(client, world):
    event_id = await make_event(world.firm_a)
    day = school_day(30)
    await sign_in(client, world.firm_a.email)
    path = f"/firm/events/{event_id}/slots/new"
    form = await client.get(path)
    assert 'name="booking_opens_at"' in form.text and 'name="booking_closes_at"' in form.text
    opens, closes = day - timedelta(days=20), day - timedelta(days=3)
    response = await post_form(
        client,
        path,
        {
            "day": day.isoformat(),
            "start": "09:00",
            "end": "10:30",
            "capacity": "30",
            "booking_opens_at": f"{opens.isoformat()}T08:00",
            "booking_closes_at": f"{closes.isoformat()}T12:00",
        },
    )
    assert response.status_code == 303, response.text
    slot = await Slot.objects().where(Slot.event == event_id).first()
    assert slot.booking_opens_at == at(opens, 8)
    assert slot.booking_closes_at == at(closes, 12)


async def test_a_window_that_closes_before_it_opens_is_refused_beside_the_field(client, world):
    event_id = await make_event(world.firm_a)
    day = school_day(30)
    await sign_in(client, world.firm_a.email)
    path = f"/firm/events/{event_id}/slots/new"
    response = await post_form(
        client,
        path,
        {
            "day": day.isoformat(),
            "start": "09:00",
            "end": "10:30",
            "capacity": "30",
            "booking_opens_at": f"{(day - timedelta(days=2)).isoformat()}T08:00",
            "booking_closes_at": f"{(day - timedelta(days=5)).isoformat()}T08:00",
        },
    )
    assert response.status_code == 422
    assert 'id="f-booking_opens_at-error"' in response.text
    assert "öffnen, bevor sie schließt" in response.text
    bad = await post_form(
        client,
        path,
        {
            "day": day.isoformat(),
            "start": "09:00",
            "end": "10:30",
            "capacity": "30",
            "booking_closes_at": "morgen",
        },
    )
    assert bad.status_code == 422 and 'id="f-booking_closes_at-error"' in bad.text
    assert await Slot.count().where(Slot.event == event_id) == 0
