"""Fault: every connection between the web process and PostgreSQL cut for a few seconds.

A TCP proxy in this test sits between a real web process (uvicorn) and PostgreSQL. It
aborts every open connection and refuses new ones for a while, then listens again.
Meanwhile the service must say so (503 with Retry-After on bookings and pages, 503
from /health and /health/ready, 200 from /health/live) and must not answer 500; once
the proxy is back the same process serves bookings again (its pool reconnects), and
every booking it confirmed is in the database exactly once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from outreach.booking.tables import Booking
from outreach.outbox.tables import Notification
from tests.faults.conftest import Scene
from tests.faults.harness import (
    Counts,
    PgProxy,
    outreach_env,
    record,
    start_uvicorn,
    stored_bookings,
    wait_for,
)
from tests.support import bearer

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("engine", ["postgres"], indirect=True)]

BEFORE = 30  # bookings before the cut
DURING = 20  # bookings tried while the database is away
AFTER = 30  # new bookings once it is back
CUT_SECONDS = 3.0


async def test_postgres_cut_answers_503_and_recovers_without_restart(
    scene: Scene, tmp_path: Path
) -> None:
    proxy = PgProxy()
    await proxy.start()
    env = outreach_env(tmp_path, DATABASE_URL=proxy.dsn(), DB_POOL_MAX="4")
    web = await start_uvicorn(env, tmp_path / "web.log")
    answers: dict[str, list[int]] = {}  # Idempotency-Key -> statuses, in order
    during: dict[str, httpx.Response] = {}
    try:
        async with httpx.AsyncClient(base_url=web.url, timeout=30) as client:

            async def book(key: str, i: int) -> httpx.Response:
                response = await client.post(
                    f"/api/v1/slots/{scene.slot_ids[i % 8]}/bookings",
                    json={"class_label": key, "grade": 8, "pupils": 2, "adults": 1},
                    headers={**bearer(scene.token), "Idempotency-Key": key},
                )
                answers.setdefault(key, []).append(response.status_code)
                return response

            for i in range(BEFORE):
                await book(f"before-{i}", i)
            assert (await client.get("/health")).status_code == 200

            # The cut lands while bookings are on their way: some are mid-transaction.
            answered = 0
            three_answered = asyncio.Event()
            gate = asyncio.Semaphore(4)

            async def book_during(i: int) -> None:
                nonlocal answered
                async with gate:
                    await book(f"during-{i}", i)
                answered += 1
                if answered >= 3:
                    three_answered.set()

            burst = [asyncio.create_task(book_during(i)) for i in range(DURING)]
            await three_answered.wait()
            await proxy.cut()
            cut_at = time.monotonic()
            await asyncio.gather(*burst)
            for path in ("/health", "/health/ready", "/health/live", "/api/v1/bookings"):
                headers = bearer(scene.token) if path.startswith("/api") else {}
                during[path] = await client.get(path, headers=headers)
            during["page /"] = await client.get("/", headers={"Accept": "text/html"})
            await asyncio.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - cut_at)))
            down_for = time.monotonic() - cut_at

            await proxy.start()
            back_at = time.monotonic()

            async def healthy() -> bool:
                return (await client.get("/health")).status_code == 200

            await wait_for(healthy, within=30, what="the web process sees the database again")
            recovered_in = time.monotonic() - back_at
            # The client retries what was refused, with the same keys; then new bookings.
            for i in range(DURING):
                key = f"during-{i}"
                if answers[key][-1] != 201:
                    await book(key, i)
            for i in range(AFTER):
                await book(f"after-{i}", i)
    finally:
        await web.stop()
        await proxy.cut()

    statuses_during = [answers[f"during-{i}"][0] for i in range(DURING)]
    refused_during = statuses_during.count(503)
    keys = set(answers)
    confirmed = {key for key, codes in answers.items() if codes[-1] == 201}
    stored = await stored_bookings()
    labels = [row["class_label"] for row in await Booking.select(Booking.class_label)]
    without_notice = await Booking.count().where(
        Booking.id.not_in([r["booking"] for r in await Notification.select(Notification.booking)])
    )
    counts = record(
        Counts(
            fault="postgres connections cut",
            sent=len(keys),
            stored=stored,
            notifications=await Notification.count(),
            mails=0,  # no mail server in this test: notices wait in the outbox
            lost=len(confirmed - set(labels)) + without_notice,
            duplicated=len(labels) - len(set(labels)),
            extra={
                "cut_s": round(down_for, 1),
                "recovered_in_s": round(recovered_in, 1),
                "503_during_cut": refused_during,
                "proxied_connections": proxy.connections,
            },
        )
    )
    log = web.tail(1_000_000)
    # During the cut: a clean 503 with Retry-After, never a 500 or a stack trace.
    assert set(statuses_during) <= {201, 503}, statuses_during
    assert refused_during >= DURING // 2, statuses_during
    refused = during["/api/v1/bookings"]
    assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
    assert "Traceback" not in refused.text and refused.json()["message"]
    assert during["page /"].status_code == 503, during["page /"].text[:500]
    assert during["page /"].headers["Retry-After"].isdigit()
    for path in ("/health", "/health/ready"):
        assert during[path].status_code == 503
        assert during[path].json()["database"]["ok"] is False
    assert during["/health/live"].status_code == 200
    assert "unhandled error" not in log, log[-3000:]  # what a 500 logs
    # After: the same process books again; nothing confirmed is missing or doubled.
    assert confirmed == keys
    assert counts.stored == BEFORE + DURING + AFTER
    assert counts.lost == 0
    assert counts.duplicated == 0
