"""The planner's HTTP contract (API.md): plan, book (409 with fresh proposals), read, .ics."""

from __future__ import annotations

import pytest
from icalendar import Calendar

from outreach.booking.tables import Booking
from outreach.booking.writes import cancel_booking, place_booking
from tests.factories import class_visit
from tests.itineraries.helpers import make_net, three_firm_day
from tests.support import bearer


@pytest.fixture
async def net(db):
    return await make_net()


def plan_body(net, **extra):
    return {
        "date": net.day.isoformat(),
        "grade": 8,
        "pupils": 24,
        "adults": 2,
        "arrive_at": "08:30",
        "leave_by": "15:30",
        "travel_mode": "foot",
        "lunch_minutes": 0,
        "firms": ["rehn", "kaden", "seifert"],
        "topics": [],
        "max_visits": 3,
        **extra,
    }


CLASS = {
    "class_label": "8a",
    "grade": 8,
    "pupils": 24,
    "adults": 2,
    "contact_name": "Frau Beispiel",
    "contact_email": "lehrerin@schule.example",
}


async def test_plan_book_read_and_calendar_round_trip(client, net):
    slots = await three_firm_day(net)
    teacher = bearer(net.world.tokens["school_a"])
    response = await client.post("/api/v1/itineraries/plan", json=plan_body(net), headers=teacher)
    assert response.status_code == 200, response.text
    plan = response.json()
    best = plan["proposals"][0]
    assert set(plan) >= {"proposals", "explanation"}
    assert [v["host"] for v in best["visits"]] == ["rehn", "kaden", "seifert"]
    assert set(best["visits"][0]) >= {"slot_id", "host", "starts_at", "ends_at"}
    assert set(best["legs"][0]) >= {"from", "to", "minutes"}
    assert best["legs"][0]["from"] == "rehn" and best["legs"][0]["to"] == "kaden"
    assert isinstance(best["score"], int)
    assert best["visits"][0]["starts_at"].endswith(("+01:00", "+02:00"))

    body = {**CLASS, "slot_ids": [v["slot_id"] for v in best["visits"]]}
    headers = {**teacher, "Idempotency-Key": "day-abc"}
    response = await client.post("/api/v1/itineraries", json=body, headers=headers)
    assert response.status_code == 201, response.text
    it = response.json()
    assert it["status"] == "confirmed" and it["school"] == "school-a"
    assert [b["slot_id"] for b in it["bookings"]] == [
        slots["rehn"],
        slots["kaden"],
        slots["seifert"],
    ]
    assert [v["status"] for v in it["visits"]] == ["confirmed"] * 3
    again = await client.post("/api/v1/itineraries", json=body, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == it["id"]

    shown = await client.get(f"/api/v1/itineraries/{it['id']}", headers=teacher)
    assert shown.status_code == 200 and shown.json()["visits"] == it["visits"]
    listed = await client.get("/api/v1/itineraries", headers=teacher)
    assert [i["id"] for i in listed.json()] == [it["id"]]

    ics = await client.get(f"/itineraries/{it['id']}.ics", headers=teacher)
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(ics.content)
    events = cal.walk("VEVENT")
    summaries = [str(e["SUMMARY"]) for e in events]
    assert len(events) == 5  # three visits, two walks
    assert sum(s.startswith("Fußweg zu") for s in summaries) == 2
    # UTC instants, as in the feeds and invitations: no TZID, so no VTIMEZONE either.
    assert cal.walk("VTIMEZONE") == []
    assert all(e.decoded("DTSTART").utcoffset().total_seconds() == 0 for e in events)
    assert all(b"DTSTART:" in e.to_ical() and b"TZID" not in e.to_ical() for e in events)
    assert ics.headers["content-type"] == "text/calendar; charset=utf-8"
    head = await client.head(f"/itineraries/{it['id']}.ics", headers=teacher)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(ics.content))
    assert head.headers["content-type"] == ics.headers["content-type"]
    assert (await client.get(f"/itineraries/{it['id']}.txt", headers=teacher)).status_code == 404

    # The host cancels one visit: the itinerary says so and offers replacements.
    await cancel_booking(it["visits"][1]["booking_id"], "", by=net.firms["kaden"])
    shown = (await client.get(f"/api/v1/itineraries/{it['id']}", headers=teacher)).json()
    assert shown["status"] == "incomplete"
    response = await client.get(
        f"/api/v1/itineraries/{it['id']}/replacements",
        params={"booking": it["visits"][1]["booking_id"]},
        headers=teacher,
    )
    assert response.status_code == 200 and "explanation" in response.json()


