"""Reminders: 7 and 1 days before by default, each once, never after the visit began."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outreach.config import Settings
from outreach.notifications import services
from outreach.outbox.tables import Notification
from tests.notifications.helpers import (
    SmtpSink,
    calendar_of,
    make_booking,
    move_slot,
    set_booking,
    text_of,
)
from workers.scheduler import run_sweep_once

N = Notification
START = datetime(2031, 6, 17, 7, 30, tzinfo=UTC)  # a Tuesday, 09:30 in Berlin
BOOKED_AT = START - timedelta(days=30)
MINUTE = timedelta(minutes=1)


async def _reminders() -> list[dict]:
    return await N.select().where(N.kind == "booking.reminder").order_by(N.id)


async def test_seven_days_and_one_day_before_each_once(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    booked = await make_booking(starts_at=START, created_at=BOOKED_AT)
    assert (await run_sweep_once(START - timedelta(days=8))).reminders == 0
    week = START - timedelta(days=7) + MINUTE
    assert (await run_sweep_once(week)).reminders == 1
    assert (await run_sweep_once(week + MINUTE)).reminders == 0
    assert (await run_sweep_once(START - timedelta(days=3))).reminders == 0
    day = START - timedelta(days=1) + MINUTE
    assert (await run_sweep_once(day)).reminders == 1
    assert (await run_sweep_once(day + timedelta(hours=2))).reminders == 0

    rows = await _reminders()
    assert [r["status"] for r in rows] == ["sent", "sent"]
    assert [r["payload"] for r in rows] == [
        f'{{"_itip": "REQUEST", "days": {d}, "starts_at": "{START.isoformat()}"}}' for d in (7, 1)
    ]
    first, second = smtp_sink.messages
    assert str(first["Subject"]).strip().startswith("Erinnerung: ")
    assert "ist in 7 Tagen" in text_of(first)
    assert "ist morgen" in text_of(second)
    assert booked.contact_email in str(first["To"])
    part = calendar_of(second)
    assert part is not None and part[0] == "REQUEST"


@pytest.mark.parametrize("status", ["cancelled", "declined", "waitlisted"])
async def test_none_for_bookings_that_do_not_hold_a_place(
    smtp_settings: Settings, smtp_sink: SmtpSink, status: str
) -> None:
    await make_booking(starts_at=START, created_at=BOOKED_AT, status=status)
    result = await run_sweep_once(START - timedelta(hours=3))
    assert result.reminders == 0
    assert smtp_sink.messages == []


async def test_pending_bookings_are_reminded_without_an_invitation(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    await make_booking(starts_at=START, created_at=BOOKED_AT, status="pending")
    await run_sweep_once(START - timedelta(days=1) + MINUTE)
    (message,) = smtp_sink.messages
    assert calendar_of(message) is None


async def test_a_reminder_for_a_booking_cancelled_since_is_skipped(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    booked = await make_booking(starts_at=START, created_at=BOOKED_AT)
    now = START - timedelta(days=1) + MINUTE
    assert await services.schedule_reminders(now) == 1
    await set_booking(booked, status="cancelled")
    result = await run_sweep_once(now)
    assert result.outcomes == {"skipped": 1}
    (row,) = await _reminders()
    assert row["status"] == "sent" and "booking is cancelled" in row["last_error"]
    assert smtp_sink.messages == []


async def test_after_downtime_the_missed_reminder_goes_out_once_if_the_visit_has_not_begun(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    await make_booking(starts_at=START, created_at=BOOKED_AT)
    # Nothing ran for eight days; two hours before the visit the service is back.
    back = START - timedelta(hours=2)
    result = await run_sweep_once(back)
    assert result.reminders == 1 and result.outcomes == {"sent": 1}
    (row,) = await _reminders()
    assert '"days": 1' in row["payload"]  # the nearest one, not the stale "7 days"
    assert (await run_sweep_once(back + MINUTE)).reminders == 0
    assert len(smtp_sink.messages) == 1
    assert "ist heute" in text_of(smtp_sink.messages[0])


async def test_never_after_the_visit_has_begun(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    await make_booking(starts_at=START, created_at=BOOKED_AT)
    await make_booking(starts_at=START, created_at=BOOKED_AT)
    # One reminder was queued in time but the mail could not go out before the start.
    assert await services.schedule_reminders(START - timedelta(hours=1)) == 2
    result = await run_sweep_once(START + MINUTE)
    assert result.reminders == 0
    assert result.outcomes == {"skipped": 2}
    assert {r["last_error"] for r in await _reminders()} == {"skipped: the visit has started"}
    assert smtp_sink.messages == []


async def test_a_booking_made_late_gets_only_the_reminders_still_ahead(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    await make_booking(starts_at=START, created_at=START - timedelta(days=3))
    assert (await run_sweep_once(START - timedelta(days=2))).reminders == 0
    assert (await run_sweep_once(START - timedelta(hours=20))).reminders == 1
    (row,) = await _reminders()
    assert '"days": 1' in row["payload"]


async def test_the_events_own_reminder_days_replace_the_default(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    await make_booking(starts_at=START, created_at=BOOKED_AT, reminder_days=[14, 3])
    assert (await run_sweep_once(START - timedelta(days=15))).reminders == 0
    assert (await run_sweep_once(START - timedelta(days=14) + MINUTE)).reminders == 1
    assert (await run_sweep_once(START - timedelta(days=7) + MINUTE)).reminders == 0
    assert (await run_sweep_once(START - timedelta(days=3) + MINUTE)).reminders == 1
    assert (await run_sweep_once(START - timedelta(days=1) + MINUTE)).reminders == 0
    payloads = [r["payload"] for r in await _reminders()]
    assert ['"days": 14' in payloads[0], '"days": 3' in payloads[1]] == [True, True]


async def test_a_moved_slot_gets_fresh_reminders_and_the_stale_one_is_skipped(
    smtp_settings: Settings, smtp_sink: SmtpSink
) -> None:
    booked = await make_booking(starts_at=START, created_at=BOOKED_AT)
    now = START - timedelta(days=7) + MINUTE
    assert await services.schedule_reminders(now) == 1
    await move_slot(booked, START + timedelta(days=14))  # before the reminder went out
    result = await run_sweep_once(now)
    assert result.outcomes == {"skipped": 1}
    assert "slot moved" in (await _reminders())[0]["last_error"]
    new_week = START + timedelta(days=7) + MINUTE
    assert (await run_sweep_once(new_week)).reminders == 1
    assert len(smtp_sink.messages) == 1
