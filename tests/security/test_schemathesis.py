"""Schemathesis against the OpenAPI document the app serves at /schema/openapi.json.

Every documented operation gets generated requests (valid and invalid input) as admin,
firm A, school A and anonymous (Bearer tokens). Stateful sequences follow OpenAPI
links (the workflow links in PRODUCES plus those Schemathesis infers): create an event,
add a slot, book it, confirm or cancel, read the booking; once all as the office, once
with firm A as host and school A as the booker. Each answer must be no server error and
conform to the document: a documented status code, content type and body schema.

Bounded and reproducible for CI: derandomized Hypothesis, fixed example counts, no
deadline, no shrinking. Every request sent is counted where it is sent, and the run
must reach its floor, so it cannot silently shrink. Besides the answers' conformance,
Schemathesis' negative and positive data checks run: a request the document calls
invalid must be refused (4xx), and one it calls valid must not be refused as invalid
(422), except for the rules in WAIVED, each with the reason no schema can state it.
Failures are collected across the whole run and reported together, one per operation
and kind.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    RejectedPositiveData,
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from outreach.app import create_app
from outreach.config import get_settings, set_settings
from outreach.db import current_engine
from tests.factories import at, make_event, make_slot, make_world, school_day
from tests.support import bearer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]
ROLES = ("admin", "firm_a", "school_a", "anonymous")
# Cases per operation and generation mode; scenarios (of up to 10 steps) per state machine.
EXAMPLES = {"sqlite": 20, "postgres": 4}
STATEFUL_EXAMPLES = {"sqlite": 40, "postgres": 8}
FLOOR = {"sqlite": 1000, "postgres": 150}
# Schema-valid requests the server may refuse with 422, each for a rule no schema can
# state (it depends on who calls or on stored state): (operation, field named) -> why.
WAIVED: dict[tuple[str, str], str] = {
    ("POST /api/v1/events", "host"): "the office must name the host; a firm's is its own",
    ("POST /api/v1/me/delete", "confirm"): "the caller's own address, which only they know",
    ("POST /api/v1/workplans", "year"): "the second year follows the first (2026/27)",
    ("GET /api/v1/reports/{name}", "year"): "the second year follows the first (2026/27)",
    ("POST /api/v1/itineraries/plan", "firms"): "a slug names a firm only if it is a member",
    ("POST /api/v1/itineraries/plan", "leave_by"): "later than arrive_at: two fields compared",
    ("POST /api/v1/itineraries/plan", "date"): "a day whose midnight exists in UTC (years 2-9998)",
    ("POST /api/v1/itineraries", "firms"): "a slug names a firm only if it is a member",
    ("POST /api/v1/itineraries", "leave_by"): "later than arrive_at: two fields compared",
    ("POST /api/v1/itineraries", "slot_ids"): "the chosen slots lie on one day (stored state)",
    ("POST /api/v1/itineraries", "grade"): "a grade the chosen slots' events are for "
    "(stored state)",
    ("POST /api/v1/itineraries", "Idempotency-Key"): "a key sent before with another request",
    ("POST /api/v1/slots/{slot_id}/bookings", "Idempotency-Key"): "a key sent before with "
    "another request (stored state): refused, never replayed as if it were the same",
    ("POST /api/v1/events/{event_id}/slots", "ends_at"): "after starts_at: two fields compared",
    ("PATCH /api/v1/slots/{slot_id}", "ends_at"): "after starts_at: two fields compared",
    ("POST /api/v1/internships/offers", "host"): "the office must name the host firm",
    ("POST /api/v1/internships/classes", "school"): "the office must name the school",
    ("POST /api/v1/internships/classes", "starts_on"): "not in the past: today's date",
    ("POST /api/v1/internships/classes", "ends_on"): "after starts_on: two fields compared",
    ("POST /api/v1/internships/classes", "wishes_until"): "between today and starts_on",
    ("PUT /api/v1/internships/classes/{class_id}/pupils", "wishes_until"): "the class's "
    "deadline for wishes (stored state)",
    ("POST /api/v1/internships/placements/{placement_id}/attendance", "days_attended"): "at "
    "most the working days of the pupil's period (stored state)",
    **{
        ("POST /api/v1/internships/offers", f"periods[{i}].{name}"): "not in the past, and "
        "ends_on after starts_on: today's date, two fields compared"
        for i in range(20)
        for name in ("starts_on", "ends_on")
    },
    **{
        ("PUT /api/v1/internships/classes/{class_id}/pupils", f"pupils[{i}].{name}"): "wishes "
        "name published offers' periods that fit the class, once each; codes once per class"
        " (stored state, items compared)"
        for i in range(60)
        for name in ("wishes", "code")
    },
    **{
        ("POST /api/v1/slots/{slot_id}/bookings", name): "which fields a booking needs "
        "depends on the event's kind, stored state: a class visit or a registration"
        for name in ("name", "email", "persons", "class_label", "grade", "pupils", "adults")
    },
}


def hypothesis_settings(max_examples: int, **extra: Any) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,  # the same cases on every run: a CI failure can be replayed
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report what failed, fast
        suppress_health_check=list(HealthCheck),
        **extra,
    )


@dataclass
class Fuzzing:
    schema: Any
    tokens: dict[str, str]
    # The booking workflow's operations alone: sequences on the whole API (130 routes) too
    # seldom chain event → slot → booking in ten steps to test the deep states.
    workflow: Any = None
    sent: int = 0
    # (stateful or not, operation, status) -> answers: shows what the sequences reached.
    answers: Counter[tuple[bool, str, int]] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    stopped_early: int = 0

    def headers(self, role: str) -> dict[str, str]:
        return bearer(self.tokens[role]) if role != "anonymous" else {}

    def headers_for(self, case: Any, role: str) -> dict[str, str]:
        """The role's token, unless a negative case left out the token its operation needs:
        adding one would make the case valid again (it must be refused: 401)."""
        meta = case.meta
        negative = meta is not None and meta.generation.mode == GenerationMode.NEGATIVE
        if negative and "Authorization" not in (case.headers or {}):
            return {}
        return self.headers(role)

    def call_and_check(self, case: Any, role: str) -> None:
        headers = self.headers_for(case, role)
        response = case.call(headers=headers)
        self.count(case, response, stateful=False)
        self.check(case, response, headers)

    def count(self, case: Any, response: Any, *, stateful: bool) -> None:
        self.sent += 1
        self.answers[(stateful, case.operation.label, response.status_code)] += 1

    def check(self, case: Any, response: Any, headers: dict[str, str] | None) -> None:
        """Every failure is kept (one per operation and kind), so one run shows them all."""
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                if waived(case, response, failure):
                    continue
                key = f"{case.operation.label}: {failure.title} [{response.status_code}]"
                self.failures.setdefault(
                    key,
                    f"{key}\n{failure.message}\n{response.text[:300]}\n"
                    f"{case.as_curl_command(headers=headers)}",
                )


def waived(case: Any, response: Any, failure: Any) -> bool:
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return False
    try:
        answer = response.json()
    except ValueError:
        return False
    if "NUL character" in str(answer.get("message")) and "\\u0000" in json.dumps(case.body):
        # PostgreSQL stores no NUL character in text (SQLite does): a JSON string may hold
        # one, so the document cannot rule it out; the answer names the field, no 500.
        return True
    return (case.operation.label, answer.get("field")) in WAIVED


@pytest.fixture
async def fuzzing(db: str) -> AsyncIterator[Fuzzing]:
    """Data to aim at (two firms' events and slots), tokens, and the app's schema."""
    world = await make_world()
    for host in (world.firm_a, world.firm_b):
        for mode in ("auto", "approval"):
            event = await make_event(host, booking_mode=mode)
            await make_slot(host, event, capacity=60)
        await make_slot(host, await make_event(host, kind="open_day"), capacity=60)
    # No rate limits: the fuzzer posts bookings far faster than the limiter allows.
    set_settings(replace(get_settings(), rate_limit_per_minute=0))
    app = create_app(start_workers=False, use_pool=False)
    async with AsyncTestClient(app=app) as client:
        document = (await client.get("/schema/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(with_links(copy.deepcopy(document)))
    workflow = schemathesis.openapi.from_dict(with_links(workflow_only(document)))
    for each in (schema, workflow):
        each.app = app  # called in-process over ASGI, from Schemathesis' own thread and loop
    if db == "postgres":
        # That loop lives as long as the process: a pool of its own saves a connection per
        # statement (Schemathesis keeps one portal thread for every ASGI call).
        portal = schemathesis_asgi._get_portal()
        portal.call(current_engine().pool_for_this_loop)  # tests/conftest.py's engine
        each.hook("flatmap_case")(plausible_case)
    yield Fuzzing(schema, world.tokens, workflow)


# Where a response names an object that other operations take as a path parameter:
# (method, path, status) -> [(parameter, JSON pointer into the answer)]. Every operation
# with that parameter becomes a link target, so sequences book the slots they created.
PRODUCES: dict[tuple[str, str, str], list[tuple[str, str]]] = {
    ("post", "/api/v1/events", "201"): [("event_id", "/id")],
    # The first few listed events: one that a sequence cancelled leaves others to book.
    ("get", "/api/v1/events", "200"): [
        *(("event_id", f"/{n}/id") for n in range(4)),
        *(("slot_id", f"/{n}/slots/0/id") for n in range(4)),
    ],
    ("post", "/api/v1/events/{event_id}/slots", "201"): [("slot_id", "/id")],
    ("post", "/api/v1/slots/{slot_id}/bookings", "201"): [("booking_id", "/id")],
    ("get", "/api/v1/bookings", "200"): [("booking_id", "/0/id")],
    ("post", "/api/v1/bookings/{booking_id}/confirm", "200"): [("booking_id", "/id")],
    ("post", "/api/v1/itineraries", "201"): [("itinerary_id", "/id")],
}


WORKFLOW_PATHS = {
    "/api/v1/events",
    "/api/v1/events/{event_id}/slots",
    "/api/v1/slots/{slot_id}/bookings",
    "/api/v1/bookings",
    "/api/v1/bookings/{booking_id}",
    "/api/v1/bookings/{booking_id}/confirm",
    "/api/v1/bookings/{booking_id}/decline",
    "/api/v1/bookings/{booking_id}/cancel",
    "/api/v1/itineraries",
    "/api/v1/itineraries/{itinerary_id}",
}


def workflow_only(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the booking workflow's paths only (the same schemas)."""
    narrowed = copy.deepcopy(document)
    narrowed["paths"] = {p: ops for p, ops in narrowed["paths"].items() if p in WORKFLOW_PATHS}
    return narrowed


def with_links(document: dict[str, Any]) -> dict[str, Any]:
    """The served document plus OpenAPI links for the workflow (Litestar writes none)."""
    paths = document["paths"]
    for (method, path, status), produced in PRODUCES.items():
        response = paths[path][method]["responses"][status]
        links = response.setdefault("links", {})
        for parameter, pointer in produced:
            for target_path, operations in paths.items():
                if f"{{{parameter}}}" not in target_path:
                    continue
                for target in operations.values():
                    name = f"{parameter}{pointer.replace('/', '_')}_to_{target['operationId']}"
                    links[name] = {
                        "operationId": target["operationId"],
                        "parameters": {parameter: f"$response.body#{pointer}"},
                    }
    return document


def _slot_times(rng: random.Random) -> dict[str, str]:
    starts = at(school_day(rng.randint(14, 60)), rng.randint(8, 14))
    return {
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(minutes=90)).isoformat(),
    }


