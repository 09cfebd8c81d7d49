"""Fault: an `outreach worker` killed with SIGKILL in the middle of a batch of mails.

A real worker delivers a batch through a slow SMTP server (it keeps each mail, then
takes a moment to answer 250, like a relay writing to disk). The worker's process group
gets SIGKILL mid-batch; a second worker starts; the scheduler hands the notices again
once the dead worker's claims have expired (NOTIFICATION_LEASE_SECONDS, short here).

Every notice must end `sent` and reach the server. Duplicates: a mail the server had
kept when the worker died, before its 250 arrived, is sent again, with the same
Message-ID. Nobody can tell those apart without the server's help (RFC 1047), so the
bound is: at most one duplicate per notice the dead worker was sending at that moment
(its threads), each with the Message-ID of the first copy. Notices it had taken from
the queue but not started, and the rest of the batch, go out once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach.db import write_transaction
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from tests.faults.harness import (
    Counts,
    MailSink,
    RedisServer,
    mailed_ids,
    outreach_env,
    record,
    start_scheduler,
    start_worker,
    wait_for,
)
from tests.notifications.helpers import make_booking
from tests.support import redis_namespace

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("engine", ["postgres"], indirect=True)]

N = Notification
BATCH = 40
THREADS = 2
KILL_AFTER = 10  # mails the server has kept when the worker dies
LEASE_SECONDS = 3


async def _queue(count: int) -> list[int]:
    ids = []
    async with write_transaction():
        for _ in range(count):
            booked = await make_booking()
            notification_id = await outbox.enqueue(
                "booking.confirmed", booking_id=booked.booking_id, recipient=booked.contact_email
            )
            assert notification_id is not None
            ids.append(notification_id)
    return ids


async def test_worker_killed_mid_batch_every_mail_arrives_duplicates_bounded(
    db: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    sink = MailSink(delay=0.25)
    sink.start()
    env = outreach_env(
        tmp_path,
        REDIS_URL=redis_server.url,
        SMTP_URL=sink.url,
        OUTREACH_BROKER_NAMESPACE=redis_namespace("faults-kill"),
        NOTIFICATION_LEASE_SECONDS=str(LEASE_SECONDS),
        SCHEDULER_INTERVAL="1",
        DB_POOL_MAX="4",
    )
    ids = await _queue(BATCH)
    first = await start_worker(env, tmp_path / "worker-1.log", threads=THREADS)
    scheduler = await start_scheduler(env, tmp_path / "scheduler.log")
    second = None
    try:

        async def mid_batch() -> bool:
            return len(sink.message_ids) >= KILL_AFTER

        await wait_for(mid_batch, within=60, interval=0.02, what=f"{KILL_AFTER} mails kept")
        first.kill_hard()
        await first.process.wait()
        kept_at_kill = len(sink.message_ids)
        in_flight = await N.count().where(N.status == "sending")
        second = await start_worker(env, tmp_path / "worker-2.log", threads=THREADS)

        async def all_sent() -> bool:
            return await N.count().where(N.status != "sent") == 0

        await wait_for(all_sent, within=90, what="every notice sent after the kill")
    finally:
        await scheduler.stop()
        if second is not None:
            await second.stop(grace=5)
        sink.stop()

    expected = await mailed_ids()
    lost, duplicated = sink.tally(expected)
    message_ids = sink.message_ids
    counts = record(
        Counts(
            fault="worker SIGKILL mid-batch",
            sent=len(ids),
            stored=await N.count(),
            notifications=len(expected),
            mails=len(message_ids),
            lost=lost,
            duplicated=duplicated,
            extra={
                "kept_before_kill": kept_at_kill,
                "sending_at_kill": in_flight,
                "lease_s": LEASE_SECONDS,
            },
        )
    )
    assert expected == set(ids)
    assert counts.lost == 0
    # The documented bound: only what the dead worker was sending can arrive twice...
    assert in_flight <= THREADS
    assert counts.duplicated <= in_flight
    # ...and a repeat carries the first copy's Message-ID: one distinct id per notice.
    assert len(set(message_ids)) == len(expected)
    assert counts.mails == len(expected) + counts.duplicated
