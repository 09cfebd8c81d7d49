"""The transactional outbox: every notice is a row written with the change it tells of.

Life of a row: `pending` -> `sending` (claimed, with a lease) -> `sent`, or back to
`pending` with a later `due_at` after an error, or `failed` after `MAX_ATTEMPTS`
(shown to the admin by `list_failed`, put back by `requeue`).

Exactly once, as far as a mail can be:
- `enqueue` inserts with a unique `dedupe_key` (kind, booking, instant) and does
  nothing on conflict, so the same change is queued once;
- `claim` is one conditional UPDATE ... RETURNING, so of two workers racing on a row
  only one gets it; a worker killed after claiming loses its lease after `LEASE` and
  the row is claimed again (that mail can then go out twice; both copies carry the
  same Message-ID, so clients can drop the repeat);
- marking sent is conditional on still holding the claim.

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

Services import neither Litestar nor Dramatiq: after the caller's transaction commits,
`after_commit()` hands the new ids to a dispatcher that the worker set-up registered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count

from outreach import config
from outreach.booking.tables import HOLDING_STATUSES, Booking
from outreach.db import write_transaction
from outreach.notifications import mail, transports
from outreach.notifications.schemas import (
    CANCEL_KINDS,
    KINDS,
    PRESENTER_KINDS,
    REQUEST_KINDS,
    ClaimedNotification,
    DeliveryOutcome,
    ItipMethod,
    MailContext,
)
from outreach.notifications.tables import Notification
from outreach.notifications.texts import language_of
from outreach.observability import NOTIFICATION_DELIVERIES
from outreach.principal import Principal
from outreach.timeutil import as_utc, utcnow

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "HANDOVER_HOLD",
    "LEASE",
    "MAX_ATTEMPTS",
    "SKIPPED_PREFIX",
    "Dispatcher",
    "after_commit",
    "backoff",
    "claim",
    "dedupe_key",
    "deliver",
    "due_ids",
    "enqueue",
    "forget_recipients",
    "list_failed",
    "requeue",
    "schedule_reminders",
    "set_dispatcher",
    "take_due",
]

log = logging.getLogger(__name__)

# Defaults of the settings NOTIFICATION_LEASE_SECONDS and NOTIFICATION_RETRY_SECONDS.
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
# After the sweep hands a row to the broker, it waits this long before handing it again.
HANDOVER_HOLD = timedelta(seconds=60)
DISPATCH_TIMEOUT_SECONDS = 5.0
SKIPPED_PREFIX = "skipped: "
FORGET_BATCH = 500  # booking ids per statement: far below SQLite's variable limit
ITIP_MARK = "_itip"

Dispatcher = Callable[[Sequence[int]], Awaitable[None]]

_dispatcher: Dispatcher | None = None
# Ids enqueued by the current task, handed over by its `after_commit()`.
_enqueued: ContextVar[list[int] | None] = ContextVar("outreach_enqueued", default=None)

N = Notification


# --------------------------------------------------------------------------- writing


def dedupe_key(kind: str, booking_id: int | None, instant: datetime | None) -> str:
    moment = as_utc(instant).isoformat() if instant is not None else ""
    return f"{kind}:{booking_id if booking_id is not None else ''}:{moment}"


async def enqueue(
    kind: str,
    *,
    booking_id: int | None,
    recipient: str,
    language: str = "de",
    payload: Mapping[str, Any] | None = None,
    instant: datetime | None = None,
    due_at: datetime | None = None,
    key: str | None = None,
) -> int | None:
    """Queue one notice inside the caller's transaction; the id, or None if already queued.

    Only inserts a row. `instant` tells apart repeats of the same kind for one booking
    (e.g. each move of a slot); `due_at` defaults to now. `key` replaces the dedupe key
    for notices that concern no booking (several recipients of one change).
    """
    if kind not in KINDS and kind not in PRESENTER_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    recipient = recipient.strip()
    if not recipient:
        log.info("no address for %s of booking %s; nothing queued", kind, booking_id)
        return None
    row = _new_row(kind, booking_id, recipient, language, payload, instant, due_at)
    if key is not None:
        row.dedupe_key = key[:200]
    new_ids = await _insert_ignoring_duplicates([row])
    for new_id in new_ids:
        _remember(new_id)
    return new_ids[0] if new_ids else None


async def after_commit() -> None:
    """Ask the workers to deliver what this task queued; never raises.

    Call it after the transaction that enqueued has committed. If the broker is down,
    the rows stay pending and the periodic sweep sends them later.
    """
    ids = _enqueued.get() or []
    _enqueued.set(None)
    dispatcher = _dispatcher
    if not ids or dispatcher is None:
        return
    try:
        await asyncio.wait_for(dispatcher(list(ids)), timeout=DISPATCH_TIMEOUT_SECONDS)
    except Exception:
        log.warning(
            "could not hand %d notification(s) to the workers; the sweep sends them later",
            len(ids),
            exc_info=True,
        )


def set_dispatcher(dispatcher: Dispatcher | None) -> None:
    """Registered by the worker set-up (`workers.broker`); None disconnects."""
    global _dispatcher
    _dispatcher = dispatcher


# --------------------------------------------------------------------------- claiming


async def claim(
    notification_id: int, now: datetime | None = None, *, lease: timedelta | None = None
) -> ClaimedNotification | None:
    """Take the row if it is due (or its holder's lease ran out); None if someone else has it.

    `lease` defaults to the setting NOTIFICATION_LEASE_SECONDS (`LEASE`, five minutes).
    """
    now = _now(now)
    lease = lease or timedelta(seconds=config.get_settings().notification_lease_seconds)
    rows = await (
        N.update({N.status: "sending", N.lease_until: now + lease, N.attempts: N.attempts + 1})
        .where((N.id == notification_id) & _claimable(now))
        .returning(
            N.id,
            N.dedupe_key,
            N.kind,
            N.booking,
            N.recipient,
            N.language,
            N.payload,
            N.attempts,
            N.created_at,
            N.lease_until,
        )
    )
    return _claimed(rows[0]) if rows else None


async def due_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids that a claim would take now, oldest first."""
    rows = await N.select(N.id).where(_claimable(_now(now))).order_by(N.due_at).limit(limit)
    return [row["id"] for row in rows]


async def take_due(
    now: datetime | None = None, limit: int = 500, *, hold: timedelta | None = None
) -> list[int]:
    """Due ids to hand to the broker, each held back from the next sweeps for `hold`.

    Without the hold every sweep would queue a backlog again while workers are still
    on it. A stale claim is turned back into a pending row here. When several sweeps
    race, the conditional update gives each id to one of them. The hold is
    `HANDOVER_HOLD`, or the claim's lease if that is shorter: a message lost with a
    killed worker (taken from the queue, never claimed) is handed again no later than
    a claim it made would be.
    """
    now = _now(now)
    if hold is None:
        lease = timedelta(seconds=config.get_settings().notification_lease_seconds)
        hold = min(HANDOVER_HOLD, lease)
    not_held = N.lease_until.is_null() | (N.lease_until < now)
    handover = ((N.status == "pending") & (N.due_at <= now) & not_held) | _stale(now)
    candidates = await N.select(N.id).where(handover).order_by(N.due_at).limit(limit)
    if not candidates:
        return []
    ids = [row["id"] for row in candidates]
    rows = await (
        N.update({N.status: "pending", N.lease_until: now + hold})
        .where(N.id.is_in(ids) & handover)
        .returning(N.id)
    )
    return sorted(row["id"] for row in rows)


# --------------------------------------------------------------------------- delivering


async def deliver(notification_id: int, now: datetime | None = None) -> DeliveryOutcome:
    """Claim, render and send one notice; safe to call any number of times."""
    now = _now(now)
    note = await claim(notification_id, now)
    if note is None:
        return "not_claimed"
    if note.kind in PRESENTER_KINDS:
        return await _deliver_presenter_notice(note, now)
    try:
        ctx = await _load_context(note.booking_id)
        skip = _skip_reason(note, ctx, now)
        if skip is not None:
            await _finish(note, now, note_text=SKIPPED_PREFIX + skip)
            log.info("notification %s (%s) skipped: %s", note.id, note.kind, skip)
            NOTIFICATION_DELIVERIES.labels("skipped").inc()
            return "skipped"
        assert ctx is not None  # _skip_reason skips a missing booking
        if note.kind in ITINERARY_KINDS:
            ctx = dataclasses.replace(ctx, itinerary=await _itinerary_notice(ctx.booking_id))
        method = await _itip_method(note, ctx)
        settings = config.get_settings()
        message = mail.build_message(note, ctx, settings, method=method, now=now)
        await transports.transport_for(settings).send(message)
    except Exception as exc:
        outcome = await _after_failure(note, now, exc)
        NOTIFICATION_DELIVERIES.labels(outcome).inc()
        return outcome
    # Outside the try: a failure here must not put back a mail that went out.
    await _finish(note, now, itip=method)
    NOTIFICATION_DELIVERIES.labels("sent").inc()
    return "sent"


async def _deliver_presenter_notice(note: ClaimedNotification, now: datetime) -> DeliveryOutcome:
    """A notice about a presenter invitation (no booking): its own mail, same outbox rules."""
    from outreach.presenters.mail import presenter_message

    try:
        message, skip = await presenter_message(note, config.get_settings(), now=now)
        if message is None:
            await _finish(note, now, note_text=SKIPPED_PREFIX + skip)
            return "skipped"
        await transports.transport_for(config.get_settings()).send(message)
    except Exception as exc:
        return await _after_failure(note, now, exc)
    await _finish(note, now)
    return "sent"


async def outbox_counts(now: datetime | None = None) -> tuple[dict[str, int], int]:
    """Notices by status, and how many are due now (the queue depth), for the metrics."""
    now = _now(now)
    rows = await N.select(N.status, Count(N.id, alias="n")).group_by(N.status)
    due = await N.count().where(_claimable(now))
    return {row["status"]: row["n"] for row in rows}, due


def backoff(attempts: int) -> timedelta:
    """NOTIFICATION_RETRY_SECONDS (`BACKOFF_BASE`, 30 s) after the first failed attempt,
    doubling, at most an hour."""
    base = timedelta(seconds=config.get_settings().notification_retry_seconds)
    return min(base * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


async def forget_recipients(booking_ids: Sequence[int], addresses: Iterable[str]) -> int:
    """Drop the addresses of notices to a booker whose contact data was just dropped.

    The outbox would otherwise keep the address the booking no longer has. Notices not
    sent yet to such an address are recorded as not mailed: the person's data is gone.
    Rows a worker holds right now keep theirs (the next anonymisation run finds them).
    Runs in the caller's transaction.
    """
    emails = sorted({address for address in addresses if address})
    ids = sorted(set(booking_ids))
    forgotten = 0
    for start in range(0, len(ids), FORGET_BATCH):
        to_them = N.booking.is_in(ids[start : start + FORGET_BATCH]) & N.recipient.is_in(emails)
        await N.update(
            {N.status: "sent", N.last_error: SKIPPED_PREFIX + "contact data deleted"}
        ).where(to_them & N.status.is_in(["pending", "failed"]))
        rows = (
            await N.update({N.recipient: ""}).where(to_them & (N.status == "sent")).returning(N.id)
        )
        forgotten += len(rows)
    return forgotten


async def skip_pending(*, reason: str) -> int:
    """Record every pending notice as not mailed (e.g. the demo network's invented past)."""
    rows = (
        await N.update({N.status: "sent", N.last_error: f"skipped: {reason}"})
        .where(N.status == "pending")
        .returning(N.id)
    )
    _enqueued.set(None)
    return len(rows)


async def list_failed(limit: int = 100) -> list[dict[str, Any]]:
    """Notices given up on, newest first, for the admin."""
    return await (
        N.select(
            N.id,
            N.kind,
            N.booking,
            N.recipient,
            N.language,
            N.attempts,
            N.last_error,
            N.due_at,
            N.created_at,
        )
        .where(N.status == "failed")
        .order_by(N.id, ascending=False)
        .limit(limit)
    )


async def requeue(
    notification_id: int, now: datetime | None = None, *, by: Principal | None = None
) -> bool:
    """Give a failed notice a fresh set of attempts (the admin's "try again")."""
    from outreach.audit.services import record

    async with write_transaction():
        rows = await (
            N.update({N.status: "pending", N.attempts: 0, N.due_at: _now(now), N.lease_until: None})
            .where((N.id == notification_id) & (N.status == "failed"))
            .returning(N.id)
        )
        if rows and by is not None:
            await record(
                "notification.requeue",
                by=by,
                object_type="notification",
                object_id=notification_id,
                now=_now(now),
            )
    if rows:
        _remember(notification_id)
    return bool(rows)


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
    existing = await _existing_keys([row.dedupe_key for row in planned])
    fresh = [row for row in planned if row.dedupe_key not in existing]
    inserted = await _insert_ignoring_duplicates(fresh)
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
    return _new_row(
        "booking.reminder",
        row["id"],
        row["contact_email"],
        row["language"],
        payload,
        instant,
        instant,
    )


async def _existing_keys(keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = await N.select(N.dedupe_key).where(N.dedupe_key.is_in(chunk))
        found.update(row["dedupe_key"] for row in rows)
    return found


# --------------------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return utcnow() if now is None else as_utc(now)


def _remember(notification_id: int) -> None:
    ids = _enqueued.get()
    if ids is None:
        ids = []
        _enqueued.set(ids)
    ids.append(notification_id)


def _new_row(
    kind: str,
    booking_id: int | None,
    recipient: str,
    language: str,
    payload: Mapping[str, Any] | None,
    instant: datetime | None,
    due_at: datetime | None,
) -> Notification:
    return N(
        dedupe_key=dedupe_key(kind, booking_id, instant),
        kind=kind,
        booking=booking_id,
        recipient=recipient,
        language=language_of(language),
        payload=json.dumps(dict(payload or {}), sort_keys=True, default=str),
        due_at=_now(due_at),
        status="pending",
        attempts=0,
        lease_until=None,
        last_error="",
        sent_at=None,
        created_at=utcnow(),
    )


async def _insert_ignoring_duplicates(rows: list[Notification]) -> list[int]:
    ids: list[int] = []
    # In chunks: one INSERT of all rows would pass asyncpg's 32,767 arguments at ~2,700.
    for start in range(0, len(rows), 500):
        result = await (
            N.insert(*rows[start : start + 500])
            .on_conflict(target=N.dedupe_key, action="DO NOTHING")
            .returning(N.id)
        )
        ids.extend(row["id"] for row in result)
    return ids


def _claimable(now: datetime):  # -> piccolo Combinable
    return ((N.status == "pending") & (N.due_at <= now)) | _stale(now)


def _stale(now: datetime):  # -> piccolo Combinable
    return (N.status == "sending") & (N.lease_until < now)


def _holding(note: ClaimedNotification):  # -> piccolo Combinable
    """Still ours: nobody re-claimed the row after our lease ran out."""
    return (N.id == note.id) & (N.status == "sending") & (N.attempts == note.attempts)


def _claimed(row: Mapping[str, Any]) -> ClaimedNotification:
    return ClaimedNotification(
        id=row["id"],
        dedupe_key=row["dedupe_key"],
        kind=row["kind"],
        booking_id=row["booking"],
        recipient=row["recipient"],
        language=language_of(row["language"]),
        payload=json.loads(row["payload"] or "{}"),
        attempts=row["attempts"],
        created_at=as_utc(row["created_at"]),
        lease_until=as_utc(row["lease_until"]),
    )


async def _finish(
    note: ClaimedNotification, now: datetime, *, note_text: str = "", itip: ItipMethod | None = None
) -> None:
    values: dict[Any, Any] = {
        N.status: "sent",
        N.sent_at: now,
        N.lease_until: None,
        N.last_error: note_text,
    }
    if itip is not None:
        values[N.payload] = json.dumps({**note.payload, ITIP_MARK: itip}, sort_keys=True)
    rows = await N.update(values).where(_holding(note)).returning(N.id)
    if not rows:
        log.warning("notification %s: lease lost before it was marked sent", note.id)


async def _after_failure(
    note: ClaimedNotification, now: datetime, exc: Exception
) -> DeliveryOutcome:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    give_up = isinstance(exc, transports.PermanentDeliveryError) or note.attempts >= MAX_ATTEMPTS
    if give_up:
        values: dict[Any, Any] = {N.status: "failed", N.lease_until: None, N.last_error: error}
        log.error("notification %s (%s) failed for good: %s", note.id, note.kind, error)
    else:
        retry_at = now + backoff(note.attempts)
        values = {N.status: "pending", N.due_at: retry_at, N.lease_until: None, N.last_error: error}
        log.warning(
            "notification %s (%s) attempt %d failed, retry at %s: %s",
            note.id,
            note.kind,
            note.attempts,
            retry_at.isoformat(),
            error,
        )
    await N.update(values).where(_holding(note))
    return "failed" if give_up else "retry"


# A visit of a class's day fell away: the mail says so and offers a replacement.
ITINERARY_KINDS = ("booking.cancelled", "booking.declined", "event.cancelled")


async def _itinerary_notice(booking_id: int) -> Any:
    # Imported here: itineraries.services imports the booking engine, which imports us.
    from outreach.itineraries.services import itinerary_for_booking

    return await itinerary_for_booking(booking_id)


async def _load_context(booking_id: int | None) -> MailContext | None:
    if booking_id is None:
        return None
    b = Booking
    row = (
        await b.select(
            b.id,
            b.status,
            b.sequence,
            b.persons,
            b.class_label,
            b.grade,
            b.pupils,
            b.adults,
            b.contact_name,
            b.contact_email,
            b.reason,
            b.notes,
            b.created_at,
            b.anonymised_at,
            b.school.name.as_alias("school_name"),
            b.slot.starts_at.as_alias("slot_starts_at"),
            b.slot.ends_at.as_alias("slot_ends_at"),
            b.slot.sequence.as_alias("slot_sequence"),
            b.slot.cancelled.as_alias("slot_cancelled"),
            b.event.id.as_alias("event_id"),
            b.event.title.as_alias("event_title"),
            b.event.kind.as_alias("event_kind"),
            b.event.status.as_alias("event_status"),
            b.event.cancel_reason.as_alias("event_cancel_reason"),
            b.event.host.name.as_alias("host_name"),
            b.event.host.contact_email.as_alias("host_email"),
            b.event.host.contact_name.as_alias("host_contact_name"),
            b.event.venue.name.as_alias("venue_name"),
            b.event.venue.street.as_alias("venue_street"),
            b.event.venue.postal_code.as_alias("venue_postal_code"),
            b.event.venue.city.as_alias("venue_city"),
        )
        .where(b.id == booking_id)
        .first()
    )
    return _context(row) if row else None


def _context(row: Mapping[str, Any]) -> MailContext:
    return MailContext(
        booking_id=row["id"],
        booking_status=row["status"],
        booking_sequence=row["sequence"] or 0,
        persons=row["persons"],
        class_label=row["class_label"] or "",
        grade=row["grade"],
        pupils=row["pupils"] or 0,
        adults=row["adults"] or 0,
        contact_name=row["contact_name"] or "",
        contact_email=row["contact_email"] or "",
        booking_reason=row["reason"] or "",
        booking_created_at=as_utc(row["created_at"]),
        anonymised=row["anonymised_at"] is not None,
        school_name=row["school_name"] or "",
        slot_starts_at=as_utc(row["slot_starts_at"]),
        slot_ends_at=as_utc(row["slot_ends_at"]),
        slot_sequence=row["slot_sequence"] or 0,
        slot_cancelled=bool(row["slot_cancelled"]),
        event_id=row["event_id"],
        event_title=row["event_title"] or "",
        event_kind=row["event_kind"] or "",
        event_status=row["event_status"] or "",
        event_cancel_reason=row["event_cancel_reason"] or "",
        host_name=row["host_name"] or "",
        host_email=row["host_email"] or "",
        host_contact_name=row["host_contact_name"] or "",
        venue_name=row["venue_name"] or "",
        venue_street=row["venue_street"] or "",
        venue_postal_code=row["venue_postal_code"] or "",
        venue_city=row["venue_city"] or "",
        notes=row["notes"] or "",
    )


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


async def _itip_method(note: ClaimedNotification, ctx: MailContext) -> ItipMethod | None:
    if note.kind in REQUEST_KINDS:
        # A pending booking is not in anyone's calendar yet; it is invited once confirmed.
        return "REQUEST" if ctx.booking_status == "confirmed" else None
    if note.kind in CANCEL_KINDS and await _invitation_sent(ctx.booking_id):
        return "CANCEL"
    return None


async def _invitation_sent(booking_id: int) -> bool:
    rows = await N.select(N.payload).where(
        (N.booking == booking_id) & (N.status == "sent") & N.kind.is_in(list(REQUEST_KINDS))
    )
    return any(json.loads(row["payload"] or "{}").get(ITIP_MARK) == "REQUEST" for row in rows)
