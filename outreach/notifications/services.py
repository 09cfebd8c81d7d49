"""Delivery: one path for every notice in the outbox, with a mail builder per kind.

`deliver` claims a row (`outreach.outbox`), asks the builder of its kind for the mail
(booking notices, booking notices that concern a class's day at several firms, and
presenter notices), sends it and finishes the row; every outcome is counted in
`outreach_notification_deliveries_total`.

A row whose booking changed so that the notice no longer applies is not mailed but
marked `sent` with `last_error` starting "skipped: " (the table has no status for
it). The rules, in `_skip_reason`: the booking is gone or anonymised; a reminder for a
booking that is no longer pending or confirmed, whose slot or event is cancelled,
whose visit has started, or whose slot moved since the reminder was planned; an
invitation (confirmed, promoted, moved) for a booking that is cancelled or declined
by now, whose slot or event is cancelled, or whose visit is over: the later notice
(cancelled, declined, event cancelled) tells the current state. All other kinds go out.

iTIP: REQUEST for confirmed, promoted, moved and reminder mails of a confirmed booking;
CANCEL for cancelled, declined and event-cancelled mails, only when an invitation
went out before (nothing to take out of a calendar otherwise). The method sent is
recorded in the row's payload as "_itip". SEQUENCE is booking.sequence +
slot.sequence: booking services raise the first on every status change, event
services the second on every move or cancellation, so the sum grows on every change.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from outreach import config
from outreach.booking.tables import HOLDING_STATUSES, Booking
from outreach.config import Settings
from outreach.itineraries.views import itinerary_for_booking
from outreach.notifications import class_day, mail, transports
from outreach.notifications.context import Claim, claim
from outreach.notifications.context import load_context as _load_context
from outreach.notifications.internship_mail import internship_message
from outreach.notifications.presenter_mail import presenter_message
from outreach.notifications.schemas import CANCEL_KINDS, REQUEST_KINDS, ItipMethod, MailContext
from outreach.observability import NOTIFICATION_DELIVERIES
from outreach.outbox import services as outbox
from outreach.outbox.schemas import (
    DAY_KINDS,
    INTERNSHIP_KINDS,
    PRESENTER_KINDS,
    ClaimedNotification,
    DeliveryOutcome,
)
from outreach.outbox.services import SKIPPED_PREFIX
from outreach.outbox.tables import Notification
from outreach.timeutil import as_utc, utcnow

__all__ = ["ITINERARY_KINDS", "Built", "deliver", "schedule_reminders"]

log = logging.getLogger(__name__)

ITIP_MARK = "_itip"

N = Notification


@dataclasses.dataclass(frozen=True, slots=True)
class Built:
    """What a builder made of a claimed notice: a mail, or the reason to send none."""

    message: EmailMessage | transports.OutgoingMail | None
    skip: str = ""
    # Recorded in the row's payload once the mail went out.
    sent_payload: Mapping[str, Any] | None = None
    # No mail yet: ask again at this instant (the class day's mail is being sent).
    retry_at: datetime | None = None


Builder = Callable[[Claim, datetime, Settings], Awaitable[Built]]


# --------------------------------------------------------------------------- delivering


async def deliver(notification_id: int, now: datetime | None = None) -> DeliveryOutcome:
    """Claim, build and send one notice; safe to call any number of times."""
    now = _now(now)
    claimed = await claim(notification_id, now)
    if claimed is None:
        return "not_claimed"
    note = claimed.note
    settings = config.get_settings()
    try:
        built = await _builder(note.kind)(claimed, now, settings)
        if built.message is None and built.retry_at is not None:
            await outbox.postpone(note, built.retry_at, built.skip)
            log.info("notification %s (%s) waits: %s", note.id, note.kind, built.skip)
            NOTIFICATION_DELIVERIES.labels("retry").inc()
            return "retry"
        if built.message is None:
            await outbox.finish(note, now, note_text=SKIPPED_PREFIX + built.skip)
            log.info("notification %s (%s) skipped: %s", note.id, note.kind, built.skip)
            NOTIFICATION_DELIVERIES.labels("skipped").inc()
            return "skipped"
        await transports.transport_for(settings).send(built.message)
    except Exception as exc:
        permanent = isinstance(exc, transports.PermanentDeliveryError)
        gave_up = await outbox.fail(note, now, f"{type(exc).__name__}: {exc}", permanent=permanent)
        outcome: DeliveryOutcome = "failed" if gave_up else "retry"
        NOTIFICATION_DELIVERIES.labels(outcome).inc()
        return outcome
    # Outside the try: a failure here must not put back a mail that went out.
    await outbox.finish(note, now, payload=built.sent_payload)
    NOTIFICATION_DELIVERIES.labels("sent").inc()
    return "sent"


def _builder(kind: str) -> Builder:
    if kind in PRESENTER_KINDS:
        return _presenter_mail
    if kind in INTERNSHIP_KINDS:
        return _internship_mail
    if kind in DAY_KINDS:
        return _class_day_mail
    if kind in ITINERARY_KINDS:
        return _itinerary_mail
    if kind == "booking.confirmed":
        return _confirmation_mail
    return _booking_mail


async def _booking_mail(claimed: Claim, now: datetime, settings: Settings) -> Built:
    return await _mail_about_booking(claimed, now, settings, with_itinerary=False)


async def _itinerary_mail(claimed: Claim, now: datetime, settings: Settings) -> Built:
    return await _mail_about_booking(claimed, now, settings, with_itinerary=True)


async def _confirmation_mail(claimed: Claim, now: datetime, settings: Settings) -> Built:
    """A visit's confirmation: folded into its class day's mail when it is part of one."""
    note, ctx = claimed.note, await claimed.context()
    if ctx is not None and _skip_reason(note, ctx, now) is None:
        day = await itinerary_for_booking(ctx.booking_id)
        if day is not None and note.recipient.lower() == ctx.contact_email.lower():
            fold = await class_day.fold_confirmation(note, ctx, day, now)
            if not fold.send:
                return Built(None, fold.skip, retry_at=fold.retry_at)
    return await _mail_about_booking(claimed, now, settings, with_itinerary=False)


async def _class_day_mail(claimed: Claim, now: datetime, settings: Settings) -> Built:
    """`itinerary.confirmed`: every visit of the class's day, one invitation each."""
    note, first = claimed.note, await claimed.context()
    if first is None or first.anonymised:
        return Built(None, "the bookings of the day are gone or anonymised")
    day = await itinerary_for_booking(first.booking_id)
    if day is None:
        return Built(None, "the class day no longer exists")
    visits = [first]
    for other in day.other_visits:
        if (ctx := await _load_context(other.booking_id)) is not None:
            visits.append(ctx)
    visits.sort(key=lambda v: (v.slot_starts_at, v.booking_id))
    if not mail.invitable_visits(visits, now):
        return Built(None, "no visit of the day is confirmed and still to come")
    message, invited = mail.build_day_message(
        note,
        visits,
        day=day.day,
        class_label=day.class_label,
        itinerary_url=day.itinerary_url,
        settings=settings,
        now=now,
        invite=await claimed.invitations_wanted(),
    )
    if not invited:
        return Built(message)
    return Built(message, sent_payload={ITIP_MARK: "REQUEST", class_day.INVITED_MARK: invited})


