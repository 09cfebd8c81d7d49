"""Every API route times every role, on own and foreign objects.

The route list comes from the application itself: a new route that is not in POLICY
fails `test_every_route_has_a_policy`, so nothing escapes the matrix. For each case the
world is built afresh; a denied request must answer 401/403/404 and change nothing, an
allowed one must not be refused for who the caller is. Data that only school A, firm A
(the host) and the office may see carries a marker, which no other role's answer may
contain.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from litestar.routes import HTTPRoute

from outreach.app import create_app
from outreach.booking import services as booking
from outreach.booking.schemas import BookingRequest
from outreach.db import all_tables
from outreach.itineraries import services as itineraries
from outreach.itineraries.schemas import ItineraryIn
from outreach.workplan import services as workplans
from outreach.workplan.schemas import MilestoneIn, WorkPlanIn
from tests.factories import at, make_event, make_slot, make_world, school_day
from tests.support import bearer

ROLES = ("anonymous", "school_a", "school_b", "firm_a", "firm_b", "admin")
MEMBERS = ROLES[1:]
MARKER = "secret-marker-of-school-a"
# Who may see school A's booking of firm A's event.
INSIDERS = {"school_a", "firm_a", "admin"}


@dataclass(frozen=True)
class Case:
    allowed: frozenset[str]
    body: Callable[[dict[str, int]], Any] | None = None


def case(allowed: tuple[str, ...] | set[str], body: Callable[..., Any] | None = None) -> Case:
    return Case(frozenset(allowed), body)


def _slot_body(ids: dict[str, int]) -> dict[str, Any]:
    return {
        "starts_at": "2031-03-04T09:00:00+01:00",
        "ends_at": "2031-03-04T10:30:00+01:00",
        "capacity": 20,
    }


POLICY: dict[tuple[str, str], Case] = {
    ("GET", "/health"): case(ROLES),
    ("GET", "/health/live"): case(ROLES),
    ("GET", "/health/ready"): case(ROLES),
    ("GET", "/api/v1/events"): case(ROLES),
    ("POST", "/api/v1/events"): case(
        {"firm_a", "admin"},  # an event of firm A: firm B may not create it
        lambda ids: {"kind": "open_day", "title": "Neu", "host": "firm-a"},
    ),
    ("GET", "/api/v1/events/{event_id:int}"): case(ROLES),
    ("PATCH", "/api/v1/events/{event_id:int}"): case(
        {"firm_a", "admin"}, lambda ids: {"title": "X"}
    ),
    ("POST", "/api/v1/events/{event_id:int}/cancel"): case(
        {"firm_a", "admin"}, lambda ids: {"reason": "r"}
    ),
    ("POST", "/api/v1/events/{event_id:int}/slots"): case({"firm_a", "admin"}, _slot_body),
    ("PATCH", "/api/v1/slots/{slot_id:int}"): case(
        {"firm_a", "admin"}, lambda ids: {"capacity": 40}
    ),
    ("POST", "/api/v1/slots/{slot_id:int}/bookings"): case(
        {"school_a", "school_b"},
        lambda ids: {"class_label": "9z", "grade": 9, "pupils": 5, "adults": 1},
    ),
    ("GET", "/api/v1/bookings"): case(MEMBERS),
    ("GET", "/api/v1/bookings/{booking_id:int}"): case(INSIDERS),
    ("POST", "/api/v1/bookings/{booking_id:int}/confirm"): case({"firm_a", "admin"}),
    ("POST", "/api/v1/bookings/{booking_id:int}/decline"): case(
        {"firm_a", "admin"}, lambda ids: {"reason": "r"}
    ),
    ("POST", "/api/v1/bookings/{booking_id:int}/cancel"): case(
        INSIDERS, lambda ids: {"reason": "r"}
    ),
    ("POST", "/api/v1/itineraries/plan"): case(
        {"school_a", "school_b", "admin"},
        lambda ids: {"date": "2031-03-04", "grade": 8, "pupils": 20, "adults": 2},
    ),
    ("POST", "/api/v1/itineraries"): case(
        {"school_a", "school_b"},
        lambda ids: {
            "slot_ids": [ids["slot_b_id"]],
            "class_label": "9y",
            "grade": 9,
            "pupils": 5,
            "adults": 1,
        },
    ),
    ("GET", "/api/v1/itineraries"): case({"school_a", "school_b", "admin"}),
    ("GET", "/api/v1/itineraries/{itinerary_id:int}"): case({"school_a", "admin"}),
    ("GET", "/api/v1/itineraries/{itinerary_id:int}/replacements"): case({"school_a", "admin"}),
    ("GET", "/api/v1/me/feed"): case(MEMBERS),
    ("POST", "/api/v1/me/feed/rotate"): case(MEMBERS),
    ("POST", "/api/v1/bookings/{booking_id:int}/attendance"): case(
        {"firm_a", "admin"}, lambda ids: {"attended": 1}
    ),
    ("GET", "/api/v1/workplans"): case(MEMBERS),
    ("POST", "/api/v1/workplans"): case(
        {"admin"}, lambda ids: {"school_year": "2030/31", "title": "Plan"}
    ),
    ("GET", "/api/v1/workplans/{plan_id:int}"): case(MEMBERS),
    ("POST", "/api/v1/workplans/{plan_id:int}/priorities"): case(
        {"admin"}, lambda ids: {"title": "Schwerpunkt"}
    ),
    ("POST", "/api/v1/workplans/{plan_id:int}/milestones"): case(
        {"admin"},
        lambda ids: {"title": "M", "due_on": "2031-03-04", "metric": "pupils", "target": 5},
    ),
    ("POST", "/api/v1/milestones/{milestone_id:int}/events"): case(
        {"admin"}, lambda ids: {"event_id": ids["event_id"]}
    ),
    ("DELETE", "/api/v1/milestones/{milestone_id:int}"): case({"admin"}),
    ("GET", "/api/v1/reports/{name:str}"): case(MEMBERS),
}
# Routes tested elsewhere, with the reason; they are counted but not in the API matrix.
ELSEWHERE = {
    "/schema": "OpenAPI documentation, public by design",
    "/static/": "static files, public by design",
}


def api_routes() -> set[tuple[str, str]]:
    app = create_app(start_workers=False, use_pool=False)
    found = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            found.add((method, route.path))
    return found


def in_matrix(path: str) -> bool:
    return path.startswith(("/api/", "/health"))


def test_every_route_has_a_policy():
    routes = {r for r in api_routes() if in_matrix(r[1])}
    assert routes - set(POLICY) == set(), "new API routes need a line in POLICY"
    assert set(POLICY) - routes == set(), "POLICY names routes that no longer exist"


async def build_scene() -> tuple[Any, dict[str, int]]:
    world = await make_world()
    event_a = await make_event(world.firm_a, booking_mode="approval")
    slot_a = await make_slot(world.firm_a, event_a, capacity=30)
    placed = await booking.place_booking(
        slot_a,
        BookingRequest(
            class_label="8a",
            grade=8,
            pupils=20,
            adults=2,
            contact_email=f"{MARKER}@school-a.example",
            notes=MARKER,
        ),
        by=world.school_a,
    )
    event_b = await make_event(world.firm_b)
    slot_b = await make_slot(world.firm_b, event_b, capacity=30)
    await booking.place_booking(
        slot_b, BookingRequest(class_label="7b", grade=7, pupils=10, adults=1), by=world.school_b
    )
    # School A's class day: one visit at firm B in the afternoon.
    afternoon = await make_slot(world.firm_b, event_b, capacity=30, starts_at=at(school_day(), 14))
    trip = await itineraries.book_itinerary(
        ItineraryIn(slot_ids=[afternoon], class_label="8c", grade=8, pupils=10, adults=1),
        by=world.school_a,
    )
    plan = await workplans.create_plan(WorkPlanIn(school_year="2030/31", title="P"), by=world.admin)
    await workplans.add_milestone(
        plan,
        MilestoneIn(title="M", due_on=date(2031, 3, 4), metric="pupils", target=5, owner="firm-a"),
        by=world.admin,
    )
    milestone = (await workplans.get_plan(plan, by=world.admin)).milestones[0].id
    return world, {
        "plan_id": plan,
        "milestone_id": milestone,
        "name": "by-school",  # type: ignore[dict-item]
        "event_id": event_a,
        "slot_id": slot_a,
        "booking_id": placed.booking.id,
        "slot_b_id": slot_b,
        "itinerary_id": trip.itinerary.id,
    }


async def snapshot() -> list[Any]:
    return [
        await table.select()
        for table in all_tables()
        if table._meta.tablename not in ("audit_entry", "notification")
    ]


def fill(path: str, ids: dict[str, int]) -> str:
    return re.sub(r"\{(\w+):\w+\}", lambda m: str(ids[m.group(1)]), path)


CASES = [(method, path, role) for (method, path) in POLICY for role in ROLES]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # rules live in the services
@pytest.mark.parametrize(
    ("method", "path", "role"), CASES, ids=[f"{m} {p} {r}" for m, p, r in CASES]
)
async def test_route_by_role(client, method, path, role):
    world, ids = await build_scene()
    spec = POLICY[(method, path)]
    headers = bearer(world.tokens[role]) if role != "anonymous" else {}
    before = await snapshot()
    kwargs: dict[str, Any] = {"headers": headers}
    if spec.body is not None:
        kwargs["json"] = spec.body(ids)
    elif method in ("POST", "PATCH"):
        kwargs["json"] = {}
    response = await client.request(method, fill(path, ids), **kwargs)
    if role in spec.allowed:
        assert response.status_code not in (401, 403, 404), response.text
        assert response.status_code < 500
    else:
        assert response.status_code in (401, 403, 404), response.text
        assert await snapshot() == before, "a refused request changed data"
    if role not in INSIDERS:
        assert MARKER not in response.text, "school A's booking leaked"
