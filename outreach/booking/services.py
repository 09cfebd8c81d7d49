"""The booking engine: places in slots that are never overbooked.

One rule, one place: every path that takes places (a booking, a promotion from the
waiting list, several slots at once) ends in `_claim_places`, a conditional UPDATE
that the database applies atomically, so it holds across processes and machines.
`Slot.held` counts the persons of pending and confirmed bookings.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from piccolo.columns.combination import WhereRaw

from outreach.access import can_manage, load_event_row
from outreach.addresses import normalise_email
from outreach.audit import services as audit
from outreach.booking.eligibility import (
    Busy,
    Party,
    Reason,
    Refusal,
    SlotFacts,
    load_slots,
    refusal,
    slot_state_refusal,
)
from outreach.booking.schemas import BookingOut, BookingRequest
from outreach.booking.tables import HOLDING_STATUSES, Booking, IdempotencyRecord
from outreach.calendar import changes as feeds
from outreach.config import get_settings
from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorised
from outreach.events.tables import Event, Slot
from outreach.links import verify_address_token, verify_respond_token
from outreach.observability import BOOKINGS_PLACED
from outreach.organisations.tables import Organisation
from outreach.outbox import services as outbox
from outreach.principal import Principal
from outreach.reasons import english
from outreach.timeutil import local, utcnow

__all__ = [
    "IDEMPOTENCY_KEEP",
    "UNVERIFIED_REASON",
    "ClassVisitSpan",
    "Obstacle",
    "Placement",
    "anonymise_bookings_of",
    "anonymise_ended_bookings",
    "bookings_made_by",
    "cancel_all_for_event",
    "cancel_booking",
    "cancel_by_link",
    "class_visit_obstacles",
    "class_visits_overlapping",
    "confirm_address",
    "confirm_booking",
    "decline_booking",
    "get_booking",
    "get_booking_by_address_link",
    "get_booking_by_link",
    "has_active_bookings",
    "list_bookings",
    "notify_event_changed",
    "notify_slot_moved",
    "place_booking",
    "place_many",
    "promote_waiting",
    "purge_idempotency_records",
    "reconfirm_by_link",
    "release_unverified",
]

log = logging.getLogger(__name__)

CLASS_VISIT_KINDS = frozenset({"factory_tour", "open_day", "other"})
REGISTRATION_KINDS = frozenset({"open_day", "parents_evening", "teacher_training", "other"})
# Seminars are for teachers: a registration needs a signed-in member of a school.
TEACHER_ONLY_KINDS = frozenset({"teacher_training"})
OPEN_STATUSES = ("pending", "confirmed", "waitlisted")
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
# How long a retry with the same Idempotency-Key replays the first answer: a client's
# retries come within minutes; then the housekeeping purges the record.
IDEMPOTENCY_KEEP = timedelta(hours=24)
# The reason recorded on a registration released because its address was not confirmed.
UNVERIFIED_REASON = "e-mail address not confirmed in time"


@dataclass(frozen=True)
class Placement:
    """The answer to a booking request; `replayed` when an Idempotency-Key matched."""

    bookings: list[BookingOut]
    replayed: bool = False

    @property
    def booking(self) -> BookingOut:
        return self.bookings[0]


# ---------------------------------------------------------------------------
# Places: the one guard against overbooking


async def _claim_places(slot_id: int, persons: int) -> bool:
    """Take `persons` places if they are free, atomically; False when they are not."""
    rows = (
        await Slot.update({Slot.held: Slot.held + persons})
        .where(
            (Slot.id == slot_id)
            & WhereRaw("held + {} <= capacity", persons)
            & (Slot.cancelled == False)  # noqa: E712
        )
        .returning(Slot.held)
    )
    return bool(rows)


async def _release_places(slot_id: int, persons: int) -> None:
    rows = (
        await Slot.update({Slot.held: Slot.held - persons})
        .where((Slot.id == slot_id) & (Slot.held >= persons))
        .returning(Slot.held)
    )
    if not rows:
        # Never expected: it would mean `held` and the bookings disagree.
        raise RuntimeError(f"slot {slot_id} holds fewer than {persons} places")


# ---------------------------------------------------------------------------
# Placing bookings


async def place_booking(
    slot_id: int,
    req: BookingRequest,
    *,
    by: Principal,
    key: str | None = None,
    now: datetime | None = None,
) -> Placement:
    """Book a class visit or register for an event; waitlisted when full and allowed."""
    now = now or utcnow()

    async def work() -> list[BookingOut]:
        return [await _place(slot_id, req, by=by, now=now, waitlist_allowed=True)]

    return await _idempotent(by, key, _request_hash("booking", [slot_id], req), work)


async def place_many(
    slot_ids: list[int],
    req: BookingRequest,
    *,
    by: Principal,
    key: str | None = None,
    now: datetime | None = None,
) -> Placement:
    """Book one class into several slots in one transaction: all of them, or none."""
    now = now or utcnow()
    if not slot_ids:
        raise Invalid("slot_ids must name at least one slot", field="slot_ids")
    if len(set(slot_ids)) != len(slot_ids):
        raise Invalid("slot_ids must not repeat a slot", field="slot_ids")
    if not req.is_class_visit:
        raise Invalid("several slots are booked for a class visit only", field="class_label")

    async def work() -> list[BookingOut]:
        # A waiting list would break "all or nothing": every part must take its places.
        return [
            await _place(slot_id, req, by=by, now=now, waitlist_allowed=False)
            for slot_id in slot_ids
        ]

    return await _idempotent(by, key, _request_hash("many", slot_ids, req), work)


def _request_hash(kind: str, slot_ids: list[int], req: BookingRequest) -> str:
    body = msgspec.json.encode({"kind": kind, "slots": slot_ids, "request": req}, order="sorted")
    return hashlib.sha256(body).hexdigest()


def _scoped_key(by: Principal, key: str) -> str:
    if not _KEY.match(key):
        raise Invalid(
            "Idempotency-Key must be 1-200 visible ASCII characters", field="Idempotency-Key"
        )
    return f"{'user:' + str(by.user_id) if by.user_id else 'anonymous'}:{key}"


async def _replay(scoped_key: str, request_hash: str) -> Placement | None:
    record = (
        await IdempotencyRecord.objects().where(IdempotencyRecord.scoped_key == scoped_key).first()
    )
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise Invalid(
            "this Idempotency-Key was already used for a different request",
            field="Idempotency-Key",
            reason="key_reused",
        )
    # The record keeps the booking ids only: the answer is rendered again from the rows,
    # so it holds no contact data of its own (and shows it gone once anonymised).
    ids = msgspec.json.decode(record.response, type=_Replayable).bookings
    rows = {b.id: b for b in await Booking.objects().where(Booking.id.is_in(ids or [0]))}
    return Placement(bookings=await _outs([rows[i] for i in ids if i in rows]), replayed=True)


class _Replayable(msgspec.Struct):
    """What an idempotency record stores of the first answer: which bookings it made."""

    bookings: list[int]


async def purge_idempotency_records(*, now: datetime | None = None) -> int:
    """Forget keys older than `IDEMPOTENCY_KEEP` (the scheduler's housekeeping)."""
    cutoff = (now or utcnow()) - IDEMPOTENCY_KEEP
    rows = (
        await IdempotencyRecord.delete()
        .where(IdempotencyRecord.created_at < cutoff)
        .returning(IdempotencyRecord.id)
    )
    return len(rows)


async def _idempotent(
    by: Principal,
    key: str | None,
    request_hash: str,
    work: Callable[[], Awaitable[list[BookingOut]]],
) -> Placement:
    """Run `work` once per key: a retry gets the first answer, and books nothing more.

    The key is stored in the same transaction as the bookings. Two requests racing with
    one key meet at the key's unique index; the loser rolls back and replays the winner.
    Refusals (full, holiday, ...) store nothing, so a retry is judged afresh.
    """
    scoped_key = _scoped_key(by, key) if key is not None else None
    if scoped_key and (replay := await _replay(scoped_key, request_hash)):
        return replay
    try:
        async with write_transaction():
            if scoped_key:
                record = IdempotencyRecord(
                    scoped_key=scoped_key, request_hash=request_hash, status_code=201, response=""
                )
                await record.save()
            outs = await work()
            if scoped_key:
                kept = _Replayable(bookings=[out.id for out in outs])
                await IdempotencyRecord.update(
                    {IdempotencyRecord.response: msgspec.json.encode(kept).decode()}
                ).where(IdempotencyRecord.id == record.id)
    except (asyncpg.UniqueViolationError, sqlite3.IntegrityError):
        if scoped_key and (replay := await _replay(scoped_key, request_hash)):
            return replay
        raise
    for out in outs:
        BOOKINGS_PLACED.labels(out.status).inc()
    return Placement(bookings=outs)


async def _place(
    slot_id: int, req: BookingRequest, *, by: Principal, now: datetime, waitlist_allowed: bool
) -> BookingOut:
    slot = await Slot.objects().where(Slot.id == slot_id).first()
    if slot is None:
        raise NotFound(f"no slot {slot_id}", field="slot")
    event = await load_event_row(slot.event, by)
    facts = SlotFacts.of(slot, event)
    # The slot's own state first: a cancelled or closed slot says so whatever was sent.
    if (closed := slot_state_refusal(facts, now)) is not None:
        raise closed.error()
    if req.is_class_visit:
        fields = await _class_visit_fields(req, by, event)
        party = Party(
            class_visit=True,
            grade=fields["grade"],
            persons=fields["persons"],
            label=fields["class_label"],
            persons_field="pupils",
            busy=await _class_visits_of(by.org_id, fields["class_label"], slot),
            may_wait=waitlist_allowed,
        )
    else:
        fields = _registration_fields(req, by, event)
        party = Party(persons=fields["persons"], may_wait=waitlist_allowed)
    _refuse(facts, party, now)
    orgs = await _org_rows([event.host, *([fields["school"]] if fields.get("school") else [])])
    # Anyone may register without an account: such a registration holds its places only
    # until the address is confirmed, so made-up addresses cannot block a slot for long.
    verify_by = (
        min(now + timedelta(hours=get_settings().registration_confirm_hours), slot.starts_at)
        if by.user_id is None and fields["kind"] == "registration"
        else None
    )
    # From the claim to the commit this transaction holds the slot's row lock: keep that
    # stretch to the few writes that must follow it.
    if await _claim_places(slot.id, fields["persons"]):
        # Unconfirmed: held as pending; confirming the address decides (confirm_address).
        status = "confirmed" if event.booking_mode == "auto" and not verify_by else "pending"
    elif event.waitlist and waitlist_allowed:
        status = "waitlisted"
    else:
        # Taken meanwhile by a booking that committed first.
        free = await _free_places(slot.id)
        raise Refusal(Reason.FULL, "slot", {"free": free, "persons": fields["persons"]}).error()
    booking = Booking(
        slot=slot.id,
        event=event.id,
        status=status,
        booked_by=by.user_id,
        language=req.language or by.language,
        created_at=now,
        updated_at=now,
        verify_by=verify_by,
        **fields,
    )
    await booking.save()
    await feeds.mark_changed(booking_id=booking.id)
    if verify_by is not None:
        # Only the link to confirm the address; the host hears of it once confirmed.
        await _tell_booker(booking, "booking.received", _address_payload(verify_by))
    else:
        await _tell_booker(booking, f"booking.{'received' if status == 'pending' else status}")
        await _tell_host(booking, orgs[event.host]["contact_email"], "host.booking_received")
    position = (await _waitlist_positions([booking])).get(booking.id)
    return _out(booking, slot.to_dict(), event.title, orgs, event.host, position)


async def _org_rows(org_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = await Organisation.select(
        Organisation.id, Organisation.slug, Organisation.name, Organisation.contact_email
    ).where(Organisation.id.is_in(list(set(org_ids))))
    return {row["id"]: row for row in rows}


async def _free_places(slot_id: int) -> int:
    row = await Slot.select(Slot.capacity, Slot.held).where(Slot.id == slot_id).first()
    return max(0, row["capacity"] - row["held"]) if row else 0


def _refuse(facts: SlotFacts, party: Party, now: datetime) -> None:
    found = refusal(facts, party, now)
    if found is not None:
        raise found.error()


def _reject_foreign_fields(req: BookingRequest, names: tuple[str, ...], reason: str) -> None:
    for name in names:
        if getattr(req, name) is not None:
            raise Invalid.because(reason, field=name)


async def _class_visit_fields(req: BookingRequest, by: Principal, event: Event) -> dict[str, Any]:
    if by.role != "school" or by.org_id is None:
        if not by.is_member:
            raise Unauthorised("sign in as a teacher to book a class visit")
        raise Forbidden("class visits are booked by teachers for their own school")
    if event.kind not in CLASS_VISIT_KINDS:
        raise Invalid(
            "this event takes registrations, not class visits: send name, email and persons",
            field="class_label",
        )
    _reject_foreign_fields(req, ("name", "email", "persons"), "not_for_class_visit")
    for name in ("class_label", "grade", "pupils", "adults"):
        if getattr(req, name) is None:
            raise Invalid.because("required_for_class_visit", field=name)
    label = " ".join(req.class_label.split())  # type: ignore[union-attr]
    if not label:
        raise Invalid("class_label must not be blank", field="class_label")
    if req.pupils == 0:
        raise Invalid("pupils must be at least 1", field="pupils")
    return {
        "kind": "class_visit",
        "school": by.org_id,
        "class_label": label,
        "grade": req.grade,
        "pupils": req.pupils,
        "adults": req.adults,
        "persons": req.pupils + req.adults,  # type: ignore[operator]
        "contact_name": (req.contact_name or "").strip(),
        "contact_email": normalise_email(
            req.contact_email or by.email or "", field="contact_email"
        ),
        "notes": req.notes,
    }


def _registration_fields(req: BookingRequest, by: Principal, event: Event) -> dict[str, Any]:
    if event.kind not in REGISTRATION_KINDS:
        raise Invalid(
            "this event takes class visits: send class_label, grade, pupils and adults",
            field="class_label",
        )
    if event.kind in TEACHER_ONLY_KINDS and by.role not in ("school", "admin"):
        if not by.is_member:
            raise Unauthorised("sign in as a teacher to register for a seminar")
        raise Forbidden("seminars are for teachers of the network's schools")
    _reject_foreign_fields(req, ("contact_name", "contact_email"), "not_for_registration")
    name = " ".join((req.name or "").split())
    if not name:
        raise Invalid("name is required", field="name")
    if req.persons is None:
        raise Invalid("persons is required", field="persons")
    email = req.email or by.email
    if not email:
        raise Invalid("email is required", field="email")
    return {
        "kind": "registration",
        "persons": req.persons,
        "contact_name": name,
        "contact_email": normalise_email(email, field="email"),
        "notes": req.notes,
        "school": by.org_id if by.role == "school" else None,
    }


@dataclass(frozen=True, slots=True)
class ClassVisitSpan:
    """An open class visit of a school: which class, when."""

    booking_id: int
    class_label: str
    starts_at: datetime
    ends_at: datetime


async def class_visits_overlapping(
    school_id: int | None, start: datetime, end: datetime
) -> list[ClassVisitSpan]:
    """The school's open class visits overlapping [start, end): one query.

    The one place that says which visits keep a class busy; the engine's clash check,
    the teacher's search and the day planner all ask here.
    """
    if school_id is None:
        return []
    rows = await Booking.select(
        Booking.id, Booking.class_label, Booking.slot.starts_at, Booking.slot.ends_at
    ).where(
        (Booking.school == school_id)
        & (Booking.kind == "class_visit")
        & Booking.status.is_in(list(OPEN_STATUSES))
        & (Booking.slot.starts_at < end)
        & (Booking.slot.ends_at > start)
    )
    return [
        ClassVisitSpan(r["id"], r["class_label"], r["slot.starts_at"], r["slot.ends_at"])
        for r in rows
    ]


async def _class_visits_of(school_id: int | None, label: str, slot: Slot) -> list[Busy]:
    """The class's open visits overlapping `slot`: one class, one place at a time."""
    # Serialise bookings of one school, so two overlapping requests cannot both pass.
    await for_update(Organisation.select(Organisation.id).where(Organisation.id == school_id))
    return [
        Busy(visit.starts_at, visit.ends_at)
        for visit in await class_visits_overlapping(school_id, slot.starts_at, slot.ends_at)
        if visit.class_label.casefold() == label.casefold()
    ]


# ---------------------------------------------------------------------------
# Changing bookings


async def _locked_booking(booking_id: int, by: Principal) -> tuple[Booking, Event]:
    booking = await for_update(Booking.objects().where(Booking.id == booking_id)).first()
    if booking is None:
        raise NotFound(f"no booking {booking_id}", field="booking")
    event = await Event.objects().where(Event.id == booking.event).first()
    if not (_is_booker(booking, by) or can_manage(event, by)):
        raise NotFound(f"no booking {booking_id}", field="booking")
    return booking, event


def _is_booker(booking: Booking, by: Principal) -> bool:
    if by.user_id is not None and booking.booked_by == by.user_id:
        return True
    return by.role == "school" and booking.kind == "class_visit" and by.belongs_to(booking.school)


def _require_host(event: Event, by: Principal) -> None:
    if not can_manage(event, by):
        raise Forbidden("only the host and the network office confirm or decline bookings")


async def _set_status(booking: Booking, status: str, now: datetime, reason: str = "") -> None:
    booking.status = status
    booking.reason = reason
    booking.sequence += 1
    booking.updated_at = now
    await booking.save([Booking.status, Booking.reason, Booking.sequence, Booking.updated_at])
    await feeds.mark_changed(booking_id=booking.id)


async def _end(booking: Booking, status: str, reason: str, now: datetime) -> bool:
    """Give a booking a final status and free the places it held; True if it held any."""
    held = booking.status in HOLDING_STATUSES
    await _set_status(booking, status, now, reason)
    if held:
        await _release_places(booking.slot, booking.persons)
    return held


async def confirm_booking(
    booking_id: int, *, by: Principal, now: datetime | None = None
) -> BookingOut:
    now = now or utcnow()
    async with write_transaction():
        booking, event = await _locked_booking(booking_id, by)
        _require_host(event, by)
        if booking.status != "pending":
            raise Conflict(
                f"only a pending booking can be confirmed; this one is {booking.status}",
                field="status",
                reason="wrong_status",
            )
        if booking.verify_by is not None:
            raise Conflict(
                "the registrant has not confirmed the e-mail address yet",
                field="status",
                reason="unverified",
            )
        await _set_status(booking, "confirmed", now)
        await _tell_booker(booking, "booking.confirmed")
        out = (await _outs([booking]))[0]
    return out


async def decline_booking(
    booking_id: int, reason: str, *, by: Principal, now: datetime | None = None
) -> BookingOut:
    now = now or utcnow()
    async with write_transaction():
        booking, event = await _locked_booking(booking_id, by)
        _require_host(event, by)
        if booking.status not in ("pending", "waitlisted"):
            raise Conflict(
                f"only a pending or waiting booking can be declined; this one is {booking.status}",
                field="status",
                reason="wrong_status",
            )
        await _tell_booker(booking, "booking.declined", {"reason": reason})
        if await _end(booking, "declined", reason, now):
            await promote_waiting(booking.slot, now=now)
        out = (await _outs([booking]))[0]
    return out


async def cancel_booking(
    booking_id: int, reason: str, *, by: Principal, now: datetime | None = None
) -> BookingOut:
    now = now or utcnow()
    async with write_transaction():
        booking, event = await _locked_booking(booking_id, by)
        cancelled_by = "booker" if _is_booker(booking, by) else "host"
        out = await _cancel(booking, event, cancelled_by, reason, now)
    return out


async def _cancel(
    booking: Booking, event: Event, cancelled_by: str, reason: str, now: datetime
) -> BookingOut:
    if booking.status not in OPEN_STATUSES:
        raise Conflict(
            f"this booking is already {booking.status}", field="status", reason="wrong_status"
        )
    await _refuse_if_started(booking)
    freed = await _end(booking, "cancelled", reason, now)
    payload = {"by": cancelled_by, "reason": reason}
    await _tell_booker(booking, "booking.cancelled", payload)
    if cancelled_by == "booker":
        host = (await _org_rows([event.host]))[event.host]
        await _tell_host(booking, host["contact_email"], "host.booking_cancelled", payload)
    if freed:
        await promote_waiting(booking.slot, now=now)
    return (await _outs([booking]))[0]


async def _refuse_if_started(booking: Booking, now: datetime | None = None) -> None:
    slot = await Slot.select(Slot.starts_at).where(Slot.id == booking.slot).first()
    if slot["starts_at"] <= (now or utcnow()):
        raise Conflict(
            "the visit has begun and can no longer be changed",
            field="booking",
            reason="started",
        )


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


def _address_payload(verify_by: datetime) -> dict[str, Any]:
    # The mail shows the link and the deadline; "address" marks the first mail as the one
    # that carries the link to confirm the address.
    return {"address": True, "verify_by": verify_by.isoformat()}


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


async def promote_waiting(slot_id: int, *, now: datetime | None = None) -> list[int]:
    """Give freed places to waiting bookings in arrival order, each that fits.

    Runs inside the transaction that freed the places; its UPDATE of the slot row holds
    the row lock, so two promotions of one slot never interleave.
    """
    now = now or utcnow()
    slot = await Slot.objects().where(Slot.id == slot_id).first()
    event = await Event.objects().where(Event.id == slot.event).first()
    if slot.cancelled or event.status == "cancelled" or slot.starts_at <= now:
        return []
    waiting = await for_update(
        Booking.objects()
        .where(
            (Booking.slot == slot_id)
            & (Booking.status == "waitlisted")
            # An unconfirmed registration keeps its place in line but is passed over
            # until its address is confirmed (confirm_address then tries again).
            & Booking.verify_by.is_null()
        )
        .order_by(Booking.id)
    )
    free = slot.capacity - slot.held
    promoted = []
    for booking in waiting:
        if booking.persons > free:
            continue
        if not await _claim_places(slot_id, booking.persons):
            break
        free -= booking.persons
        status = "confirmed" if event.booking_mode == "auto" else "pending"
        await _set_status(booking, status, now)
        await _tell_booker(booking, "booking.promoted", {"status": status})
        promoted.append(booking.id)
    return promoted


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


async def has_active_bookings(*, event_id: int) -> bool:
    return await Booking.exists().where(
        (Booking.event == event_id) & Booking.status.is_in(list(OPEN_STATUSES))
    )


async def _tell_booker(
    booking: Booking,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    instant: datetime | None = None,
) -> None:
    if not booking.contact_email:
        return
    await outbox.enqueue(
        kind,
        booking_id=booking.id,
        recipient=booking.contact_email,
        language=booking.language,
        payload=payload or {},
        instant=instant or booking.updated_at,
    )


async def _tell_host(
    booking: Booking, host_email: str, kind: str, payload: dict[str, Any] | None = None
) -> None:
    if host_email:
        await outbox.enqueue(
            kind,
            booking_id=booking.id,
            recipient=host_email,
            language="de",
            payload=payload or {},
            instant=booking.updated_at,
        )


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


# ---------------------------------------------------------------------------
# Before booking: what would stand in a class visit's way (shown, not enforced here;
# `place_booking` enforces the same rules when the form is sent).


@dataclass(frozen=True)
class Obstacle:
    """Why a slot does not suit a class: a `blocking` one is the refusal the booking engine
    would give (`eligibility.Reason`, its figures in `params`); `school_busy` only informs
    that other classes of the school have a visit then."""

    reason: str
    message: str
    blocking: bool
    closure: Any = None  # calendar.holidays.Closure for the holiday reasons
    other_classes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)


async def class_visit_obstacles(
    slot_ids: list[int],
    *,
    by: Principal,
    class_label: str | None = None,
    grade: int | None = None,
    now: datetime | None = None,
) -> dict[int, Obstacle]:
    """For a teacher: which of these slots a class visit would be refused for, and why."""
    if by.role != "school" or by.org_id is None or not slot_ids:
        return {}
    now = now or utcnow()
    facts = await load_slots(slot_ids)
    if not facts:
        return {}
    visits = await class_visits_overlapping(
        by.org_id,
        min(f.starts_at for f in facts.values()),
        max(f.ends_at for f in facts.values()),
    )
    label = " ".join((class_label or "").split())
    found: dict[int, Obstacle] = {}
    for slot_id, slot in facts.items():
        overlapping = [
            v for v in visits if v.starts_at < slot.ends_at and v.ends_at > slot.starts_at
        ]
        party = Party(
            class_visit=True,
            grade=grade,
            label=label or None,
            busy=[
                Busy(v.starts_at, v.ends_at)
                for v in overlapping
                if label and v.class_label.casefold() == label.casefold()
            ],
        )
        labels = tuple(sorted({v.class_label for v in overlapping}))
        no = refusal(slot, party, now)
        if no is not None:
            found[slot_id] = Obstacle(
                no.reason.value,
                english(no.reason, no.params),
                True,
                no.closure,
                labels,
                no.params,
            )
        elif labels:
            found[slot_id] = Obstacle(
                "school_busy",
                f"other classes of your school have a visit then: {', '.join(labels)}",
                False,
                other_classes=labels,
            )
    return found
