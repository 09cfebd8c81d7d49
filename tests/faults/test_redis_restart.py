"""Fault: Redis killed and started again in the middle of a burst of bookings.

A real web process (uvicorn) and a real `outreach worker` use the test's own
redis-server; 200 bookings arrive over HTTP; Redis gets SIGKILL after a third of them
(the messages queued in it are gone) and comes back on the same port a little later.
Every booking must still be stored, and after one `outreach scheduler --once` every
notice must reach the SMTP server exactly once.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import httpx
import pytest

from outreach.booking.tables import Booking
from outreach.outbox.tables import Notification
from tests.faults.conftest import Scene
from tests.faults.harness import (
    Counts,
    MailSink,
    RedisServer,
    mailed_ids,
    outreach_env,
    record,
    run_once,
    start_together,
    start_uvicorn,
    start_worker,
    stored_bookings,
    wait_for,
)
from tests.support import bearer, redis_namespace

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("engine", ["postgres"], indirect=True)]

N = Notification
BOOKINGS = 200
AT_ONCE = 16
KILL_AFTER = 60  # answers before Redis dies
RESTART_AFTER = 130  # answers before it comes back


async def test_redis_killed_during_a_burst_loses_no_booking_and_no_mail(
    scene: Scene, redis_server: RedisServer, mail_sink: MailSink, tmp_path: Path
) -> None:
    mail_sink.start()
    env = outreach_env(
        tmp_path,
        REDIS_URL=redis_server.url,
        SMTP_URL=mail_sink.url,
        OUTREACH_BROKER_NAMESPACE=redis_namespace("faults-redis"),
        DB_POOL_MAX="6",
    )
    web, worker = await start_together(
        start_uvicorn(env, tmp_path / "web.log"), start_worker(env, tmp_path / "worker.log")
    )
    statuses: dict[int, int] = {}
    down_for = 0.0
    redis_down = False
    seconds: dict[bool, list[float]] = {False: [], True: []}  # answer times, Redis up/down
    try:
        answered = asyncio.Event()

        async def redis_outage() -> None:
            nonlocal down_for, redis_down
            while len(statuses) < KILL_AFTER:
                await answered.wait()
                answered.clear()
            await redis_server.kill()
            redis_down = True
            killed = time.monotonic()
            while len(statuses) < RESTART_AFTER:
                await answered.wait()
                answered.clear()
            await redis_server.start()
            redis_down = False
            down_for = time.monotonic() - killed

        gate = asyncio.Semaphore(AT_ONCE)
        async with httpx.AsyncClient(timeout=60) as client:

            async def book(i: int) -> None:
                async with gate:
                    started, down_then = time.monotonic(), redis_down
                    response = await client.post(
                        f"{web.url}/api/v1/slots/{scene.slot_ids[i % 8]}/bookings",
                        json={"class_label": f"r{i}", "grade": 8, "pupils": 2, "adults": 1},
                        headers={**bearer(scene.token), "Idempotency-Key": f"redis-{i}"},
                    )
                seconds[down_then].append(time.monotonic() - started)
                statuses[i] = response.status_code
                answered.set()

            outage = asyncio.create_task(redis_outage())
            await asyncio.gather(*(book(i) for i in range(BOOKINGS)))
            await asyncio.wait_for(outage, timeout=30)

        # The sweep finds what the dead Redis took with it; the worker the rest.
        sweep_log = tmp_path / "scheduler.log"
        await run_once(env, sweep_log)

        async def all_sent() -> bool:
            return await N.count().where(N.status != "sent") == 0

        await wait_for(all_sent, within=60, what="every notice sent")
    finally:
        await worker.stop()
        await web.stop()

    stored = await stored_bookings()
    expected = await mailed_ids()
    lost_mails, duplicated = mail_sink.tally(expected)
    accepted = sum(1 for code in statuses.values() if code == 201)
    undelivered = await Booking.count().where(
        Booking.id.not_in([r["booking"] for r in await N.select(N.booking)])
    )
    counts = record(
        Counts(
            fault="redis killed mid-burst",
            sent=accepted,
            stored=stored,
            notifications=len(expected),
            mails=len(mail_sink.message_ids),
            lost=(accepted - stored) + lost_mails + undelivered,
            duplicated=duplicated,
            extra={
                "redis_down_s": round(down_for, 1),
                "mailed_by_sweep": sweep_log.read_text().count(" sent to "),
                # Informative only: each booking tries to hand its notices to Redis.
                "median_ms_redis_up": round(1000 * statistics.median(seconds[False])),
                "median_ms_redis_down": round(1000 * statistics.median(seconds[True])),
            },
        )
    )
    assert statuses == dict.fromkeys(range(BOOKINGS), 201), web.tail()
    assert counts.stored == BOOKINGS
    assert counts.notifications >= BOOKINGS  # the booker's notice at least, per booking
    assert counts.lost == 0
    assert counts.duplicated == 0
    assert counts.mails == counts.notifications
