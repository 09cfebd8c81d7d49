"""The internship API as API.md states it: status codes, bodies, refusals naming the
pupil and field, and what each role sees."""

from __future__ import annotations

import pytest

from outreach.internships.tables import Pupil
from tests.factories import make_world
from tests.internships.helpers import class_dates
from tests.support import bearer


@pytest.fixture
async def world(db):
    return await make_world()


async def test_offers_classes_pupils_rounds_and_placements_over_http(client, world):
    first, last = class_dates()
    as_firm, as_school = bearer(world.tokens["firm_a"]), bearer(world.tokens["school_a"])
    as_admin = bearer(world.tokens["admin"])
    answer = await client.post(
        "/api/v1/internships/offers",
        json={
            "occupation": "Feinwerkmechaniker",
            "description": "Drehen und Fräsen",
            "grades": [8, 9],
            "periods": [{"starts_on": first.isoformat(), "ends_on": last.isoformat(), "places": 1}],
            "status": "published",
        },
        headers=as_firm,
    )
    assert answer.status_code == 201, answer.text
    offer = answer.json()
    period = offer["periods"][0]["id"]
    listed = (await client.get("/api/v1/internships/offers", params={"grade": 8})).json()
    assert [(o["id"], o["host"], o["periods"][0]["free"]) for o in listed] == [
        (offer["id"], "firm-a", 1)
    ]
    assert (await client.get("/api/v1/internships/offers", params={"grade": 10})).json() == []
    klass = await client.post(
        "/api/v1/internships/classes",
        json={
            "class_label": "8a",
            "grade": 8,
            "starts_on": first.isoformat(),
            "ends_on": last.isoformat(),
        },
        headers=as_school,
    )
    assert klass.status_code == 201, klass.text
    class_id = klass.json()["id"]
    refused = await client.put(
        f"/api/v1/internships/classes/{class_id}/pupils",
        json=[
            {"code": "A1", "first_name": "Mia", "wishes": [period]},
            {"code": "A2", "first_name": "Ben", "wishes": [period, 999_999]},
        ],
        headers=as_school,
    )
    assert refused.status_code == 422
    assert refused.json()["field"] == "pupils[1].wishes"
    assert refused.json()["reason"] == "unknown_offer_period"
    assert await Pupil.count() == 0
    unknown_field = await client.put(
        f"/api/v1/internships/classes/{class_id}/pupils",
        json=[{"code": "A1", "surname": "Muster"}],
        headers=as_school,
    )
    assert unknown_field.status_code in (400, 422) and await Pupil.count() == 0
    put = await client.put(
        f"/api/v1/internships/classes/{class_id}/pupils",
        json=[
            {"code": "A1", "first_name": "Mia", "wishes": [period]},
            {"code": "A2", "first_name": "Ben", "wishes": [period]},
        ],
        headers=as_school,
    )
    assert put.status_code == 200, put.text
    assert [p["wishes"] for p in put.json()] == [[period], [period]]
    assert (
        await client.post(
            "/api/v1/internships/rounds", json={"classes": [class_id]}, headers=as_school
        )
    ).status_code == 403
    preview = await client.post(
        "/api/v1/internships/rounds", json={"classes": [class_id], "seed": 11}, headers=as_admin
    )
    assert preview.status_code == 201, preview.text
    body = preview.json()
    assert (body["status"], body["seed"]) == ("preview", 11)
    [placed] = body["placements"]
    assert (placed["offer_period"], placed["rank"], placed["reason"]) == (period, 1, "first_wish")
    [unplaced] = body["unplaced"]
    assert unplaced["reason"] == "wishes_full"
    confirmed = await client.post(
        f"/api/v1/internships/rounds/{body['id']}/confirm", headers=as_admin
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    firm_view = (
        await client.get(
            "/api/v1/internships/placements", params={"round": body["id"]}, headers=as_firm
        )
    ).json()
    [seen] = firm_view
    assert seen["first_name"] in ("Mia", "Ben") and seen["class_label"] == "8a"
    assert seen["rank"] is None and seen["reason"] is None and seen["code"] is None
    assert (
        await client.get("/api/v1/internships/placements", headers=bearer(world.tokens["firm_b"]))
    ).json() == []
    school_view = (await client.get("/api/v1/internships/placements", headers=as_school)).json()
    assert school_view[0]["rank"] == 1
    assert (
        await client.get("/api/v1/internships/placements", headers=bearer(world.tokens["school_b"]))
    ).json() == []
    assert (await client.get("/api/v1/internships/placements")).status_code == 401
    cancel = await client.post(
        f"/api/v1/internships/placements/{seen['id']}/cancel",
        json={"reason": "krank"},
        headers=as_school,
    )
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    after = (await client.get("/api/v1/internships/placements", headers=as_firm)).json()
    assert sorted(p["status"] for p in after) == ["cancelled", "placed"]  # the next in line


async def test_a_class_in_the_past_is_refused_naming_the_field(client, world):
    answer = await client.post(
        "/api/v1/internships/classes",
        json={"class_label": "8a", "grade": 8, "starts_on": "2020-03-02", "ends_on": "2020-03-13"},
        headers=bearer(world.tokens["school_a"]),
    )
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["reason"]) == ("starts_on", "in_the_past")


async def test_the_schema_documents_the_internship_routes(client, world):
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/internships/offers",
        "/api/v1/internships/classes",
        "/api/v1/internships/classes/{class_id}/pupils",
        "/api/v1/internships/rounds",
        "/api/v1/internships/rounds/{round_id}/confirm",
        "/api/v1/internships/placements",
    ):
        assert path in paths, path
