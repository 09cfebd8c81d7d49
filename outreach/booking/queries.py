"""Reading bookings: one booking, the lists a person may see, and the rows the
other features ask about (a user's bookings, whether an event still has any).
"""

from __future__ import annotations

from typing import Any

from outreach.access import can_manage
from outreach.audit import services as audit
from outreach.booking.rules import OPEN_STATUSES, _is_booker
from outreach.booking.schemas import BookingOut
from outreach.booking.tables import Booking
from outreach.db import write_transaction
from outreach.errors import Forbidden, NotFound, Unauthorised
from outreach.events.tables import Event, Slot
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import local

__all__ = [
    "bookings_made_by",
    "get_booking",
    "has_active_bookings",
    "list_bookings",
]


async def _org_rows(org_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = await Organisation.select(
        Organisation.id, Organisation.slug, Organisation.name, Organisation.contact_email
    ).where(Organisation.id.is_in(list(set(org_ids))))
    return {row["id"]: row for row in rows}


async def bookings_made_by(user_id: int) -> list[dict[str, Any]]:
    """The bookings a user made, for their data export: theirs only, nobody else's."""
    rows = await (
        Booking.select(
            Booking.id,
            Booking.kind,
            Booking.status,
            Booking.persons,
            Booking.class_label,
            Booking.grade,
            Booking.pupils,
            Booking.adults,
            Booking.contact_name,
            Booking.contact_email,
            Booking.notes,
            Booking.language,
            Booking.created_at,
            Booking.updated_at,
            Booking.event.title.as_alias("event_title"),
            Booking.slot.starts_at.as_alias("starts_at"),
            Booking.slot.ends_at.as_alias("ends_at"),
        )
        .where(Booking.booked_by == user_id)
        .order_by(Booking.id)
    )
    for row in rows:
        for name in ("created_at", "updated_at", "starts_at", "ends_at"):
            row[name] = local(row[name]).isoformat()
    return rows


async def has_active_bookings(*, event_id: int) -> bool:
    return await Booking.exists().where(
        (Booking.event == event_id) & Booking.status.is_in(list(OPEN_STATUSES))
    )


# ---------------------------------------------------------------------------
# Reading bookings


async def get_booking(
    booking_id: int, *, by: Principal, audit_view: str | None = None
) -> BookingOut:
    """One booking for its booker, the host or the office; `audit_view` as in list_bookings."""
    if not by.is_member:
        raise Unauthorised("sign in to see bookings")
    booking = await Booking.objects().where(Booking.id == booking_id).first()
    if booking is None:
        raise NotFound(f"no booking {booking_id}", field="booking")
    event = await Event.objects().where(Event.id == booking.event).first()
    own = _is_booker(booking, by)
    if not (own or can_manage(event, by)):
        raise NotFound(f"no booking {booking_id}", field="booking")
    if audit_view and not own:
        async with write_transaction():
            await audit.record(
                "bookings.view",
                by=by,
                object_type="booking",
                object_id=booking_id,
                detail={"view": audit_view, "bookings": 1},
            )
    return (await _outs([booking]))[0]


async def list_bookings(
    *,
    by: Principal,
    event_id: int | None = None,
    status: str | None = None,
    limit: int = 500,
    offset: int = 0,
    audit_view: str | None = None,
) -> list[BookingOut]:
    """The bookings `by` may see: a school its own, a firm those of its events, admin all.

    `audit_view` names a view that shows a host other people's contact data (the
    attendee list, the API list): each such look by a firm or the office is logged.
    """
    if not by.is_member:
        raise Unauthorised("sign in to see bookings")
    query = Booking.objects().order_by(Booking.id).limit(limit).offset(offset)
    if by.role == "school":
        mine = Booking.booked_by == by.user_id
        if by.org_id is not None:
            # Its own class visits, and who comes to the events it hosts (parents' evenings).
            mine = (
                mine
                | ((Booking.school == by.org_id) & (Booking.kind == "class_visit"))
                | (Booking.event.host == by.org_id)
            )
        query = query.where(mine)
    elif by.role == "firm":
        query = query.where(Booking.event.host == by.org_id)
    elif not by.is_admin:
        raise Forbidden("no bookings to show")
    if event_id is not None:
        query = query.where(Booking.event == event_id)
    if status is not None:
        query = query.where(Booking.status == status)
    found = await _outs(await query)
    # Every look at other people's contact data is logged: a firm's or the office's, and a
    # school's at the attendees of an event it hosts.
    if audit_view and found and (by.role in ("firm", "admin") or await _hosts_any(by, found)):
        async with write_transaction():
            await audit.record(
                "bookings.view",
                by=by,
                object_type="event" if event_id is not None else "bookings",
                object_id=event_id,
                detail={"view": audit_view, "bookings": len(found), "status": status},
            )
    return found


async def _hosts_any(by: Principal, bookings: list[BookingOut]) -> bool:
    """Whether a school looks at bookings of an event it hosts (not only its own)."""
    if by.role != "school" or by.org_id is None:
        return False
    event_ids = list({b.event_id for b in bookings})
    return await Event.exists().where((Event.host == by.org_id) & Event.id.is_in(event_ids))


async def _outs(bookings: list[Booking]) -> list[BookingOut]:
    """Bookings as answered to clients, in a fixed number of queries."""
    if not bookings:
        return []
    slot_ids = list({b.slot for b in bookings})
    slots = {s["id"]: s for s in await Slot.select().where(Slot.id.is_in(slot_ids))}
    event_ids = list({b.event for b in bookings})
    events = {
        e["id"]: e
        for e in await Event.select(Event.id, Event.title, Event.host).where(
            Event.id.is_in(event_ids)
        )
    }
    orgs = await _org_rows(
        [e["host"] for e in events.values()] + [b.school for b in bookings if b.school]
    )
    positions = await _waitlist_positions([b for b in bookings if b.status == "waitlisted"])
    return [
        _out(
            b,
            slots[b.slot],
            events[b.event]["title"],
            orgs,
            events[b.event]["host"],
            positions.get(b.id),
        )
        for b in bookings
    ]


def _out(
    b: Booking,
    slot: dict[str, Any],
    event_title: str,
    orgs: dict[int, dict[str, Any]],
    host_id: int,
    waitlist_position: int | None,
) -> BookingOut:
    return BookingOut(
        id=b.id,
        slot_id=b.slot,
        event_id=b.event,
        kind=b.kind,
        status=b.status,
        persons=b.persons,
        starts_at=local(slot["starts_at"]),
        ends_at=local(slot["ends_at"]),
        event_title=event_title,
        host=orgs[host_id]["slug"],
        school=orgs[b.school]["slug"] if b.school else None,
        host_name=orgs[host_id]["name"],
        school_name=orgs[b.school]["name"] if b.school else None,
        class_label=b.class_label,
        grade=b.grade,
        pupils=b.pupils,
        adults=b.adults,
        contact_name=b.contact_name,
        contact_email=b.contact_email,
        notes=b.notes,
        reason=b.reason,
        waitlist_position=waitlist_position,
        verify_by=local(b.verify_by) if b.verify_by else None,
        reconfirmed_at=local(b.reconfirmed_at) if b.reconfirmed_at else None,
        created_at=local(b.created_at),
        updated_at=local(b.updated_at),
    )


async def _waitlist_positions(waiting: list[Booking]) -> dict[int, int]:
    if not waiting:
        return {}
    rows = (
        await Booking.select(Booking.id, Booking.slot)
        .where(
            Booking.slot.is_in(list({b.slot for b in waiting})) & (Booking.status == "waitlisted")
        )
        .order_by(Booking.id)
    )
    counters: dict[int, int] = {}
    positions: dict[int, int] = {}
    for row in rows:
        counters[row["slot"]] = counters.get(row["slot"], 0) + 1
        positions[row["id"]] = counters[row["slot"]]
    return positions