def plausible_body(method: str, path: str, rng: random.Random) -> dict[str, Any] | None:
    """A body the services accept, for the writes a sequence needs to get anywhere."""
    if (method, path) == ("POST", "/api/v1/events"):
        return {
            "kind": rng.choice(["factory_tour", "open_day"]),
            "title": "Fuzz",
            "host": "firm-a",
            "booking_mode": rng.choice(["auto", "approval"]),
            "status": "published",
        }
    if (method, path) == ("POST", "/api/v1/events/{event_id}/slots"):
        return {**_slot_times(rng), "capacity": rng.randint(1, 40)}
    if (method, path) == ("PATCH", "/api/v1/slots/{slot_id}"):
        return {"capacity": rng.randint(1, 60)}
    if (method, path) == ("POST", "/api/v1/slots/{slot_id}/bookings"):
        if rng.random() < 0.3:
            return {"name": "Familie Fuzz", "email": "fuzz@example.org", "persons": 2}
        label = f"{rng.randint(5, 10)}{rng.choice('abcdefgh')}"
        return {"class_label": label, "grade": 8, "pupils": rng.randint(1, 25), "adults": 1}
    if (method, path) == ("POST", "/api/v1/itineraries/plan"):
        day = school_day(rng.randint(14, 40)).isoformat()
        return {"date": day, "grade": 8, "pupils": 20, "adults": 2}
    return None


