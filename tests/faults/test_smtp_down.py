"""Fault: the mail server is down while bookings come in, and comes back later.

Production wiring: a web process, an `outreach worker` and an `outreach scheduler` on the
test's own Redis; the SMTP server (aiosmtpd) is not listening yet. Bookings are stored,
each mail attempt fails and is put back with a growing delay (NOTIFICATION_RETRY_SECONDS
doubling, read here from the worker's log against the database's clock); once the server
listens on the same port, the retries deliver every mail exactly once.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from outreach.outbox.services import MAX_ATTEMPTS
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.faults.conftest import Scene
from tests.faults.harness import (
    Counts,
    MailSink,
    RedisServer,
    Service,
    mailed_ids,
    outreach_env,
    record,
    start_scheduler,
    start_together,
    start_uvicorn,
    start_worker,
    stored_bookings,
    wait_for,
)
from tests.support import bearer, redis_namespace

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("engine", ["postgres"], indirect=True)]

N = Notification
BOOKINGS = 20
RETRY_SECONDS = 2
_RETRY = re.compile(
    r"^(\S+ \S+) WARNING outreach\.outbox\.services: notification (\d+) \(\S+\) "
    r"attempt (\d+) failed, retry at (\S+): ",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Failure:
    notification: int
    attempt: int
    logged_at: datetime  # after the attempt failed
    retry_at: datetime  # when the outbox lets the notice be tried again


def _failures(worker: Service) -> dict[int, list[Failure]]:
    """Each notice's failed attempts, in order, as the worker logged them."""
    found: dict[int, list[Failure]] = {}
    for logged, note, attempt, retry_at in _RETRY.findall(worker.tail(5_000_000)):
        due = datetime.fromisoformat(retry_at)
        at = datetime.strptime(logged, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=due.tzinfo)
        found.setdefault(int(note), []).append(Failure(int(note), int(attempt), at, due))
    for failures in found.values():
        failures.sort(key=lambda f: f.attempt)
    return found


def _backoff_kept(failures: list[Failure]) -> None:
    """Attempt k waits RETRY_SECONDS * 2^(k-1): no try before it is due, and gaps double."""
    for earlier, later in itertools.pairwise(failures):
        assert later.attempt == earlier.attempt + 1, failures
        # Not tried before it was due (the log's clock is cut to milliseconds).
        assert later.logged_at >= earlier.retry_at - timedelta(milliseconds=1), (earlier, later)
        wanted = timedelta(seconds=RETRY_SECONDS * 2 ** (later.attempt - 1))
        assert later.retry_at - earlier.retry_at >= wanted - timedelta(milliseconds=5), later
    for failure in failures:
        wanted = timedelta(seconds=RETRY_SECONDS * 2 ** (failure.attempt - 1))
        # The retry instant is the attempt's start + the backoff; the log line comes after.
        assert failure.retry_at - failure.logged_at <= wanted + timedelta(milliseconds=1)


async def test_smtp_down_then_back_delivers_each_mail_once(
    scene: Scene, redis_server: RedisServer, mail_sink: MailSink, tmp_path: Path
) -> None:
    env = outreach_env(
        tmp_path,
        REDIS_URL=redis_server.url,
        SMTP_URL=mail_sink.url,  # nothing listens there yet
        OUTREACH_BROKER_NAMESPACE=redis_namespace("faults-smtp"),
        NOTIFICATION_RETRY_SECONDS=str(RETRY_SECONDS),
        SCHEDULER_INTERVAL="1",
        DB_POOL_MAX="4",
    )
    web, worker = await start_together(
        start_uvicorn(env, tmp_path / "web.log"), start_worker(env, tmp_path / "worker.log")
    )
    scheduler = await start_scheduler(env, tmp_path / "scheduler.log")
    statuses = []
    try:
        async with httpx.AsyncClient(base_url=web.url, timeout=30) as client:
            for i in range(BOOKINGS):
                response = await client.post(
                    f"/api/v1/slots/{scene.slot_ids[i % 8]}/bookings",
                    json={"class_label": f"s{i}", "grade": 8, "pupils": 2, "adults": 1},
                    headers={**bearer(scene.token), "Idempotency-Key": f"smtp-{i}"},
                )
                statuses.append(response.status_code)

        async def each_retried_while_down() -> bool:
            rows = await N.select(N.attempts, N.status)
            return bool(rows) and all(r["attempts"] >= 2 for r in rows)

        await wait_for(each_retried_while_down, within=60, what="a second failed attempt each")
        down = await N.select(N.status, N.attempts, N.due_at, N.last_error)
        down_at = utcnow()
        mail_sink.start()

        async def all_sent() -> bool:
            return await N.count().where(N.status != "sent") == 0

        await wait_for(all_sent, within=60, what="every notice sent once the server is back")
        back_in = (utcnow() - down_at).total_seconds()
    finally:
        await scheduler.stop()
        await worker.stop(grace=5)
        await web.stop()

    failures = _failures(worker)
    expected = await mailed_ids()
    lost, duplicated = mail_sink.tally(expected)
    counts = record(
        Counts(
            fault="smtp server down",
            sent=statuses.count(201),
            stored=await stored_bookings(),
            notifications=len(expected),
            mails=len(mail_sink.message_ids),
            lost=lost,
            duplicated=duplicated,
            extra={
                "failed_attempts": sum(len(each) for each in failures.values()),
                "max_attempts": max(r["attempts"] for r in await N.select(N.attempts)),
                "delivered_after_s": round(back_in, 1),
            },
        )
    )
    assert statuses == [201] * BOOKINGS
    assert counts.stored == BOOKINGS
    # While the server was down nothing was given up: every notice waits for a retry.
    assert {r["status"] for r in down} <= {"pending", "sending"}
    assert all(1 < r["attempts"] < MAX_ATTEMPTS for r in down)
    assert any("Connect" in r["last_error"] or "refused" in r["last_error"] for r in down)
    assert set(failures) == expected  # every notice failed while the server was away
    for each in failures.values():
        assert len(each) >= 2
        _backoff_kept(each)
    assert counts.notifications == 2 * BOOKINGS  # the teacher's and the firm's notice
    assert counts.lost == 0
    assert counts.duplicated == 0
    assert counts.mails == counts.notifications
