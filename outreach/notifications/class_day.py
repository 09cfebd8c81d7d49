"""One mail per class day: the teacher hears of a day's confirmations at once.

A class's day at several firms (an itinerary) is several bookings. Told one by one,
a three-firm day brings the teacher three "confirmed" mails, at whatever moments the
hosts answer. Instead, the visits' own confirmations are folded into one notice of
the day, `itinerary.confirmed`, queued once per itinerary (its dedupe key) when no
visit of the day waits for a host's answer any more:

- booked at once (every host confirms automatically): at booking;
- hosts that approve by hand: when the last pending visit is answered (confirmed,
  declined, or cancelled); until then the confirmations already given wait for it.

The day's mail lists every visit with its status and carries an invitation for each
confirmed one. After it, every visit speaks for itself again: a replacement booked
later, a visit declined, cancelled or moved gets its own mail, once (PRODUCT.md rule
5). Declines and cancellations are never held back: they ask the teacher to act.

The decisions are taken when a notice is delivered, from the state of the day then.
A visit's confirmation is skipped ("told in the class day's mail") when the day's
mail has invited it, or is queued and not claimed yet (it reads the state when it is
built, after this confirmation committed); it waits a moment while the day's mail is
being sent (whether that mail invited it is known only once it is sent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from outreach.itineraries.views import ItineraryNotice
from outreach.notifications.schemas import MailContext
from outreach.outbox import services as outbox
from outreach.outbox.schemas import ClaimedNotification
from outreach.outbox.services import SKIPPED_PREFIX
from outreach.outbox.tables import Notification

__all__ = [
    "DAY_KIND",
    "INVITED_MARK",
    "Fold",
    "day_key",
    "fold_confirmation",
    "invited_by_day_mail",
    "queue_when_answered",
]

DAY_KIND = "itinerary.confirmed"
# The day's sent row records the bookings its invitation carried.
INVITED_MARK = "_invited"
# How long a visit's confirmation waits while the day's mail is being sent.
WAIT = timedelta(seconds=30)
# Why a visit's confirmation was not mailed: the day still waits for a host's answer.
WAITING = "told in the class day's mail, once every firm has answered"

N = Notification


@dataclass(frozen=True, slots=True)
class Fold:
    """What to do with a visit's own confirmation: send it, skip it, or ask again later."""

    send: bool = False
    skip: str = ""
    retry_at: datetime | None = None


def day_key(itinerary_id: int) -> str:
    return f"{DAY_KIND}:{itinerary_id}"


async def fold_confirmation(
    note: ClaimedNotification, ctx: MailContext, day: ItineraryNotice, now: datetime
) -> Fold:
    """The fate of `booking.confirmed` for a visit of a class's day (see the module)."""
    row = await _day_row(day.itinerary_id)
    if row is not None:
        if row["status"] == "sent" and ctx.booking_id in _invited(row):
            return Fold(skip="told in the class day's mail")
        if row["status"] == "sending":
            return Fold(retry_at=now + WAIT, skip="the class day's mail is being sent")
        if row["status"] == "pending":
            return Fold(skip="told in the class day's mail, queued")
        return Fold(send=True)  # the day was told before this visit was confirmed
    if _waiting(day):
        return Fold(skip=WAITING)
    await _queue(note, ctx, day)
    return Fold(skip="told in the class day's mail")


async def queue_when_answered(
    note: ClaimedNotification, ctx: MailContext, day: ItineraryNotice
) -> None:
    """After a visit of the day was declined or cancelled: if that was the last answer
    awaited and some visit is confirmed, the day's mail goes now."""
    if _waiting(day) or ctx.booking_status == "pending":
        return
    confirmed = [v.booking_id for v in day.other_visits if v.status == "confirmed"]
    if not confirmed or await _day_row(day.itinerary_id) is not None:
        return
    # Only when a confirmation waits for it (not for a day whose visits were told one by
    # one before this mail existed).
    held = await N.exists().where(
        N.booking.is_in(confirmed)
        & (N.kind == "booking.confirmed")
        & (N.last_error == SKIPPED_PREFIX + WAITING)
    )
    if held:
        await _queue(note, ctx, day)


async def invited_by_day_mail(booking_id: int, day: ItineraryNotice) -> bool:
    """Did the class day's mail go out with an invitation for this booking?"""
    row = await _day_row(day.itinerary_id)
    return row is not None and row["status"] == "sent" and booking_id in _invited(row)


def _waiting(day: ItineraryNotice) -> bool:
    return any(v.status == "pending" for v in day.other_visits)


async def _day_row(itinerary_id: int) -> dict[str, Any] | None:
    return await N.select(N.status, N.payload).where(N.dedupe_key == day_key(itinerary_id)).first()


def _invited(row: dict[str, Any]) -> set[int]:
    return set(json.loads(row["payload"] or "{}").get(INVITED_MARK) or [])


async def _queue(note: ClaimedNotification, ctx: MailContext, day: ItineraryNotice) -> None:
    first = min([ctx.booking_id, *(v.booking_id for v in day.other_visits)])
    await outbox.enqueue(
        DAY_KIND,
        # A visit of the day: anonymising its booking forgets this row's address too.
        booking_id=first,
        recipient=note.recipient,
        language=note.language,
        payload={"itinerary_id": day.itinerary_id},
        key=day_key(day.itinerary_id),
    )