def make_plausible(case: Any, rng: random.Random) -> Any:
    """Most valid cases of a few writes get business-plausible data.

    Schema-valid data alone is nearly always refused by the rules (a slot in the past, a
    class of 0 pupils), so sequences would never book. Invalid cases stay untouched.
    """
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE or rng.random() < 0.25:
        return case
    body = plausible_body(case.method, case.operation.path, rng)
    if body is not None:
        case.body = body
    return case


def plausible_case(context: Any, case: Any) -> Any:
    return st.randoms(use_true_random=False).map(lambda rng: make_plausible(case, rng))


def operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()


def run_operation(fuzz: Fuzzing, operation: Any, mode: GenerationMode, examples: int) -> None:
    @given(case=operation.as_strategy(generation_mode=mode), role=st.sampled_from(ROLES))
    @hypothesis_settings(examples)
    def check(case: Any, role: str) -> None:
        fuzz.call_and_check(case, role)

    try:
        check()
    except Unsatisfiable:
        # An operation that takes no input at all (a public GET without parameters) has
        # nothing to send wrong: no negative case exists.
        if mode != GenerationMode.NEGATIVE:
            raise


def state_machine(fuzz: Fuzzing, schema: Any, role_of: Callable[[Any], str]) -> type:
    base = schema.as_state_machine()

    class Workflow(base):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            # Cases that follow a link are built without the schema's hooks. The choice
            # depends on the case alone: Hypothesis must see the same run for the same draws.
            seed = repr((case.operation.label, case.path_parameters, case.query, case.body))
            make_plausible(case, random.Random(seed))

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": fuzz.headers_for(case, role_of(case))}

        def after_call(self, response: Any, case: Any) -> None:
            fuzz.count(case, response, stateful=True)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            fuzz.check(case, response, kwargs.get("headers"))

    return Workflow


