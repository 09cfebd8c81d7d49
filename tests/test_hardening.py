"""Security headers, rate limits and the body size limit apply to every route."""

from __future__ import annotations

import dataclasses

import pytest
from litestar.testing import AsyncTestClient
from redis import Redis
from redis.exceptions import RedisError

from outreach.app import create_app
from outreach.config import set_settings
from tests.factories import make_event, make_slot, make_world
from tests.support import TEST_REDIS_URL, bearer, redis_namespace, require_service


@pytest.fixture
async def strict_client(db, settings):
    strict = dataclasses.replace(settings, rate_limit_per_minute=3, max_body_bytes=2048)
    set_settings(strict)
    async with AsyncTestClient(app=create_app(start_workers=False, use_pool=False)) as client:
        yield client


async def test_security_headers_on_api_and_errors(client):
    for path in ("/health", "/api/v1/events", "/api/v1/events/999999"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in response.headers  # plain http base URL


async def test_bookings_are_rate_limited_with_retry_after(strict_client):
    world = await make_world()
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=100)
    body = {"name": "Familie Test", "email": "f@test.example", "persons": 1}
    statuses = []
    for _ in range(5):
        response = await strict_client.post(f"/api/v1/slots/{slot}/bookings", json=body)
        statuses.append(response.status_code)
    assert statuses[:3] == [201, 201, 201] and statuses[3:] == [429, 429]
    assert int(response.headers["retry-after"]) > 0
    # Reading is not limited.
    assert (await strict_client.get("/api/v1/events")).status_code == 200


async def test_oversized_body_is_refused(strict_client):
    world = await make_world()
    response = await strict_client.post(
        "/api/v1/events",
        json={"kind": "other", "title": "x", "description": "y" * 5000},
        headers=bearer(world.tokens["firm_a"]),
    )
    assert response.status_code == 413


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_nul_character_in_a_query_is_refused_naming_the_parameter(client):
    # PostgreSQL cannot compare text holding NUL: found by Schemathesis as a 500.
    answer = await client.get("/api/v1/events?kind=open_day&host=%00x")
    assert answer.status_code == 422
    assert answer.json()["field"] == "host"
    assert (await client.get("/api/v1/events?host=rehn")).status_code == 200


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
async def test_a_nul_character_in_a_body_is_refused_not_an_error(client, db):
    from tests.factories import make_world
    from tests.support import bearer

    world = await make_world()
    answer = await client.post(
        "/api/v1/events",
        json={"kind": "open_day", "title": "a\u0000b", "host": "firm-a"},
        headers=bearer(world.tokens["firm_a"]),
    )
    assert answer.status_code == 422 and answer.json()["field"] == "body"


@pytest.mark.redis
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_rate_limit_counts_on_redis_stay_in_the_deployments_namespace(settings):
    """Two deployments (or test workers) on one Redis: each limiter counts its own."""
    client = Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except RedisError as exc:
        require_service("Redis", f"{TEST_REDIS_URL}: {exc}")
    answers, keys = {}, {}
    try:
        for name in ("first", "second"):
            namespace = redis_namespace(f"limits-{name}")
            set_settings(
                dataclasses.replace(
                    settings,
                    rate_limit_per_minute=2,
                    redis_url=TEST_REDIS_URL,
                    broker_namespace=namespace,
                )
            )
            app = create_app(start_workers=False, use_pool=False)
            async with AsyncTestClient(app=app) as http:
                answers[name] = [
                    (await http.post("/api/v1/itineraries", json={})).status_code for _ in range(3)
                ]
            keys[name] = list(client.scan_iter(match=f"{namespace}-rate-limit*"))
    finally:
        for found in keys.values():
            if found:
                client.delete(*found)
        client.close()
        set_settings(settings)
    # An empty body is refused (422) until the limit: the second limiter counts from zero.
    assert answers == {"first": [422, 422, 429], "second": [422, 422, 429]}
    assert keys["first"] and keys["second"]
