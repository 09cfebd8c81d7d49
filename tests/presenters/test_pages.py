"""The parents'-evening pages: a school creates an evening, invites, a firm answers."""

from __future__ import annotations

import re

import pytest

from outreach.presenters.tables import PresenterInvitation
from tests.factories import make_world, school_day
from tests.pages.conftest import give_password, post_form, sign_in
from tests.presenters.helpers import make_evening


@pytest.fixture
async def world(db):
    world = await make_world()
    for principal in (world.firm_a, world.firm_b, world.school_a, world.school_b):
        await give_password(principal.email)
    return world


async def test_a_school_creates_an_evening_invites_and_the_firm_accepts(client, world):
    await sign_in(client, world.school_a.email)
    created = await post_form(
        client,
        "/school/evenings/new",
        {
            "title": "Elternabend Klasse 8",
            "day": school_day(20).isoformat(),
            "start": "18:30",
            "end": "20:00",
            "capacity": "60",
            "max_party": "4",
            "status": "published",
        },
    )
    assert created.status_code == 303, created.text
    evening_path = created.headers["location"]
    assert re.fullmatch(r"/school/evenings/\d+", evening_path)
    invited = await post_form(
        client,
        evening_path + "/invite",
        {"firms": ["firm-a", "firm-b"], "message": "Zehn Minuten je Firma"},
        from_page=evening_path,
    )
    assert invited.status_code == 303, invited.text
    page = await client.get(evening_path)
    # Both firms in the status list, in German by default.
    assert page.text.count('<td class="status-invited">noch keine Antwort</td>') == 2

    await sign_in(client, world.firm_a.email)
    dashboard = await client.get("/firm")
    assert "Einladungen zum Vorstellen" in dashboard.text
    assert "Zehn Minuten je Firma" in dashboard.text
    [mine] = await PresenterInvitation.objects().where(PresenterInvitation.firm.slug == "firm-a")
    answered = await post_form(
        client, f"/firm/invitations/{mine.id}/accept", {"message": "Gern"}, from_page="/firm"
    )
    assert answered.status_code == 303
    event_id = evening_path.rsplit("/", 1)[1]
    public = await client.get(f"/events/{event_id}")
    assert "Vorstellende Firmen" in public.text
    assert "Firm" in public.text and "firm-a" in public.text
    assert "firm-b" not in public.text  # invited, not (yet) accepted


async def test_a_form_error_stands_beside_the_field(client, world):
    evening = await make_evening(world.school_a)
    await sign_in(client, world.school_a.email)
    response = await post_form(
        client,
        f"/school/evenings/{evening}/invite",
        {"message": "x"},
        from_page=f"/school/evenings/{evening}",
    )
    assert response.status_code == 422
    assert 'id="f-firms-error"' in response.text
    bad = await post_form(
        client,
        "/school/evenings/new",
        {"title": "", "day": "", "start": "18:00", "end": "19:00", "capacity": "10"},
    )
    assert bad.status_code == 422
    assert 'id="f-day-error"' in bad.text


async def test_other_schools_and_firms_see_nothing(client, world):
    evening = await make_evening(world.school_a)
    await sign_in(client, world.school_b.email)
    assert (await client.get(f"/school/evenings/{evening}")).status_code == 404
    await sign_in(client, world.firm_a.email)
    assert (await client.get(f"/school/evenings/{evening}")).status_code == 403

    await sign_in(client, world.school_a.email)
    await post_form(
        client,
        f"/school/evenings/{evening}/invite",
        {"firms": "firm-a", "message": "geheim-42"},
        from_page=f"/school/evenings/{evening}",
    )
    [row] = await PresenterInvitation.objects()
    await sign_in(client, world.firm_b.email)
    assert "geheim-42" not in (await client.get("/firm")).text
    refused = await post_form(client, f"/firm/invitations/{row.id}/accept", {}, from_page="/firm")
    assert refused.status_code == 404
    again = await PresenterInvitation.objects().where(PresenterInvitation.id == row.id).first()
    assert again.status == "invited"
