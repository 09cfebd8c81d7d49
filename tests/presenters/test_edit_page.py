"""The hosting school changes its parents' evening on the pages and finds its attendee list."""

from __future__ import annotations

import pytest

from outreach.events import services as events
from outreach.presenters import services as presenters
from outreach.presenters.schemas import InviteIn
from tests.factories import make_world, school_day
from tests.pages.conftest import give_password, post_form, sign_in
from tests.presenters.helpers import make_evening, notices


@pytest.fixture
async def world(db):
    world = await make_world()
    for principal in (world.firm_a, world.school_a, world.school_b):
        await give_password(principal.email)
    return world


def _form(day: str, **changes: str) -> dict[str, str]:
    return {
        "title": "Elternabend Klasse 9",
        "description": "",
        "venue_name": "Aula",
        "day": day,
        "start": "19:00",
        "end": "20:30",
        "capacity": "70",
        **changes,
    }


async def test_the_school_changes_its_evening_and_the_firm_is_told(client, world):
    evening = await make_evening(world.school_a)
    await presenters.invite_firms(evening, InviteIn(firms=["firm-a"]), by=world.school_a)
    await sign_in(client, world.school_a.email)
    shown = await client.get(f"/school/evenings/{evening}")
    assert f'href="/school/evenings/{evening}/edit"' in shown.text
    form = await client.get(f"/school/evenings/{evening}/edit")
    assert form.status_code == 200
    assert 'name="_csrf_token"' in form.text and 'value="18:30"' in form.text
    day = school_day(30)
    saved = await post_form(client, f"/school/evenings/{evening}/edit", _form(day.isoformat()))
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/school/evenings/{evening}"
    changed = await events.get_event(evening, by=world.school_a)
    [slot] = changed.slots
    assert (changed.title, changed.venue.name, slot.capacity) == (
        "Elternabend Klasse 9",
        "Aula",
        70,
    )
    assert (slot.starts_at.date(), slot.starts_at.strftime("%H:%M")) == (day, "19:00")
    told = [n["recipient"] for n in await notices() if n["kind"] == "presenter.evening_changed"]
    assert told == [world.firm_a.email] * 2  # title and venue, then time: one mail goes out


async def test_errors_stand_beside_their_field_and_change_nothing(client, world):
    evening = await make_evening(world.school_a)
    before = await events.get_event(evening, by=world.school_a)
    await sign_in(client, world.school_a.email)
    path = f"/school/evenings/{evening}/edit"
    day = school_day(30).isoformat()
    cases = [
        (_form(day, title=""), "f-title-error"),
        (_form(day, end="18:00"), "f-end-error"),
        (_form("", start=""), "f-day-error"),
        (_form(day, capacity="0"), "f-capacity-error"),
    ]
    for data, error_id in cases:
        refused = await post_form(client, path, data)
        assert refused.status_code == 422, (data, refused.text)
        assert f'id="{error_id}"' in refused.text, (data, refused.text)
    assert await events.get_event(evening, by=world.school_a) == before


async def test_without_the_csrf_token_nothing_changes(client, world):
    evening = await make_evening(world.school_a)
    before = await events.get_event(evening, by=world.school_a)
    await sign_in(client, world.school_a.email)
    forged = await client.post(
        f"/school/evenings/{evening}/edit",
        data=_form(school_day(30).isoformat()),
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert await events.get_event(evening, by=world.school_a) == before


async def test_another_school_cannot_open_or_change_the_evening(client, world):
    evening = await make_evening(world.school_a)
    before = await events.get_event(evening, by=world.school_a)
    await sign_in(client, world.school_b.email)
    assert (await client.get(f"/school/evenings/{evening}/edit")).status_code == 404
    token_page = await client.get("/school/evenings/new")
    from tests.pages.conftest import csrf_of

    refused = await client.post(
        f"/school/evenings/{evening}/edit",
        data={**_form(school_day(30).isoformat()), "_csrf_token": csrf_of(token_page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 404
    assert await events.get_event(evening, by=world.school_a) == before


async def test_the_dashboard_and_the_evening_link_to_the_attendee_list(client, world):
    evening = await make_evening(world.school_a)
    other = await make_evening(world.school_b)
    await sign_in(client, world.school_a.email)
    link = f'href="/firm/events/{evening}/attendees"'
    dashboard = await client.get("/school")
    assert link in dashboard.text
    assert f'href="/firm/events/{other}/attendees"' not in dashboard.text
    assert link in (await client.get(f"/school/evenings/{evening}")).text
    attendees = await client.get(f"/firm/events/{evening}/attendees")
    assert attendees.status_code == 200
    assert f'href="/school/evenings/{evening}"' in attendees.text
    # The link leads nowhere for another school.
    assert (await client.get(f"/firm/events/{other}/attendees")).status_code == 404