def as_host_and_teacher(case: Any) -> str:
    """Firm A runs its events; school A books, cancels and plans class days."""
    path = case.operation.path
    if "/bookings" in path and case.method == "POST" and path.startswith("/api/v1/slots"):
        return "school_a"
    if path.startswith("/api/v1/itineraries"):
        return "school_a"
    if case.method == "POST" and path.endswith("/cancel") and "/bookings/" in path:
        return "school_a"
    return "firm_a"


@pytest.mark.slow  # minutes of fuzzing: in ./scripts/test and on CI, not in --quick
async def test_every_operation_answers_as_documented(fuzzing: Fuzzing, engine: str) -> None:
    def fuzz_all() -> None:
        for operation in operations(fuzzing.schema):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run_operation(fuzzing, operation, mode, EXAMPLES[engine])
        machines = [
            (fuzzing.schema, lambda case: "admin"),
            (fuzzing.schema, as_host_and_teacher),
            (fuzzing.workflow, as_host_and_teacher),
        ]
        for schema, role_of in machines:
            workflow = state_machine(fuzzing, schema, role_of)
            try:
                workflow.run(
                    settings=hypothesis_settings(STATEFUL_EXAMPLES[engine], stateful_step_count=10)
                )
            except FlakyStrategyDefinition:
                # Which links are followable depends on what earlier scenarios left in the
                # shared database, so Hypothesis may find a replay drawing differently and
                # stop that machine. A harness limit, not an answer of the app: every
                # answer sent until then was checked; the other machines still run.
                fuzzing.stopped_early += 1

    await asyncio.to_thread(fuzz_all)
    print(f"schemathesis on {engine}: {fuzzing.sent} cases sent")
    for (stateful, label, status), n in sorted(fuzzing.answers.items()):
        print(f"  {'stateful' if stateful else 'single  '} {status} {n:4d} {label}")
    assert not fuzzing.failures, "\n\n".join(fuzzing.failures.values())
    assert fuzzing.sent >= FLOOR[engine]
    print(f"  state machines stopped early by Hypothesis: {fuzzing.stopped_early}")
    if engine == "sqlite" and not fuzzing.stopped_early:
        # The long run: its sequences must have booked something.
        booked = fuzzing.answers[(True, "POST /api/v1/slots/{slot_id}/bookings", 201)]
        assert booked >= 1, "no stateful sequence got as far as a booking"


