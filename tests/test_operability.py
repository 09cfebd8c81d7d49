"""Request ids, JSON log lines, Prometheus metrics and the settings check, in-process."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from outreach.config import ConfigError, Settings, get_settings, set_settings
from outreach.observability import JsonFormatter, RequestObservability
from tests.factories import make_event, make_slot, make_world
from tests.support import bearer

METRICS_TOKEN = "metrics-reader-token-0123456789abcdef"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged during the test, formatted as the servers format it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@get("/work")
async def work() -> dict[str, str]:
    logging.getLogger("outreach.test").info("working on it")
    return {"ok": "yes"}


async def test_request_id_reaches_every_log_line_of_its_request(json_lines):
    app = Litestar(route_handlers=[work], logging_config=None)
    app.asgi_handler = RequestObservability(app.asgi_handler)
    async with AsyncTestClient(app=app) as client:
        given = await client.get("/work", headers={"X-Request-ID": "req-0123456789"})
        made = await client.get("/work")
        forged = await client.get("/work", headers={"X-Request-ID": 'x"\n{"level": "error"'})
    assert given.headers["x-request-id"] == "req-0123456789"
    assert made.headers["x-request-id"] != given.headers["x-request-id"]
    assert len(made.headers["x-request-id"]) == 32  # a fresh uuid4, hex
    assert forged.headers["x-request-id"] not in ('x"\n{"level": "error"', "")
    lines = parsed(json_lines)
    for response in (given, made, forged):
        mine = [line for line in lines if line["request_id"] == response.headers["x-request-id"]]
        assert [line["message"] for line in mine] == ["working on it", "GET /work 200"]
        access = mine[1]
        assert access["logger"] == "outreach.access" and access["level"] == "info"
        assert (access["method"], access["path"], access["status"]) == ("GET", "/work", 200)
        assert access["duration_ms"] >= 0 and "time" in access
    assert all(set(line) >= {"time", "level", "logger", "message"} for line in lines)


@pytest.fixture
def metrics_token(settings: Settings) -> Iterator[str]:
    set_settings(dataclasses.replace(settings, metrics_token=METRICS_TOKEN))
    yield METRICS_TOKEN
    set_settings(settings)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in the exposition text; 0 when absent."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric != name:
            continue
        found = dict(
            part.split("=", 1) for part in label_text.rstrip("}").split(",") if "=" in part
        )
        if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(value)
    return 0.0


async def test_metrics_need_the_token(client, metrics_token):
    world = await make_world()
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers=bearer("not-" + metrics_token))
    assert wrong.status_code == 401
    # A user's API token is not a metrics token, however mighty the user.
    assert (await client.get("/metrics", headers=bearer(world.tokens["admin"]))).status_code == 401
    answer = await client.get("/metrics", headers=bearer(metrics_token))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")


async def test_without_a_token_metrics_are_for_loopback_only(client, settings):
    assert get_settings().metrics_token is None
    answer = await client.get("/metrics")  # the test client's address is "testclient"
    assert answer.status_code == 403
    assert answer.json()["message"].startswith("/metrics is served to loopback only")


async def test_metrics_count_requests_bookings_and_the_outbox(client, metrics_token):
    world = await make_world()
    event = await make_event(world.firm_a)
    slot = await make_slot(world.firm_a, event, capacity=30)

    async def scrape() -> str:
        answer = await client.get("/metrics", headers=bearer(metrics_token))
        assert answer.status_code == 200
        return answer.text

    before = await scrape()
    route = "/api/v1/events/{event_id}"

    for _ in range(3):
        assert (await client.get(f"/api/v1/events/{event}")).status_code == 200
    assert (await client.get("/api/v1/events/999999")).status_code == 404
    booked = await client.post(
        f"/api/v1/slots/{slot}/bookings",
        json={"class_label": "8a", "grade": 8, "pupils": 20, "adults": 2},
        headers=bearer(world.tokens["school_a"]),
    )
    assert booked.status_code == 201, booked.text
    status = booked.json()["status"]
    after = await scrape()

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("outreach_http_requests_total", method="GET", route=route, status="200") == 3
    assert grew("outreach_http_requests_total", method="GET", route=route, status="404") == 1
    assert grew("outreach_http_request_duration_seconds_count", method="GET", route=route) == 4
    assert grew("outreach_bookings_placed_total", status=status) == 1
    # The booking queued its notices: the outbox gauges are read from the database.
    from outreach.outbox.tables import Notification

    pending = await Notification.count().where(Notification.status == "pending")
    assert pending > 0
    assert sample(after, "outreach_notifications", status="pending") == pending
    assert sample(after, "outreach_outbox_queue_depth") == pending


def test_every_bad_setting_is_named_at_once(tmp_path):
    env = {
        "OUTREACH_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "mysql://db/outreach",
        "REDIS_URL": "http://redis:6379",
        "SMTP_URL": "mail.example:25",
        "SECRET_KEY": "short",
        "BASE_URL": "ftp://outreach.example",
        "DB_POOL_MAX": "many",
        "SCHEDULER_INTERVAL": "0",
        "PLANNER_BUS_KMH": "900",
        "REMINDER_DAYS": "7,x",
    }
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    problems = caught.value.problems
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "SMTP_URL",
        "SECRET_KEY",
        "BASE_URL",
        "DB_POOL_MAX",
        "SCHEDULER_INTERVAL",
        "PLANNER_BUS_KMH",
        "REMINDER_DAYS",
    ):
        assert sum(problem.startswith(name) for problem in problems) == 1, (name, problems)
    assert len(problems) == 9


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("DATABASE_URL", "postgresql://", "must name a host"),
        ("REDIS_URL", "redis://localhost:port/0", "port"),
        ("SMTP_URL", "smtp://:25", "must name a host"),
        ("BASE_URL", "outreach.example", "http:// or https://"),
        ("MAX_BODY_BYTES", "12", "between 1024"),
        ("BOOKING_CLOSES_HOURS", "-1", "between 0"),
        ("ANONYMISE_AFTER_DAYS", "1e3", "whole number"),
        ("METRICS_TOKEN", "short", "at least 24"),
        ("LOG_FORMAT", "xml", "json or text"),
        ("EMBEDDED_WORKER", "perhaps", "true or false"),
        ("SHUTDOWN_DRAIN_SECONDS", "soon", "a number"),
    ],
)
def test_a_wrong_value_is_refused_with_its_name(tmp_path, name, value, needle):
    env = {"OUTREACH_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40, name: value}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(name) and needle in caught.value.problems[0]


def test_secret_key_is_required_with_postgres(tmp_path):
    env = {"OUTREACH_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgresql://db/outreach"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert caught.value.problems[0].startswith("SECRET_KEY must be set")
    good = Settings.from_env({**env, "SECRET_KEY": "k" * 32, "REDIS_URL": "redis://r:6379/2"})
    assert good.uses_postgres and good.redis_url == "redis://r:6379/2"


def test_text_logs_escape_line_breaks_a_caller_sent():
    import logging

    from outreach.observability import TextFormatter

    forged = "/x\n2026-01-01 ERROR outreach: forged\r"
    record = logging.LogRecord("outreach", logging.INFO, __file__, 1, "GET %s 404", (forged,), None)
    line = TextFormatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in line and "\r" not in line
    assert line == "INFO GET /x\\x0a2026-01-01 ERROR outreach: forged\\x0d 404"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:8400"),
        ("0.0.0.0", "http://127.0.0.1:8400"),  # all interfaces: this machine reaches loopback
        ("::", "http://[::1]:8400"),
        ("localhost", "http://localhost:8400"),
        ("192.0.2.7", "http://192.0.2.7:8400"),
    ],
)
def test_without_base_url_links_name_where_the_server_listens(tmp_path, host, expected):
    settings = Settings.from_env({"OUTREACH_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40})
    assert settings.base_url == "http://127.0.0.1:8000" and not settings.base_url_given
    assert settings.serving_at(host, 8400).base_url == expected


def test_a_given_base_url_wins_over_the_port(tmp_path):
    env = {
        "OUTREACH_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "k" * 40,
        "BASE_URL": "https://outreach.example/",
    }
    settings = Settings.from_env(env)
    assert settings.serving_at("0.0.0.0", 8400).base_url == "https://outreach.example"


def test_log_format_follows_the_terminal_unless_set():
    from outreach.observability import log_format_for

    leader, follower = os.openpty()
    with open(follower, "w") as terminal:
        assert log_format_for(None, terminal) == "text"
        assert log_format_for("json", terminal) == "json"
    os.close(leader)
    assert log_format_for(None, io.StringIO()) == "json"
    assert log_format_for("text", io.StringIO()) == "text"
    env = {"SECRET_KEY": "k" * 40}
    assert Settings.from_env(env).log_format is None
    assert Settings.from_env({**env, "LOG_FORMAT": "text"}).log_format == "text"