async def _presenter_mail(claimed: Claim, now: datetime, settings: Settings) -> Built:
    """A notice about a presenter invitation (no booking)."""
    message, skip = await presenter_message(claimed.note, settings, now=now)
    return Built(message, skip)


async def _internship_mail(claimed: Claim, now: datetime, settings: Settings) -> Built:
    """A notice about internship placements (no booking)."""
    message, skip = await internship_message(claimed.note, settings, now=now)
    return Built(message, skip)


async def _mail_about_booking(
    claimed: Claim, now: datetime, settings: Settings, *, with_itinerary: bool
) -> Built:
    note, ctx = claimed.note, await claimed.context()
    skip = _skip_reason(note, ctx, now)
    if skip is not None:
        return Built(None, skip)
    assert ctx is not None  # _skip_reason skips a missing booking
    if with_itinerary:
        ctx = dataclasses.replace(ctx, itinerary=await itinerary_for_booking(ctx.booking_id))
    method = await _itip_method(claimed, ctx)
    message = mail.build_mail(note, ctx, settings, method=method, now=now)
    if ctx.itinerary is not None and note.recipient.lower() == ctx.contact_email.lower():
        # The last answer the day waited for: its confirmations go out now, in one mail.
        await class_day.queue_when_answered(note, ctx, ctx.itinerary)
    return Built(message, sent_payload={ITIP_MARK: method} if method else None)


# --------------------------------------------------------------------------- reminders


async def schedule_reminders(now: datetime | None = None) -> int:
    """Queue each reminder whose instant has passed, once; returns how many were queued.

    Reminder instants are `days` before the slot's start for each of the event's
    `reminder_days` (or the settings' default). Only one is owed at a time: the latest
    passed instant after the booking was made, so a booking made three days ahead gets
    no "seven days" reminder, and after downtime only the nearest missed one goes out,
    if the visit has not started.
    """
    now = _now(now)
    defaults = config.get_settings().reminder_days
    rows = await _reminder_candidates(now)
    planned = [row for row in (_planned_reminder(r, now, defaults) for r in rows) if row]
    if not planned:
        return 0
    inserted = await outbox.enqueue_planned(planned)
    if inserted:
        log.info("queued %d reminder(s)", len(inserted))
    return len(inserted)