BEYOND_ANY_ROW = 2**63  # past PostgreSQL's integer and SQLite's 64-bit range


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_ids_beyond_any_row_are_refused_on_every_page_and_api_route(client, db) -> None:
    """Drivers cannot bind such numbers: the route must refuse them, not answer 500.

    The pages are not in the OpenAPI document, so Schemathesis does not reach them;
    every GET route with a numeric path parameter is tried here as the office.
    """
    world = await make_world()
    routes = [
        route.path
        for route in client.app.routes
        if isinstance(route, HTTPRoute) and "GET" in route.methods and ":int}" in route.path
    ]
    assert len(routes) > 10
    for path in routes:
        url = re.sub(r"\{\w+:int\}", str(BEYOND_ANY_ROW), path)
        response = await client.get(url, headers=bearer(world.tokens["admin"]))
        assert response.status_code < 500, f"{path}: {response.status_code}"
        assert response.status_code in (400, 404, 422), f"{path}: {response.status_code}"


# Found by the run above, kept as plain regressions so they fail with a clear name.
@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["0208-09-01", "4787-12-27", "5046-11-02"], 200),  # probed a million days: 500
        (["9999-12-31"], 422),  # the day after overflowed: 500
    ],
)
async def test_plan_with_dates_far_apart_or_at_the_calendars_end(client, dates, expected) -> None:
    world = await make_world()
    response = await client.post(
        "/api/v1/itineraries/plan",
        json={"dates": dates, "grade": 8, "pupils": 20, "adults": 2},
        headers=bearer(world.tokens["school_a"]),
    )
    assert response.status_code == expected, response.text
    if expected == 422:
        assert response.json()["field"] == "date"


async def test_an_itinerary_with_a_slot_id_beyond_any_row_is_refused(client) -> None:
    world = await make_world()
    response = await client.post(
        "/api/v1/itineraries",
        json={
            "slot_ids": [BEYOND_ANY_ROW],
            "class_label": "8a",
            "grade": 8,
            "pupils": 5,
            "adults": 1,
        },
        headers=bearer(world.tokens["school_a"]),
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith("slot_ids")
