"""The feeds' dirty queue: what the events and booking services call when they change.

Kept apart from `feeds.services` (which reads events and bookings) so that those
services can import it without an import cycle.
"""

from __future__ import annotations

from datetime import datetime

from outreach.feeds.tables import FeedChange
from outreach.timeutil import utcnow

__all__ = ["mark_changed"]


async def mark_changed(
    *,
    event_id: int | None = None,
    slot_id: int | None = None,
    booking_id: int | None = None,
    org_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Queue a re-render of what shows this event, slot or booking.

    One INSERT in the caller's transaction, so it commits or rolls back with the change;
    the publisher (`feeds.services.publish_pending`) renders later.
    """
    if event_id is None and slot_id is None and booking_id is None and org_id is None:
        return
    await FeedChange.insert(
        FeedChange(
            event_id=event_id,
            slot_id=slot_id,
            booking_id=booking_id,
            org_id=org_id,
            created_at=now or utcnow(),
        )
    )