async def _reminder_candidates(now: datetime) -> list[dict[str, Any]]:
    return await Booking.select(
        Booking.id,
        Booking.contact_email,
        Booking.language,
        Booking.created_at,
        Booking.slot.starts_at.as_alias("starts_at"),
        Booking.event.reminder_days.as_alias("reminder_days"),
    ).where(
        Booking.status.is_in(list(HOLDING_STATUSES))
        & (Booking.slot.starts_at > now)
        & (Booking.slot.cancelled == False)  # noqa: E712 (a query, not a comparison)
        & (Booking.event.status != "cancelled")
        & Booking.anonymised_at.is_null()
        & (Booking.contact_email != "")
        # An unconfirmed public registration gets no reminder; it may yet be released.
        & Booking.verify_by.is_null()
    )


def _planned_reminder(
    row: Mapping[str, Any], now: datetime, defaults: Iterable[int]
) -> Notification | None:
    starts_at: datetime = row["starts_at"]
    days = [d for d in (row["reminder_days"] or defaults) if d > 0]
    owed = [
        (d, starts_at - timedelta(days=d))
        for d in days
        if row["created_at"] < starts_at - timedelta(days=d) <= now
    ]
    if not owed:
        return None
    days_before, instant = min(owed)  # the fewest days before: the latest instant
    payload = {"days": days_before, "starts_at": as_utc(starts_at).isoformat()}
    return outbox.planned(
        "booking.reminder",
        row["id"],
        row["contact_email"],
        row["language"],
        payload,
        instant,
        instant,
    )


# --------------------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return utcnow() if now is None else as_utc(now)


# A visit of a class's day fell away: the mail says so and offers a replacement.
ITINERARY_KINDS = ("booking.cancelled", "booking.declined", "event.cancelled")


def _skip_reason(note: ClaimedNotification, ctx: MailContext | None, now: datetime) -> str | None:
    if ctx is None:
        return "the booking no longer exists"
    if ctx.anonymised:
        return "the booking is anonymised"
    if note.kind == "booking.reminder":
        return _reminder_skip_reason(note, ctx, now)
    if note.kind in REQUEST_KINDS:
        if ctx.booking_status in ("cancelled", "declined"):
            return f"the booking is {ctx.booking_status} by now"
        if _visit_cancelled(ctx):
            return "the visit is cancelled"
        if now >= ctx.slot_ends_at:
            return "the visit is over"
    return None


def _reminder_skip_reason(note: ClaimedNotification, ctx: MailContext, now: datetime) -> str | None:
    if ctx.booking_status not in HOLDING_STATUSES:
        return f"the booking is {ctx.booking_status}"
    if _visit_cancelled(ctx):
        return "the visit is cancelled"
    if now >= ctx.slot_starts_at:
        return "the visit has started"
    planned = note.payload.get("starts_at")
    if planned and as_utc(datetime.fromisoformat(planned)) != ctx.slot_starts_at:
        return "the slot moved after the reminder was planned"
    return None


def _visit_cancelled(ctx: MailContext) -> bool:
    return ctx.slot_cancelled or ctx.event_status == "cancelled"


async def _itip_method(claimed: Claim, ctx: MailContext) -> ItipMethod | None:
    note = claimed.note
    if note.kind in REQUEST_KINDS:
        # A pending booking is not in anyone's calendar yet; it is invited once confirmed.
        if ctx.booking_status != "confirmed":
            return None
        # An entry an invitation made is kept current whatever the choice is by now:
        # else a moved visit would stay at its old time in that calendar.
        if await claimed.invitations_wanted() or await _invitation_sent(ctx):
            return "REQUEST"
        return None
    if note.kind in CANCEL_KINDS and await _invitation_sent(ctx):
        return "CANCEL"
    return None


async def _invitation_sent(ctx: MailContext) -> bool:
    """Did the booker get an invitation for this visit, in its own mail or its day's?"""
    rows = await N.select(N.payload).where(
        (N.booking == ctx.booking_id) & (N.status == "sent") & N.kind.is_in(list(REQUEST_KINDS))
    )
    if any(json.loads(row["payload"] or "{}").get(ITIP_MARK) == "REQUEST" for row in rows):
        return True
    return ctx.itinerary is not None and await class_day.invited_by_day_mail(
        ctx.booking_id, ctx.itinerary
    )