async def test_conflict_books_nothing_and_answers_fresh_proposals(client, net):
    slots = await three_firm_day(net)
    await net.tour("lange")
    spare = await net.slot("lange", 11)
    await place_booking(
        slots["kaden"], class_visit("9b", pupils=18, adults=2), by=net.world.school_b
    )
    body = {**CLASS, "slot_ids": [slots["rehn"], slots["kaden"], slots["seifert"]]}
    response = await client.post(
        "/api/v1/itineraries", json=body, headers=bearer(net.world.tokens["school_a"])
    )
    assert response.status_code == 409, response.text
    answer = response.json()
    assert answer["reason"] == "full" and "nothing was booked" in answer["message"]
    assert answer["unavailable"][0]["slot_id"] == slots["kaden"]
    assert [v["slot_id"] for v in answer["proposals"][0]["visits"]] == [
        slots["rehn"],
        spare,
        slots["seifert"],
    ]
    assert await Booking.count().where(Booking.school.slug == "school-a") == 0


async def test_other_schools_and_firms_do_not_see_an_itinerary(client, net):
    slots = await three_firm_day(net)
    body = {**CLASS, "slot_ids": [slots["rehn"], slots["kaden"]]}
    it = (
        await client.post(
            "/api/v1/itineraries", json=body, headers=bearer(net.world.tokens["school_a"])
        )
    ).json()
    for who in ("school_b", "firm_a"):
        headers = bearer(net.world.tokens[who])
        assert (
            await client.get(f"/api/v1/itineraries/{it['id']}", headers=headers)
        ).status_code == 404
        assert (
            await client.get(f"/itineraries/{it['id']}.ics", headers=headers)
        ).status_code == 404
    assert (await client.get(f"/api/v1/itineraries/{it['id']}")).status_code == 401
    # Who may ask is decided before what was asked: the booking to replace is named last.
    replacements = f"/api/v1/itineraries/{it['id']}/replacements"
    school_b = bearer(net.world.tokens["school_b"])
    assert (await client.get(replacements, headers=school_b)).status_code == 404
    answer = await client.get(replacements, headers=bearer(net.world.tokens["school_a"]))
    assert answer.status_code == 422 and answer.json()["field"] == "booking"
    admin = bearer(net.world.tokens["admin"])
    assert (await client.get(f"/api/v1/itineraries/{it['id']}", headers=admin)).status_code == 200


async def test_bad_input_names_the_field(client, net):
    teacher = bearer(net.world.tokens["school_a"])
    response = await client.post(
        "/api/v1/itineraries/plan", json=plan_body(net, arrive_at="8 Uhr"), headers=teacher
    )
    assert response.status_code == 422 and response.json()["field"] == "arrive_at"
    response = await client.post(
        "/api/v1/itineraries/plan", json=plan_body(net, date=None), headers=teacher
    )
    assert response.status_code == 422 and response.json()["field"] == "date"
    # The first day of the calendar: its Berlin midnight is before year 1 in UTC (was a 500).
    for first_day in ("0001-01-01", "0001-12-31"):
        response = await client.post(
            "/api/v1/itineraries/plan", json=plan_body(net, date=first_day), headers=teacher
        )
        assert response.status_code == 422 and response.json()["field"] == "date"
    firm = bearer(net.world.tokens["firm_a"])
    response = await client.post("/api/v1/itineraries/plan", json=plan_body(net), headers=firm)
    assert response.status_code == 403


async def test_the_openapi_schema_documents_the_planner(client, db):
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    assert "post" in paths["/api/v1/itineraries/plan"]
    assert {"201", "409"} <= set(paths["/api/v1/itineraries"]["post"]["responses"])
    assert "get" in paths["/api/v1/itineraries/{itinerary_id}"]
    assert "get" in paths["/api/v1/itineraries/{itinerary_id}/replacements"]
    assert "from" in schema["components"]["schemas"]["LegOut"]["properties"]
