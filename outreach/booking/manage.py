"""What a booker manages on the booking page: the signed link and the party size.

The booking page (`/bookings/{id}`) is opened by a signed-in reader (the booker, the
host, the office) or from one of the booker's mails by a signed link without an
account (`links.view_token`). The link is bound to the booking and its
purpose and compared in constant time; it is valid until `LINK_VALID_AFTER_END` after
the visit ends. A wrong or expired link looks exactly like a booking that does not exist.

Changing the number of persons goes through the engine's one guard (`_claim_places`):
more places only if they are free, fewer free places that go to the waiting list at
once. The booker and the host are each told once per change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from outreach import reasons
from outreach.booking.eligibility import SlotFacts, party_size_refusal
from outreach.booking.queries import _org_rows, _outs, get_booking
from outreach.booking.rules import OPEN_STATUSES, _free_places, _is_booker, _refuse_if_started
from outreach.booking.schemas import BookingOut, PersonsIn
from outreach.booking.tables import HOLDING_STATUSES, Booking
from outreach.booking.writes import (
    _cancel,
    _claim_places,
    _locked_booking,
    _release_places,
    _tell_booker,
    _tell_host,
    cancel_booking,
    promote_waiting,
)
from outreach.calendar import changes as feeds
from outreach.config import get_settings
from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorised
from outreach.events.tables import Event, Slot, Venue
from outreach.links import verify_view_token
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import utcnow

__all__ = [
    "LINK_VALID_AFTER_END",
    "BookingPage",
    "LinkInvalid",
    "NotEnoughPlaces",
    "booking_page",
    "cancel_by_view_link",
    "cancel_signed_in",
    "change_persons",
]

# A family looks back at its registration for a while after the visit; then the link dies.
LINK_VALID_AFTER_END = timedelta(days=30)


class LinkInvalid(NotFound):
    """A signed link that is wrong, tampered with or expired: says nothing more."""

    def __init__(self, booking_id: int) -> None:
        super().__init__(
            reasons.english("link_invalid", {}), field="booking", reason="link_invalid"
        )


class NotEnoughPlaces(Conflict):
    """More persons than the slot has free places; `params` carries the free count."""

    def __init__(self, free: int, *, field: str) -> None:
        params = {"free": free}
        super().__init__(
            reasons.english("not_enough_places", params),
            field=field,
            reason="not_enough_places",
            params=params,
        )
        self.params: dict[str, Any] = {"free": free}

    def to_dict(self) -> dict[str, Any]:  # type: ignore[override]
        return {**super().to_dict(), "params": self.params}


@dataclass(frozen=True, slots=True)
class BookingPage:
    """One booking as its reader sees it, and what that reader may do with it."""

    booking: BookingOut
    reader: str  # booker | host | office
    by_link: bool
    event_kind: str
    event_public: bool  # its page opens for anyone, a link visitor too
    host_name: str
    school_name: str  # of a class visit, else ""
    venue: dict[str, str] | None
    free: int  # places of the slot not held by anyone
    min_party: int
    max_party: int  # the most one booking of this slot may bring
    may_cancel: bool
    may_change: bool
    may_confirm: bool
    may_decline: bool


# --------------------------------------------------------------------------- reading


async def booking_page(
    booking_id: int, *, by: Principal, token: str | None = None, now: datetime | None = None
) -> BookingPage:
    """The booking for the page: by its signed link, or for a signed-in reader (GET only)."""
    now = now or utcnow()
    if token is not None:
        booking, event, slot = await _by_view_link(booking_id, token, now, lock=False)
        reader = "booker"
    else:
        if not by.is_member:
            raise Unauthorised("sign in to see bookings")
        # Access and the audit of a host's or the office's look at contact data.
        await get_booking(booking_id, by=by, audit_view="booking_page")
        booking = await Booking.objects().where(Booking.id == booking_id).first()
        event = await Event.objects().where(Event.id == booking.event).first()
        slot = await Slot.objects().where(Slot.id == booking.slot).first()
        if _is_booker(booking, by):
            reader = "booker"
        else:
            reader = "host" if not by.is_admin or by.belongs_to(event.host) else "office"
    out = (await _outs([booking]))[0]
    open_now = _changeable(booking, event, slot, now)
    return BookingPage(
        booking=out,
        reader=reader,
        by_link=token is not None,
        event_kind=event.kind,
        event_public=event.visibility == "public",
        **await _names(event.host, booking.school),
        venue=await _venue(event.venue),
        free=max(0, slot.capacity - slot.held),
        min_party=slot.min_party,
        max_party=min(slot.max_party or slot.capacity, slot.capacity),
        # Hosts and the office decline what waits for an answer and cancel what is confirmed.
        may_cancel=open_now and (reader == "booker" or booking.status == "confirmed"),
        may_change=reader in ("booker", "office") and open_now,
        may_confirm=reader != "booker"
        and booking.status == "pending"
        and booking.verify_by is None,
        may_decline=reader != "booker" and booking.status in ("pending", "waitlisted"),
    )


def _changeable(booking: Booking, event: Event, slot: Slot, now: datetime) -> bool:
    return (
        booking.status in OPEN_STATUSES
        and not slot.cancelled
        and event.status != "cancelled"
        and slot.starts_at > now
    )


async def _names(host_id: int, school_id: int | None) -> dict[str, str]:
    """Organisations by name, as people read them (slugs stay in URLs and the API)."""
    ids = [host_id, *([school_id] if school_id else [])]
    rows = await Organisation.select(Organisation.id, Organisation.name).where(
        Organisation.id.is_in(ids)
    )
    names = {row["id"]: row["name"] for row in rows}
    return {"host_name": names[host_id], "school_name": names.get(school_id, "")}


async def _venue(venue_id: int | None) -> dict[str, str] | None:
    if venue_id is None:
        return None
    row = (
        await Venue.select(Venue.name, Venue.street, Venue.postal_code, Venue.city)
        .where(Venue.id == venue_id)
        .first()
    )
    return dict(row) if row else None


async def _by_view_link(
    booking_id: int, token: str, now: datetime, *, lock: bool
) -> tuple[Booking, Event, Slot]:
    """The booking a signed link names, while the link is valid; else `LinkInvalid`."""
    if not verify_view_token(get_settings(), booking_id, token):
        raise LinkInvalid(booking_id)
    query = Booking.objects().where(Booking.id == booking_id)
    booking = await (for_update(query) if lock else query).first()
    if booking is None:
        raise LinkInvalid(booking_id)
    slot = await Slot.objects().where(Slot.id == booking.slot).first()
    # Anonymised bookings have no booker any more; an old link opens nothing.
    if booking.anonymised_at is not None or slot.ends_at + LINK_VALID_AFTER_END <= now:
        raise LinkInvalid(booking_id)
    event = await Event.objects().where(Event.id == booking.event).first()
    return booking, event, slot


# --------------------------------------------------------------------------- changing


async def cancel_by_view_link(
    booking_id: int, token: str, reason: str, *, now: datetime | None = None
) -> BookingOut:
    """The booker cancels from the booking page opened by the signed link."""
    now = now or utcnow()
    async with write_transaction():
        booking, event, _ = await _by_view_link(booking_id, token, now, lock=True)
        out = await _cancel(booking, event, "booker", reason, now)
    return out


async def cancel_signed_in(
    booking_id: int, reason: str, *, by: Principal, now: datetime | None = None
) -> tuple[BookingOut, str]:
    """Cancel from the page by its booker, its host or the office (the engine's rule and
    mails); also who was told of it: "host" when the booker cancelled, else "booker"."""
    out = await cancel_booking(booking_id, reason, by=by, now=now)
    row = await Booking.objects().where(Booking.id == booking_id).first()
    return out, "host" if _is_booker(row, by) else "booker"


async def change_persons(
    booking_id: int,
    change: PersonsIn,
    *,
    by: Principal,
    token: str | None = None,
    now: datetime | None = None,
) -> BookingOut:
    """Change a booking's party size (the booker, or the office; or by the signed link).

    More persons take places only if the slot has them free (`NotEnoughPlaces` with the
    free count); fewer free places that go to the waiting list at once. A waiting
    booking changes its size without holding places, and moves up when it now fits.
    """
    now = now or utcnow()
    async with write_transaction():
        if token is not None:
            booking, event, slot = await _by_view_link(booking_id, token, now, lock=True)
        else:
            if not by.is_member:
                raise Unauthorised("sign in to change a booking")
            booking, event = await _locked_booking(booking_id, by)
            if not (_is_booker(booking, by) or by.is_admin):
                raise Forbidden("only the booker and the network office change the persons")
            slot = await Slot.objects().where(Slot.id == booking.slot).first()
        await _apply(booking, event, slot, change, now)
        # Read again: a promotion from the waiting list may have changed the row.
        booking = await Booking.objects().where(Booking.id == booking_id).first()
        out = (await _outs([booking]))[0]
    return out


def _counts(booking: Booking, change: PersonsIn) -> tuple[dict[str, int], str]:
    """The new counts of the booking and the field a refusal belongs to."""
    if booking.kind == "class_visit":
        if change.persons is not None:
            raise Invalid("a class visit changes pupils and adults, not persons", field="persons")
        if change.pupils is None and change.adults is None:
            raise Invalid("give the number of pupils or adults", field="pupils")
        pupils = booking.pupils if change.pupils is None else change.pupils
        adults = booking.adults if change.adults is None else change.adults
        if pupils < 1:
            raise Invalid("pupils must be at least 1", field="pupils")
        return {"pupils": pupils, "adults": adults, "persons": pupils + adults}, "pupils"
    for name in ("pupils", "adults"):
        if getattr(change, name) is not None:
            raise Invalid.because("not_for_registration", field=name)
    if change.persons is None:
        raise Invalid("persons is required", field="persons")
    return {"persons": change.persons}, "persons"


async def _apply(
    booking: Booking, event: Event, slot: Slot, change: PersonsIn, now: datetime
) -> None:
    if booking.status not in OPEN_STATUSES:
        raise Conflict(
            f"this booking is already {booking.status}", field="status", reason="wrong_status"
        )
    if slot.cancelled or event.status == "cancelled":
        raise Conflict("this event or slot is cancelled", field="slot", reason="cancelled")
    await _refuse_if_started(booking, now)
    counts, field = _counts(booking, change)
    if all(getattr(booking, name) == value for name, value in counts.items()):
        return  # nothing changes, nobody is told
    too_many_or_few = party_size_refusal(SlotFacts.of(slot, event), counts["persons"], field)
    if too_many_or_few is not None:
        raise too_many_or_few.error()
    before = booking.persons
    delta = counts["persons"] - before
    if booking.status in HOLDING_STATUSES:
        if delta > 0 and not await _claim_places(slot.id, delta):
            raise NotEnoughPlaces(await _free_places(slot.id), field=field)
        if delta < 0:
            await _release_places(slot.id, -delta)
    for name, value in counts.items():
        setattr(booking, name, value)
    booking.sequence += 1
    booking.updated_at = now
    await booking.save(
        [Booking.persons, Booking.pupils, Booking.adults, Booking.sequence, Booking.updated_at]
    )
    await feeds.mark_changed(booking_id=booking.id)
    promoted: list[int] = []
    if delta < 0 or booking.status == "waitlisted":
        promoted = await promote_waiting(slot.id, now=now)
    payload = {"old_persons": before, "persons": booking.persons}
    if booking.id not in promoted:  # a promotion's own mail tells the booker already
        await _tell_booker(booking, "booking.changed", payload)
    host = (await _org_rows([event.host]))[event.host]
    await _tell_host(booking, host["contact_email"], "host.booking_changed", payload)
