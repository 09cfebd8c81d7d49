"""What a booker does from a mail's signed link, without signing in: look at the
booking, reconfirm or cancel it, confirm the e-mail address of a registration; and the
sweep that releases registrations whose address was not confirmed in time.
"""

from __future__ import annotations

import logging
from datetime import datetime

from outreach.booking.queries import _org_rows, _outs
from outreach.booking.rules import OPEN_STATUSES, _refuse_if_started
from outreach.booking.schemas import BookingOut
from outreach.booking.tables import HOLDING_STATUSES, Booking
from outreach.booking.writes import (
    _cancel,
    _end,
    _set_status,
    _tell_booker,
    _tell_host,
    promote_waiting,
)
from outreach.config import get_settings
from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, NotFound
from outreach.events.tables import Event
from outreach.links import verify_address_token, verify_respond_token
from outreach.timeutil import utcnow

__all__ = [
    "UNVERIFIED_REASON",
    "cancel_by_link",
    "confirm_address",
    "get_booking_by_address_link",
    "get_booking_by_link",
    "reconfirm_by_link",
    "release_unverified",
]

log = logging.getLogger(__name__)

# The reason recorded on a registration released because its address was not confirmed.
UNVERIFIED_REASON = "e-mail address not confirmed in time"


async def _booking_by_link(
    booking_id: int, token: str, *, purpose: str = "respond", lock: bool = True
) -> tuple[Booking, Event]:
    """The booking a mail's signed link names; a wrong token looks like no booking.

    Locked for the caller's transaction unless `lock` is false (a page that only reads).
    """
    check = verify_address_token if purpose == "address" else verify_respond_token
    if not check(get_settings(), booking_id, token):
        raise NotFound(f"no booking {booking_id}", field="booking")
    query = Booking.objects().where(Booking.id == booking_id)
    booking = await (for_update(query) if lock else query).first()
    if booking is None:
        raise NotFound(f"no booking {booking_id}", field="booking")
    event = await Event.objects().where(Event.id == booking.event).first()
    return booking, event


async def get_booking_by_link(booking_id: int, token: str) -> BookingOut:
    """What the reminder link's page shows (a GET: it changes nothing)."""
    booking, _ = await _booking_by_link(booking_id, token, lock=False)
    return (await _outs([booking]))[0]


async def reconfirm_by_link(
    booking_id: int, token: str, *, now: datetime | None = None
) -> BookingOut:
    """The booker answers the reminder "we are coming"; hosts see who did not."""
    now = now or utcnow()
    async with write_transaction():
        booking, _ = await _booking_by_link(booking_id, token)
        if booking.status not in HOLDING_STATUSES:
            raise Conflict(
                f"this booking is {booking.status} and cannot be reconfirmed",
                field="status",
                reason="wrong_status",
            )
        await _refuse_if_started(booking, now)
        if booking.reconfirmed_at is None:
            booking.reconfirmed_at = now
            await booking.save([Booking.reconfirmed_at])
        return (await _outs([booking]))[0]


async def cancel_by_link(
    booking_id: int, token: str, reason: str, *, now: datetime | None = None
) -> BookingOut:
    """The booker cancels from the reminder's link, without signing in."""
    now = now or utcnow()
    async with write_transaction():
        booking, event = await _booking_by_link(booking_id, token)
        out = await _cancel(booking, event, "booker", reason, now)
    return out


async def get_booking_by_address_link(booking_id: int, token: str) -> BookingOut:
    """What the confirm-your-address page shows (a GET: mail scanners open links)."""
    booking, _ = await _booking_by_link(booking_id, token, purpose="address", lock=False)
    return (await _outs([booking]))[0]


async def confirm_address(
    booking_id: int, token: str, *, now: datetime | None = None
) -> BookingOut:
    """The registrant confirms the e-mail address from the first mail's link.

    A held registration becomes confirmed (auto mode) or stays pending for the host
    (approval mode); a waiting one becomes an ordinary waiting booking and moves up if
    places are free. The host hears of it now. Confirming twice changes nothing more.
    """
    now = now or utcnow()
    async with write_transaction():
        booking, event = await _booking_by_link(booking_id, token, purpose="address")
        if booking.status not in OPEN_STATUSES:
            raise Conflict(
                f"this registration is {booking.status}", field="status", reason="wrong_status"
            )
        if booking.verify_by is not None:
            if booking.verify_by <= now:
                # The scheduler releases it at its next tick; the places are no longer held.
                raise Conflict(
                    "the time to confirm this registration has passed",
                    field="booking",
                    reason="expired",
                )
            await _address_confirmed(booking, event, now)
            # Read again: a promotion from the waiting list changed the row meanwhile.
            booking = await Booking.objects().where(Booking.id == booking_id).first()
        out = (await _outs([booking]))[0]
    return out


async def _address_confirmed(booking: Booking, event: Event, now: datetime) -> None:
    booking.verify_by = None
    booking.updated_at = now
    await booking.save([Booking.verify_by, Booking.updated_at])
    if booking.status == "pending" and event.booking_mode == "auto":
        await _set_status(booking, "confirmed", now)
        await _tell_booker(booking, "booking.confirmed")
    elif booking.status == "waitlisted":
        await _tell_booker(booking, "booking.waitlisted")
    host = (await _org_rows([event.host]))[event.host]
    await _tell_host(booking, host["contact_email"], "host.booking_received")
    if booking.status == "waitlisted":
        await promote_waiting(booking.slot, now=now)


async def release_unverified(*, now: datetime | None = None) -> int:
    """Cancel public registrations whose address was not confirmed in time.

    Their places are freed and go to the waiting list as for any cancellation; the
    registrant is told once. One transaction per registration, each re-checked under its
    row lock, so a confirmation racing with the release wins or loses cleanly, and
    several schedulers may run this at once.
    """
    now = now or utcnow()
    due = await (
        Booking.select(Booking.id)
        .where(
            Booking.verify_by.is_not_null()
            & (Booking.verify_by <= now)
            & Booking.status.is_in(list(OPEN_STATUSES))
        )
        .order_by(Booking.id)
    )
    released = 0
    for row in due:
        async with write_transaction():
            booking = await for_update(
                Booking.objects().where(
                    (Booking.id == row["id"])
                    & (Booking.verify_by <= now)
                    & Booking.status.is_in(list(OPEN_STATUSES))
                )
            ).first()
            if booking is None:  # confirmed or released meanwhile
                continue
            freed = await _end(booking, "cancelled", UNVERIFIED_REASON, now)
            await _tell_booker(
                booking, "booking.cancelled", {"by": "unverified", "reason": UNVERIFIED_REASON}
            )
            if freed:
                await promote_waiting(booking.slot, now=now)
            released += 1
    if released:
        log.info("released %d registration(s) whose address was not confirmed", released)
    return released
