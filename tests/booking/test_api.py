"""The HTTP contract of API.md for events, slots and bookings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.booking.tables import Booking
from outreach.events.tables import Event, Slot
from outreach.reasons import TEXTS
from tests.factories import at, make_world, school_day
from tests.support import bearer


@pytest.fixture
async def world(db):
    return await make_world()


async def create_tour(client, token, **extra):
    body = {
        "kind": "factory_tour",
        "title": "Präzision zum Anfassen",
        "grades": [8, 9, 10],
        "status": "published",
        "venue": {
            "name": "Werk 2",
            "street": "Altenberger Str. 1",
            "postal_code": "01768",
            "city": "Glashütte",
            "lat": 50.852,
            "lon": 13.779,
        },
        **extra,
    }
    response = await client.post("/api/v1/events", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()


async def create_slot(client, token, event_id, capacity=30, hour=9):
    start = at(school_day(), hour)
    body = {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=90)).isoformat(),
        "capacity": capacity,
        "min_party": 1,
        "max_party": capacity,
    }
    response = await client.post(
        f"/api/v1/events/{event_id}/slots", json=body, headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    return response.json()


CLASS = {
    "class_label": "8a",
    "grade": 8,
    "pupils": 22,
    "adults": 2,
    "contact_name": "Frau Beispiel",
    "contact_email": "lehrerin@schule.example",
}


async def test_event_slot_booking_round_trip(client, world):
    event = await create_tour(client, world.tokens["firm_a"])
    assert event["host"] == "firm-a" and event["venue"]["city"] == "Glashütte"
    slot = await create_slot(client, world.tokens["firm_a"], event["id"])
    assert slot["available"] == 30 and slot["starts_at"].endswith(("+01:00", "+02:00"))

    listed = (await client.get("/api/v1/events")).json()
    assert [e["id"] for e in listed] == [event["id"]]
    assert listed[0]["slots"][0]["available"] == 30

    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json=CLASS,
        headers={**bearer(world.tokens["school_a"]), "Idempotency-Key": "abc-1"},
    )
    assert response.status_code == 201, response.text
    booked = response.json()
    assert booked["status"] == "confirmed" and booked["persons"] == 24

    retry = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json=CLASS,
        headers={**bearer(world.tokens["school_a"]), "Idempotency-Key": "abc-1"},
    )
    assert retry.status_code == 201 and retry.json() == booked
    assert retry.headers["Idempotent-Replayed"] == "true"
    other = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json={**CLASS, "pupils": 10},
        headers={**bearer(world.tokens["school_a"]), "Idempotency-Key": "abc-1"},
    )
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    assert await Booking.count() == 1

    got = await client.get("/api/v1/events", params={"available": "true"})
    assert got.json()[0]["slots"][0]["available"] == 6

    mine = await client.get("/api/v1/bookings", headers=bearer(world.tokens["school_a"]))
    assert [b["id"] for b in mine.json()] == [booked["id"]]
    theirs = await client.get("/api/v1/bookings", headers=bearer(world.tokens["firm_b"]))
    assert theirs.json() == []
    hidden = await client.get(
        f"/api/v1/bookings/{booked['id']}", headers=bearer(world.tokens["school_b"])
    )
    assert hidden.status_code == 404

    cancel = await client.post(
        f"/api/v1/bookings/{booked['id']}/cancel",
        json={"reason": "Bus fällt aus"},
        headers=bearer(world.tokens["school_a"]),
    )
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"


async def test_conflicts_answer_409_with_the_reason(client, world):
    event = await create_tour(client, world.tokens["firm_a"], waitlist=False)
    slot = await create_slot(client, world.tokens["firm_a"], event["id"], capacity=24)
    ok = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=CLASS, headers=bearer(world.tokens["school_a"])
    )
    assert ok.status_code == 201
    full = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        json={**CLASS, "class_label": "8b", "pupils": 10},
        headers=bearer(world.tokens["school_b"]),
    )
    assert full.status_code == 409
    assert full.json()["reason"] == "full" and "free places" in full.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CLASS, "pupils": -1}, "pupils"),
        ({**CLASS, "grade": "acht"}, "grade"),
        ({**CLASS, "adults": None, "class_label": "8a"}, "adults"),
        ({**CLASS, "unknown": 1}, "unknown"),
        ({**CLASS, "contact_email": "kein-at-zeichen"}, "contact_email"),
    ],
)
async def test_bad_booking_input_is_422_naming_the_field(client, world, body, field):
    event = await create_tour(client, world.tokens["firm_a"])
    slot = await create_slot(client, world.tokens["firm_a"], event["id"])
    response = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings", json=body, headers=bearer(world.tokens["school_a"])
    )
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["field"] == field
    # A catalogued refusal says its sentence (for pages, in any language) and the code;
    # the field is named by `field`. Any other message names the field itself.
    assert answer.get("reason") in TEXTS or field in answer["message"]
    assert await Booking.count() == 0


async def test_malformed_json_and_unknown_ids(client, world):
    event = await create_tour(client, world.tokens["firm_a"])
    slot = await create_slot(client, world.tokens["firm_a"], event["id"])
    broken = await client.post(
        f"/api/v1/slots/{slot['id']}/bookings",
        content=b"{not json",
        headers={**bearer(world.tokens["school_a"]), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and broken.json()["field"] == "body"
    missing = await client.post(
        "/api/v1/slots/987654/bookings", json=CLASS, headers=bearer(world.tokens["school_a"])
    )
    assert missing.status_code == 404 and missing.json()["field"] == "slot"
    assert (await client.get("/api/v1/events/987654")).status_code == 404
    assert (
        await client.get("/api/v1/bookings/987654", headers=bearer(world.tokens["admin"]))
    ).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": -5}, "capacity"),
        ({"ends_at": "EARLIER"}, "ends_at"),
        ({"starts_at": "2030-01-01T09:00:00"}, "starts_at"),  # no offset: ambiguous
        ({"min_party": 40}, "min_party"),
    ],
)
async def test_bad_slot_input_is_422_and_writes_nothing(client, world, change, field):
    event = await create_tour(client, world.tokens["firm_a"])
    start = at(school_day(), 9)
    body = {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=90)).isoformat(),
        "capacity": 30,
    }
    if change.get("ends_at") == "EARLIER":
        change = {"ends_at": (start - timedelta(minutes=1)).isoformat()}
    response = await client.post(
        f"/api/v1/events/{event['id']}/slots",
        json={**body, **change},
        headers=bearer(world.tokens["firm_a"]),
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert await Slot.count() == 0


async def test_roles_on_events(client, world):
    anonymous = await client.post("/api/v1/events", json={"kind": "other", "title": "x"})
    assert anonymous.status_code in (401, 403)
    school_tour = await client.post(
        "/api/v1/events",
        json={"kind": "factory_tour", "title": "x"},
        headers=bearer(world.tokens["school_a"]),
    )
    assert school_tour.status_code == 403 and school_tour.json()["field"] == "kind"
    evening = await client.post(
        "/api/v1/events",
        json={"kind": "parents_evening", "title": "Elternabend"},
        headers=bearer(world.tokens["school_a"]),
    )
    assert evening.status_code == 201 and evening.json()["host"] == "school-a"
    foreign = await client.post(
        "/api/v1/events",
        json={"kind": "other", "title": "x", "host": "firm-b"},
        headers=bearer(world.tokens["firm_a"]),
    )
    assert foreign.status_code == 403
    by_admin = await client.post(
        "/api/v1/events",
        json={"kind": "other", "title": "Messe", "host": "firm-b"},
        headers=bearer(world.tokens["admin"]),
    )
    assert by_admin.status_code == 201 and by_admin.json()["host"] == "firm-b"
    draft = await create_tour(client, world.tokens["firm_a"], status="draft")
    assert (await client.get(f"/api/v1/events/{draft['id']}")).status_code == 404
    assert (
        await client.get(f"/api/v1/events/{draft['id']}", headers=bearer(world.tokens["firm_a"]))
    ).status_code == 200
    patched = await client.patch(
        f"/api/v1/events/{draft['id']}",
        json={"title": "Neu"},
        headers=bearer(world.tokens["firm_b"]),
    )
    assert patched.status_code == 404
    network = await create_tour(client, world.tokens["firm_a"], visibility="network")
    public_ids = [e["id"] for e in (await client.get("/api/v1/events")).json()]
    member_ids = [
        e["id"]
        for e in (
            await client.get("/api/v1/events", headers=bearer(world.tokens["school_b"]))
        ).json()
    ]
    assert network["id"] not in public_ids and network["id"] in member_ids
    cancelled = await client.post(
        f"/api/v1/events/{network['id']}/cancel",
        json={"reason": "Krankheit"},
        headers=bearer(world.tokens["firm_a"]),
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert await Event.count() == 4


async def test_bad_token_is_401_and_health_and_schema(client, world):
    bad = await client.get("/api/v1/bookings", headers=bearer("otk_nope_nope"))
    assert bad.status_code == 401
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    assert (await client.get("/health/ready")).status_code == 200
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["database"]["ok"] is True
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/events",
        "/api/v1/slots/{slot_id}/bookings",
        "/api/v1/bookings/{booking_id}/cancel",
        "/api/v1/me/feed",
    ):
        assert path in paths


async def test_me_feed_rotate(client, world):
    first = await client.get("/api/v1/me/feed", headers=bearer(world.tokens["school_a"]))
    again = await client.get("/api/v1/me/feed", headers=bearer(world.tokens["school_a"]))
    assert first.status_code == 200 and first.json() == again.json()
    assert "/feeds/private/" in first.json()["url"]
    rotated = await client.post("/api/v1/me/feed/rotate", headers=bearer(world.tokens["school_a"]))
    assert rotated.json()["url"] != first.json()["url"]
    assert (await client.get("/api/v1/me/feed")).status_code == 401
