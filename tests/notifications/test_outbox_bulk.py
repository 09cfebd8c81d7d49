"""Many notices at once: e.g. thousands of reminders due after downtime, in one sweep."""

from __future__ import annotations

from datetime import timedelta

from outreach.config import Settings
from outreach.outbox import services as outbox
from outreach.outbox.tables import Notification
from outreach.timeutil import utcnow

N = Notification


async def test_thousands_of_rows_are_queued_in_one_call_each_once(
    mail_settings: Settings,
) -> None:
    """One INSERT of them all would pass asyncpg's limit of 32,767 query arguments."""
    now = utcnow()

    def rows() -> list[Notification]:
        return [
            outbox.planned(
                "booking.reminder",
                None,
                f"lehrerin{n}@schule.example",
                "de",
                {"days": 1},
                now + timedelta(seconds=n),
                now,
            )
            for n in range(3000)
        ]

    assert len(await outbox._insert_ignoring_duplicates(rows())) == 3000
    assert await outbox._insert_ignoring_duplicates(rows()) == []  # already queued
    assert await N.count() == 3000
