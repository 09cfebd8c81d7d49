"""What other features and the scheduler ask of the booking engine: cancel an
event's bookings, tell bookers of a moved slot or a changed event, and forget the
bookers' personal data (on request and after the visit).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from outreach.booking.rules import OPEN_STATUSES
from outreach.booking.tables import HOLDING_STATUSES, Booking, IdempotencyRecord
from outreach.booking.writes import _end, _tell_booker
from outreach.calendar import changes as feeds
from outreach.config import get_settings
from outreach.db import for_update, write_transaction
from outreach.outbox import services as outbox
from outreach.timeutil import utcnow

__all__ = [
    "anonymise_bookings_of",
    "anonymise_ended_bookings",
    "cancel_all_for_event",
    "notify_event_changed",
    "notify_slot_moved",
]

log = logging.getLogger(__name__)


async def anonymise_bookings_of(
    user_id: int, email: str = "", *, now: datetime | None = None
) -> int:
    """Drop the contact data of every booking a user made, and of those made under their
    address without signing in (their account is deleted).

    Status, counts, grade and school stay, so places held and the reports stay right.
    The user's idempotency records go too. Runs in the caller's transaction.
    """
    theirs = Booking.booked_by == user_id
    if email:
        theirs = theirs | (Booking.contact_email == email.strip().lower())
    before = await Booking.select(Booking.id, Booking.contact_email).where(theirs)
    rows = (
        await Booking.update(_NO_CONTACT | {Booking.anonymised_at: now or utcnow()})
        .where(theirs)
        .returning(Booking.id)
    )
    for row in rows:
        await feeds.mark_changed(booking_id=row["id"])
    await outbox.forget_recipients(
        [row["id"] for row in before], [row["contact_email"] for row in before]
    )
    await IdempotencyRecord.delete().where(IdempotencyRecord.scoped_key.like(f"user:{user_id}:%"))
    return len(rows)


# What anonymising a booking empties: every field a person wrote or is named in.
_NO_CONTACT: dict[Any, Any] = {
    Booking.contact_name: "",
    Booking.contact_email: "",
    Booking.notes: "",
    Booking.reason: "",
    Booking.booked_by: None,
}


async def cancel_all_for_event(
    event_id: int, reason: str, *, now: datetime, slot_id: int | None = None
) -> int:
    """Cancel every open booking of a cancelled event, or of its one cancelled slot, and
    free its places; the waiting ones too, so the waiting list is closed. A single time's
    bookers get the mail of a cancelled booking, with the host's reason."""
    where = (Booking.event == event_id) & Booking.status.is_in(list(OPEN_STATUSES))
    if slot_id is not None:
        where &= Booking.slot == slot_id
    bookings = await for_update(Booking.objects().where(where))
    kind = "event.cancelled" if slot_id is None else "booking.cancelled"
    for booking in bookings:
        await _end(booking, "cancelled", reason, now)
        await _tell_booker(booking, kind, {"by": "host", "reason": reason})
    return len(bookings)


async def notify_slot_moved(
    slot_id: int, old_start: datetime, old_end: datetime, *, now: datetime
) -> None:
    bookings = await Booking.objects().where(
        (Booking.slot == slot_id) & Booking.status.is_in(list(OPEN_STATUSES))
    )
    payload = {"old_starts_at": old_start.isoformat(), "old_ends_at": old_end.isoformat()}
    for booking in bookings:
        await _tell_booker(booking, "slot.moved", payload, instant=now)


async def notify_event_changed(event_id: int, *, now: datetime) -> None:
    bookings = await Booking.objects().where(
        (Booking.event == event_id) & Booking.status.is_in(list(HOLDING_STATUSES))
    )
    for booking in bookings:
        await _tell_booker(booking, "event.updated", {}, instant=now)


async def anonymise_ended_bookings(*, now: datetime | None = None) -> int:
    """Drop the contact data of bookings whose visit ended long enough ago.

    Counts, grade, school and status stay for the reports; names, addresses and notes go.
    Safe to run on several schedulers at once: it only touches rows not yet anonymised.
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=get_settings().anonymise_after_days)
    due = Booking.anonymised_at.is_null() & (Booking.slot.ends_at < cutoff)
    async with write_transaction():
        before = await Booking.select(Booking.id, Booking.contact_email).where(due)
        rows = (
            await Booking.update(_NO_CONTACT | {Booking.anonymised_at: now})
            .where(due)
            .returning(Booking.id)
        )
        # The outbox keeps no address the booking no longer has.
        await outbox.forget_recipients(
            [row["id"] for row in before], [row["contact_email"] for row in before]
        )
    if rows:
        log.info("anonymised %d bookings of visits that ended before %s", len(rows), cutoff)
    return len(rows)
