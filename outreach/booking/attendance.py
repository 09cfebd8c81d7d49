"""Who came: the host records attendance after the event, and is reminded if it does not.

Rules (one place): only the host of the event (a firm or school member of the hosting
organisation) or the network office records; only for a confirmed booking; only once
its slot has started; the count is persons who came, 0 for a no-show, and at most
`ATTENDANCE_SLACK` more than were booked (a class brings a pupil or a teacher more,
never a second class). A later record replaces an earlier one (corrections).
Reports count a booking as attended only from these records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from outreach.access import can_manage
from outreach.accounts.tables import User
from outreach.booking.tables import Booking
from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, Invalid, NotFound
from outreach.events.tables import Event, Slot
from outreach.outbox import services as outbox
from outreach.principal import Principal
from outreach.timeutil import as_utc, utcnow

__all__ = [
    "ATTENDANCE_SLACK",
    "REMINDER_AFTER",
    "AttendanceOut",
    "ask_hosts_for_attendance",
    "record_attendance",
    "record_many",
    "recorded_for",
]

log = logging.getLogger(__name__)

ATTENDANCE_SLACK = 5
REMINDER_AFTER = timedelta(days=3)
# Slots that ended longer ago than this get no more reminders (one was sent by then).
REMINDER_HORIZON = timedelta(days=60)
REMINDER_KIND = "host.attendance_missing"


@dataclass(frozen=True, slots=True)
class AttendanceOut:
    booking_id: int
    persons: int
    attended: int
    recorded_at: datetime


async def record_attendance(
    booking_id: int, attended: int, *, by: Principal, now: datetime | None = None
) -> AttendanceOut:
    """Record how many persons of a confirmed booking came (0: nobody came)."""
    now = as_utc(now) if now else utcnow()
    async with write_transaction():
        return await _record(booking_id, attended, by=by, now=now)


async def record_many(
    entries: dict[int, int],
    *,
    by: Principal,
    event_id: int | None = None,
    now: datetime | None = None,
) -> list[AttendanceOut]:
    """Several bookings at once (the attendee list form): all recorded, or none.

    With `event_id`, every booking must belong to that event.
    """
    now = as_utc(now) if now else utcnow()
    async with write_transaction():
        if event_id is not None and entries:
            foreign = await Booking.count().where(
                Booking.id.is_in(list(entries)) & (Booking.event != event_id)
            )
            if foreign:
                raise NotFound("a booking of another event", field="booking")
        return [await _record(b, n, by=by, now=now) for b, n in sorted(entries.items())]


async def recorded_for(event_id: int, *, by: Principal) -> dict[int, int | None]:
    """Attendance by booking id of an event the caller hosts (None: not recorded)."""
    event = await Event.objects().where(Event.id == event_id).first()
    if event is None or not can_manage(event, by):
        raise NotFound(f"no event {event_id}", field="event")
    rows = await Booking.select(Booking.id, Booking.attended).where(Booking.event == event_id)
    return {row["id"]: row["attended"] for row in rows}


async def _record(booking_id: int, attended: int, *, by: Principal, now: datetime) -> AttendanceOut:
    booking = await for_update(Booking.objects().where(Booking.id == booking_id)).first()
    if booking is None:
        raise NotFound(f"no booking {booking_id}", field="booking")
    event = await Event.objects().where(Event.id == booking.event).first()
    if event is None or not can_manage(event, by):
        # The booker may see the booking but not record for the host; others must not
        # learn that it exists.
        raise NotFound(f"no booking {booking_id}", field="booking")
    if booking.status != "confirmed":
        raise Conflict(
            f"attendance is recorded for confirmed bookings; this one is {booking.status}",
            field="status",
            reason="wrong_status",
        )
    slot = await Slot.objects().where(Slot.id == booking.slot).first()
    if slot is None or slot.starts_at > now:
        raise Conflict(
            "attendance can be recorded once the event has begun",
            field="attended",
            reason="not_started",
        )
    if attended < 0:
        raise Invalid("attended must be 0 (nobody came) or more", field="attended")
    most = booking.persons + ATTENDANCE_SLACK
    if attended > most:
        raise Invalid.because(
            "above_booked",
            field="attended",
            max=most,
            booked=booking.persons,
            slack=ATTENDANCE_SLACK,
        )
    await Booking.update({Booking.attended: attended, Booking.attendance_recorded_at: now}).where(
        Booking.id == booking_id
    )
    return AttendanceOut(booking_id, booking.persons, attended, now)


async def ask_hosts_for_attendance(now: datetime | None = None) -> int:
    """Queue one mail per slot and host user where attendance is missing 3 days after.

    The dedupe key names the slot and the recipient, so each is asked once. Returns how
    many mails were queued.
    """
    now = as_utc(now) if now else utcnow()
    rows = await _missing(now)
    first_missing: dict[int, dict[str, Any]] = {}
    for row in rows:
        first_missing.setdefault(row["slot"], row)
    if not first_missing:
        return 0
    hosts = {row["host"] for row in first_missing.values()}
    users = await User.select(User.id, User.email, User.language, User.organisation).where(
        User.organisation.is_in(list(hosts)) & (User.active == True)  # noqa: E712
    )
    queued = 0
    async with write_transaction():
        for slot_id, row in first_missing.items():
            for user in users:
                if user["organisation"] != row["host"]:
                    continue
                new_id = await outbox.enqueue(
                    REMINDER_KIND,
                    booking_id=row["id"],
                    recipient=user["email"],
                    language=user["language"],
                    payload={"slot": slot_id},
                    key=f"{REMINDER_KIND}:slot-{slot_id}:user-{user['id']}",
                )
                queued += new_id is not None
    if queued:
        log.info("asked hosts for attendance: %d mail(s)", queued)
    return queued


async def _missing(now: datetime) -> list[dict[str, Any]]:
    return (
        await Booking.select(
            Booking.id,
            Booking.slot,
            Booking.event.host.as_alias("host"),
        )
        .where(
            (Booking.status == "confirmed")
            & Booking.attended.is_null()
            & Booking.anonymised_at.is_null()
            & (Booking.slot.ends_at <= now - REMINDER_AFTER)
            & (Booking.slot.ends_at > now - REMINDER_AFTER - REMINDER_HORIZON)
            & (Booking.slot.cancelled == False)  # noqa: E712
            & (Booking.event.status != "cancelled")
        )
        .order_by(Booking.id)
    )
