"""Several schedulers on one PostgreSQL database: one ticks at a time, nothing is done twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from outreach import db
from outreach.booking.cascades import anonymise_ended_bookings
from outreach.booking.tables import Booking
from outreach.config import Settings
from outreach.notifications import services
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow
from tests.notifications.helpers import SmtpSink, make_booking
from workers import scheduler
from workers.scheduler import TICK_LOCK_KEY, tick

N = Notification
pytestmark = pytest.mark.parametrize("engine", ["postgres"], indirect=True)


async def _queue(count: int) -> None:
    for _ in range(count):
        booked = await make_booking()
        await outbox.enqueue(
            "booking.confirmed", booking_id=booked.booking_id, recipient=booked.contact_email
        )


async def _reminder_due() -> int:
    """A visit in 20 hours, booked a month ago: its one-day reminder is owed."""
    booked = await make_booking(
        starts_at=utcnow() + timedelta(hours=20), created_at=utcnow() - timedelta(days=30)
    )
    return booked.booking_id


async def _long_past() -> int:
    """A visit that ended more than a year ago: its contact data must go."""
    booked = await make_booking(
        starts_at=utcnow() - timedelta(days=400), created_at=utcnow() - timedelta(days=430)
    )
    return booked.booking_id


@pytest.fixture
async def other_scheduler() -> AsyncIterator[asyncpg.Connection]:
    """A connection standing for a second scheduler, in the middle of its tick."""
    conn = await asyncpg.connect(db.current_engine().config["dsn"])
    yield conn
    await conn.close()


@pytest.fixture(autouse=True)
def _housekeeping_due(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "_last_run", {})


async def test_a_tick_is_skipped_while_another_scheduler_ticks(
    smtp_settings: Settings, smtp_sink: SmtpSink, other_scheduler: asyncpg.Connection
) -> None:
    await _queue(3)
    reminded = await _reminder_due()
    past = await _long_past()
    assert await other_scheduler.fetchval("SELECT pg_try_advisory_lock($1)", TICK_LOCK_KEY)

    assert await tick(direct=True) is False
    assert smtp_sink.messages == []
    assert await N.count().where(N.status == "pending") == 3
    assert await N.count().where(N.booking == reminded) == 0
    assert await Booking.count().where(Booking.anonymised_at.is_not_null()) == 0

    await other_scheduler.execute("SELECT pg_advisory_unlock($1)", TICK_LOCK_KEY)
    assert await tick(direct=True) is True
    assert await N.count().where(N.status == "sent") == 4  # three notices and the reminder
    assert len(smtp_sink.messages) == 4
    anonymised = await Booking.select(Booking.id).where(Booking.anonymised_at.is_not_null())
    assert [row["id"] for row in anonymised] == [past]


async def test_two_schedulers_ticking_at_once_do_the_work_once(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    await _queue(10)
    await _reminder_due()
    past = await _long_past()

    led = await asyncio.gather(tick(direct=True), tick(direct=True))
    assert True in led  # one led; the other skipped, or came after and found nothing left
    assert len(smtp_sink.messages) == 11
    assert len(set(smtp_sink.message_ids())) == 11
    assert await N.count() == 11  # no duplicate outbox rows
    assert await N.count().where(N.kind == "booking.reminder") == 1
    row = await Booking.select(Booking.contact_email).where(Booking.id == past).first()
    assert row is not None and row["contact_email"] == ""


async def test_each_part_is_safe_when_two_run_together_without_the_lock(
    smtp_settings: Settings,
) -> None:
    """Belt and braces: a scheduler that lost its lock connection mid-tick, say."""
    owed = [await _reminder_due() for _ in range(3)]
    ended = [await _long_past() for _ in range(2)]

    queued = await asyncio.gather(*(services.schedule_reminders() for _ in range(3)))
    assert sum(queued) == 3
    reminders = await N.select(N.booking).where(N.kind == "booking.reminder")
    assert sorted(row["booking"] for row in reminders) == sorted(owed)

    anonymised = await asyncio.gather(anonymise_ended_bookings(), anonymise_ended_bookings())
    assert sum(anonymised) == 2
    stamped = await Booking.select(Booking.id).where(Booking.anonymised_at.is_not_null())
    assert sorted(row["id"] for row in stamped) == sorted(ended)
