"""The scheduler's sweep: safe to run in several places at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from outreach.config import Settings
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.notifications.helpers import SmtpSink, make_booking, wait_until
from workers.scheduler import run_scheduler, run_sweep_once

N = Notification


async def _queue(count: int) -> None:
    for _ in range(count):
        booked = await make_booking()
        await outbox.enqueue(
            "booking.confirmed", booking_id=booked.booking_id, recipient=booked.contact_email
        )


async def test_racing_sweeps_send_each_mail_once(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    await _queue(10)
    results = await asyncio.gather(run_sweep_once(), run_sweep_once(), run_sweep_once())
    assert sum(r.outcomes.get("sent", 0) for r in results) == 10
    assert len(smtp_sink.messages) == 10
    assert len(set(smtp_sink.message_ids())) == 10


async def test_two_in_process_schedulers_send_each_mail_and_reminder_once(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    await _queue(5)
    # A visit in 20 hours, booked long ago: its one-day reminder is due.
    await make_booking(
        starts_at=utcnow() + timedelta(hours=20), created_at=utcnow() - timedelta(days=30)
    )
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_scheduler(stop, interval=0.05, direct=True)) for _ in range(2)]

    async def done() -> bool:
        return await N.count().where(N.status == "sent") == 6

    try:
        await wait_until(done)
        await asyncio.sleep(0.3)  # a few more ticks: nothing more may go out
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    assert len(smtp_sink.messages) == 6
    assert len(set(smtp_sink.message_ids())) == 6
    assert await N.count().where(N.kind == "booking.reminder") == 1
