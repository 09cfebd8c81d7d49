"""Security headers, rate limits and the body size limit apply to every route."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from litestar.testing import AsyncTestClient
from redis import Redis
from redis.exceptions import RedisError

from outreach.app import create_app
from outreach.config import set_settings
from outreach.observability import redact_path
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
    statuses = []
    for n in range(5):  # one address registers once per slot: five families
        body = {"name": "Familie Test", "email": f"f{n}@test.example", "persons": 1}
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
    # An anonymous call is refused (401) until the limit: the second limiter counts from zero.
    assert answers == {"first": [401, 401, 429], "second": [401, 401, 429]}
    assert keys["first"] and keys["second"]


async def test_answers_outside_any_route_carry_the_security_headers(strict_client):
    # 404 and 405 come from the router, 429 from the limiter: before any route's middleware.
    answers = [
        await strict_client.get("/no-such-page", headers={"accept": "text/html"}),
        await strict_client.get("/api/v1/no-such-thing"),
        await strict_client.delete("/api/v1/events"),
    ]
    for _ in range(4):
        last = await strict_client.post(
            "/signin", data={"email": "x@y.example"}, headers={"accept": "text/html"}
        )
    answers.append(last)
    assert [a.status_code for a in answers] == [404, 404, 405, 429]
    for answer in answers:
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"


async def test_the_html_429_says_when_to_retry(strict_client):
    for _ in range(4):
        answer = await strict_client.post(
            "/signin", data={"email": "x@y.example"}, headers={"accept": "text/html"}
        )
    assert answer.status_code == 429 and answer.headers["content-type"].startswith("text/html")
    assert int(answer.headers["retry-after"]) > 0


async def test_private_feed_urls_are_not_written_to_the_access_log(client, db, caplog):
    from outreach.accounts.services import feed_token_for

    world = await make_world()
    token = await feed_token_for(by=world.school_a)
    with caplog.at_level(logging.INFO, logger="outreach.access"):
        assert (await client.get(f"/feeds/private/{token}.ics")).status_code == 200
        assert (await client.get(f"/feeds/private/{token}x.ics")).status_code == 404
    lines = [r for r in caplog.records if r.name == "outreach.access"]
    assert len(lines) == 2
    for record in lines:
        assert token not in record.getMessage() and token not in record.path
        assert record.path == "/feeds/private/[redacted]"


async def _booking_statuses(settings, slot: int, **changes) -> list[int]:
    """Five bookings, each claiming another client address in X-Forwarded-For."""
    set_settings(dataclasses.replace(settings, rate_limit_per_minute=3, **changes))
    family = "-".join(changes) or "plain"  # one address registers once per slot
    async with AsyncTestClient(app=create_app(start_workers=False, use_pool=False)) as client:
        return [
            (
                await client.post(
                    f"/api/v1/slots/{slot}/bookings",
                    json={"name": "F", "email": f"{family}{n}@test.example", "persons": 1},
                    headers={"x-forwarded-for": f"203.0.113.{n}"},
                )
            ).status_code
            for n in range(5)
        ]


async def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(db, settings):
    world = await make_world()
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=100)
    try:
        # By default nobody is trusted: a made-up address does not escape the limit.
        assert await _booking_statuses(settings, slot) == [201, 201, 201, 429, 429]
        # Behind a configured proxy (the test client's peer) each client has its own.
        trusted = await _booking_statuses(settings, slot, trusted_proxies=("testclient",))
        assert trusted == [201] * 5
    finally:
        set_settings(settings)


def test_trusted_proxies_are_read_and_checked():
    from outreach.config import ConfigError, Settings

    env = {"SECRET_KEY": "x" * 40, "OUTREACH_DATA_DIR": "/tmp/outreach-tests-default"}
    assert Settings.from_env(env).trusted_proxies == ()
    given = Settings.from_env({**env, "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"})
    assert given.trusted_proxies == ("10.0.0.0/8", "192.0.2.7")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Settings.from_env({**env, "TRUSTED_PROXIES": "proxy.example"})


async def test_anonymous_idempotency_keys_are_private_to_each_client(db, settings):
    world = await make_world()
    event = await make_event(world.firm_a, kind="open_day")
    slot = await make_slot(world.firm_a, event, capacity=100)
    set_settings(dataclasses.replace(settings, trusted_proxies=("testclient",)))
    try:
        async with AsyncTestClient(app=create_app(start_workers=False, use_pool=False)) as client:

            async def register(address: str, email: str):
                return await client.post(
                    f"/api/v1/slots/{slot}/bookings",
                    json={"name": "Familie", "email": email, "persons": 1},
                    headers={"x-forwarded-for": address, "idempotency-key": "same-key-1"},
                )

            first = await register("203.0.113.1", "a@test.example")
            other = await register("203.0.113.2", "b@test.example")
            again = await register("203.0.113.1", "a@test.example")
    finally:
        set_settings(settings)
    assert first.status_code == other.status_code == again.status_code == 201, other.text
    assert "idempotent-replayed" not in other.headers
    assert other.json()["id"] != first.json()["id"]
    # The same client's retry is still answered from its first request.
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


def test_private_feed_tokens_never_reach_the_access_log() -> None:
    assert redact_path("/feeds/private/fd_abc_def.ics") == "/feeds/private/[redacted]"
    assert redact_path("/_bench/private/fd_abc_def.ics") == "/_bench/private/[redacted]"
    assert redact_path("/feeds/private/") == "/feeds/private/[redacted]"
    assert redact_path("/feeds/public.ics") == "/feeds/public.ics"
    assert redact_path("/feeds/private/a/b") == "/feeds/private/a/b"  # no such route
