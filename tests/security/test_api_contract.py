"""The API says what it does (issue 16, finding 6): the document at /schema states who
may call each operation, the bodies' closed shapes and limits, and the server answers
accordingly (401 with WWW-Authenticate, a complete Allow, the parameter as sent)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories import make_world
from tests.support import bearer

# Operations anyone may call; every other one of the document needs a bearer token.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/events/{event_id}"),
    ("GET", "/api/v1/events/{evening_id}/presenters"),
    ("GET", "/api/v1/internships/offers"),  # published internship offers
    # A public registration needs no account (a class visit does: 401 from the service).
    ("POST", "/api/v1/slots/{slot_id}/bookings"),
    # Calendar feeds: the secret, where there is one, is in the URL.
    ("GET", "/feeds/public.ics"),
    ("HEAD", "/feeds/public.ics"),
    ("GET", "/feeds/private/{name}"),
    ("HEAD", "/feeds/private/{name}"),
    ("GET", "/events/{event_id}/calendar.ics"),
    ("HEAD", "/events/{event_id}/calendar.ics"),
    ("GET", "/itineraries/{name}"),
    ("HEAD", "/itineraries/{name}"),
}


@pytest.fixture
async def document(client) -> dict[str, Any]:
    answer = await client.get("/schema/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_public_operations_state_no_security_and_the_others_a_bearer(document):
    assert "security" not in document, "no document-wide requirement"
    stated = {(m, p): op.get("security") for m, p, op in operations(document)}
    assert set(stated) >= PUBLIC
    for key, security in stated.items():
        assert security == (None if key in PUBLIC else [{"bearer": []}]), key


async def test_anonymous_calls_to_protected_operations_answer_401_with_the_scheme(client, document):
    protected = [(m, p) for m, p, op in operations(document) if op.get("security")]
    assert len(protected) > 30
    for method, path in protected:
        # A body that would be refused (422) if it were read: the 401 comes first.
        answer = await client.request(method, concrete(path), json={"unknown": 1})
        assert answer.status_code == 401, (method, path, answer.status_code)
        assert answer.headers["www-authenticate"].startswith("Bearer"), (method, path)
        assert answer.json()["field"] == "Authorization"


async def test_request_bodies_are_closed_and_state_the_limits_the_server_enforces(document):
    schemas = document["components"]["schemas"]
    bodies = set()
    for _, _, op in operations(document):
        if "requestBody" in op:
            body = op["requestBody"]["content"]["application/json"]["schema"]
            if body.get("type") == "array":  # a list of closed objects (a class's pupils)
                body = body["items"]
            bodies.add(body["$ref"].rsplit("/", 1)[1])
    assert len(bodies) > 15
    for name in bodies:
        assert schemas[name]["additionalProperties"] is False, name
    # Limits on the items of arrays, which Litestar's own document left out.
    topic = schemas["EventIn"]["properties"]["topics"]
    assert topic["items"] == {"type": "string", "minLength": 1, "maxLength": 64}
    assert topic["maxItems"] == 20
    firm = schemas["InviteIn"]["properties"]["firms"]["items"]
    assert firm["maxLength"] == 64
    # Instants keep their format.
    assert schemas["SlotIn"]["properties"]["starts_at"] == {"type": "string", "format": "date-time"}


async def test_a_body_with_a_field_too_long_or_unknown_is_refused_as_stated(client, db):
    world = await make_world()
    headers = bearer(world.tokens["firm_a"])
    base = {"kind": "open_day", "title": "T", "host": "firm-a"}
    too_long = await client.post(
        "/api/v1/events", json={**base, "topics": ["x" * 65]}, headers=headers
    )
    assert too_long.status_code == 422
    unknown = await client.post("/api/v1/events", json={**base, "colour": "red"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["field"] == "colour"


async def test_options_allows_every_method_of_the_path(client, document):
    by_path: dict[str, set[str]] = {}
    for method, path, _ in operations(document):
        by_path.setdefault(path, set()).add(method)
    for path, methods in by_path.items():
        answer = await client.options(concrete(path))
        assert answer.status_code == 204, path
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        assert allowed == methods | {"OPTIONS"}, path


@pytest.mark.parametrize(
    "value", ["x", "5", "1700000000", "2027-03-01T08:00:00", "2027-02-30T08:00:00Z"]
)
async def test_a_filter_names_the_parameter_sent_and_refuses_what_is_no_instant(client, value):
    answer = await client.get("/api/v1/events", params={"from": value})
    assert answer.status_code == 422, value
    assert answer.json()["field"] == "from" and "starts_from" not in answer.text
    fine = await client.get("/api/v1/events", params={"from": "2027-03-01T08:00:00+01:00"})
    assert fine.status_code == 200


async def test_validation_errors_name_query_parameters_by_their_sent_names(client, db):
    world = await make_world()
    answer = await client.get(
        "/api/v1/audit", params={"since": "5"}, headers=bearer(world.tokens["admin"])
    )
    assert answer.status_code == 422 and answer.json()["field"] == "since"
    answer = await client.get("/api/v1/events", params={"grade": "99"})
    assert answer.status_code == 422 and answer.json()["field"] == "grade"


async def test_a_number_is_refused_as_an_instant_in_a_body(client, db):
    world = await make_world()
    headers = bearer(world.tokens["firm_a"])
    made = await client.post(
        "/api/v1/events", json={"kind": "open_day", "title": "T", "host": "firm-a"}, headers=headers
    )
    assert made.status_code == 201, made.text
    answer = await client.post(
        f"/api/v1/events/{made.json()['id']}/slots",
        json={"starts_at": 1900000000, "ends_at": 1900003600, "capacity": 5},
        headers=headers,
    )
    assert answer.status_code == 422 and answer.json()["field"] == "starts_at", answer.text
