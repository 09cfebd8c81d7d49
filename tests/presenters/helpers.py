"""A school's parents' evening and the firms of `make_world`, for the presenter tests."""

from __future__ import annotations

from outreach.notifications import services as delivery
from outreach.outbox.tables import Notification
from tests.factories import at, make_event, make_slot, school_day


async def make_evening(host, *, days: int = 21, status: str = "published") -> int:
    """A parents' evening of `host` (a school) with one time at 18:30."""
    event_id = await make_event(host, kind="parents_evening", status=status)
    await make_slot(host, event_id, capacity=80, starts_at=at(school_day(days), 18, 30))
    return event_id


async def deliver_all() -> list[str]:
    """Send every pending notice now (as a worker would); the outcomes in id order."""
    rows = await Notification.select(Notification.id).where(Notification.status == "pending")
    return [await delivery.deliver(r["id"]) for r in sorted(rows, key=lambda r: r["id"])]


async def notices() -> list[dict]:
    return await Notification.select(
        Notification.kind, Notification.recipient, Notification.status, Notification.language
    ).order_by(Notification.id)
