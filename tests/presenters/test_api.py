"""The presenter API over HTTP with bearer tokens: invite, list, answer, see."""

from __future__ import annotations

import pytest

from tests.factories import make_world
from tests.presenters.helpers import make_evening
from tests.support import bearer


@pytest.fixture
async def world(db):
    return await make_world()


async def test_invite_list_accept_and_the_public_sees_the_firm(client, world):
    evening = await make_evening(world.school_a)
    school, firm_a, firm_b = (bearer(world.tokens[n]) for n in ("school_a", "firm_a", "firm_b"))
    created = await client.post(
        f"/api/v1/events/{evening}/presenters",
        json={"firms": ["firm-a", "firm-b"], "message": "10 Minuten"},
        headers=school,
    )
    assert created.status_code == 201, created.text
    assert sorted((i["firm"], i["status"]) for i in created.json()) == [
        ("firm-a", "invited"),
        ("firm-b", "invited"),
    ]
    mine = (await client.get("/api/v1/presenter-invitations", headers=firm_a)).json()
    assert [(i["firm"], i["event_id"], i["message"]) for i in mine] == [
        ("firm-a", evening, "10 Minuten")
    ]
    accepted = await client.post(
        f"/api/v1/presenter-invitations/{mine[0]['id']}/accept",
        json={"message": "Gern"},
        headers=firm_a,
    )
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    # Firm B cannot answer firm A's invitation, nor see it.
    other = await client.post(
        f"/api/v1/presenter-invitations/{mine[0]['id']}/decline", json={}, headers=firm_b
    )
    assert other.status_code == 404
    theirs = (await client.get("/api/v1/presenter-invitations", headers=firm_b)).json()
    assert [i["firm"] for i in theirs] == ["firm-b"]
    public = (await client.get(f"/api/v1/events/{evening}/presenters")).json()
    assert [(i["firm"], i["status"]) for i in public] == [("firm-a", "accepted")]
    # Who presents is public; what the school and the firm wrote to each other is not.
    assert (public[0]["message"], public[0]["answer"]) == ("", "")
    seen_by_b = (await client.get(f"/api/v1/events/{evening}/presenters", headers=firm_b)).json()
    assert (seen_by_b[0]["message"], seen_by_b[0]["answer"]) == ("", "")
    seen_by_a = (await client.get(f"/api/v1/events/{evening}/presenters", headers=firm_a)).json()
    assert (seen_by_a[0]["message"], seen_by_a[0]["answer"]) == ("10 Minuten", "Gern")
    everything = (await client.get(f"/api/v1/events/{evening}/presenters", headers=school)).json()
    assert len(everything) == 2
    schema = (await client.get("/schema/openapi.json")).json()["paths"]
    assert "/api/v1/events/{evening_id}/presenters" in schema
    assert "/api/v1/presenter-invitations/{invitation_id}/accept" in schema


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"firms": []}, "firms"),
        ({"firms": ["no-such-firm"]}, "firms"),
        ({"firms": ["firm-a"], "colour": "red"}, "colour"),
        ({"firms": ["firm-a"], "message": "x" * 2001}, "message"),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(client, world, body, field):
    evening = await make_evening(world.school_a)
    response = await client.post(
        f"/api/v1/events/{evening}/presenters", json=body, headers=bearer(world.tokens["school_a"])
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    listed = await client.get(
        "/api/v1/presenter-invitations", headers=bearer(world.tokens["school_a"])
    )
    assert listed.json() == []
