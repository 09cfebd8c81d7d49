"""The booking engine: places in slots that are never overbooked.

One rule, one place: every path that takes places (a booking, a promotion from the
waiting list, several slots at once) ends in `_claim_places`, a conditional UPDATE
that the database applies atomically, so it holds across processes and machines. On
PostgreSQL a class visit states the same UPDATE inside the one statement that writes
it (`writes_pg`, called from `_place_class_visit_pg` only).
`Slot.held` counts the persons of pending and confirmed bookings. Here too: placing
(with its Idempotency-Key), confirming, declining, cancelling, and the mails each
change sends through the outbox.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from piccolo.columns.combination import WhereRaw

from outreach.access import can_manage, load_event_row, visible_event
from outreach.booking import writes_pg
from outreach.booking.eligibility import (
    Busy,
    Party,
    Reason,
    Refusal,
    SlotFacts,
    slot_state_refusal,
)
from outreach.booking.queries import _org_rows, _out, _outs, _waitlist_positions
from outreach.booking.rules import (
    OPEN_STATUSES,
    _class_visit_fields,
    _class_visits_of,
    _free_places,
    _is_booker,
    _refuse,
    _refuse_if_started,
    _registration_fields,
    _require_host,
)
from outreach.booking.schemas import BookingOut, BookingRequest
from outreach.booking.tables import HOLDING_STATUSES, Booking, IdempotencyRecord
from outreach.calendar import changes as feeds
from outreach.config import get_settings
from outreach.db import for_update, is_postgres, write_transaction
from outreach.errors import Conflict, Invalid, NotFound
from outreach.events.tables import Event, Slot
from outreach.observability import BOOKINGS_PLACED
from outreach.outbox import services as outbox
from outreach.principal import Principal
from outreach.timeutil import utcnow

__all__ = [
    "IDEMPOTENCY_KEEP",
    "Placement",
    "cancel_booking",
    "confirm_booking",
    "decline_booking",
    "place_booking",
    "place_many",
    "promote_waiting",
    "purge_idempotency_records",
]


_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


# How long a retry with the same Idempotency-Key replays the first answer: a client's
# retries come within minutes; then the housekeeping purges the record.
IDEMPOTENCY_KEEP = timedelta(hours=24)


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
    if req.is_class_visit and is_postgres():
        # The one place the dialect is chosen: PostgreSQL books a class visit with three
        # pre-built statements (`_place_class_visit_pg`); SQLite, and registrations, take
        # the generic path. Both write the same rows and pass the same tests.
        return await _place_class_visit_pg(slot_id, req, by=by, key=key, now=now)

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


async def _lock_slot(slot_id: int) -> int:
    """Lock the slot's row until the transaction ends; its capacity."""
    row = await for_update(Slot.select(Slot.capacity).where(Slot.id == slot_id)).first()
    return int(row["capacity"]) if row else 0


async def _refuse_second_registration(slot_id: int, email: str) -> None:
    """One address registers once per slot (a second one would hold places twice)."""
    taken = await Booking.exists().where(
        (Booking.slot == slot_id)
        & (Booking.kind == "registration")
        & (Booking.contact_email == email)
        & Booking.status.is_in(list(OPEN_STATUSES))
    )
    if taken:
        raise Conflict.because("already_registered", field="email")


async def _within_unconfirmed_share(slot_id: int, capacity: int, persons: int) -> bool:
    """Whether `persons` more fit in the share unconfirmed registrations may hold
    (`UNCONFIRMED_SHARE_PERCENT` of the places, 25 % by default)."""
    held = await Booking.select(Booking.persons).where(
        (Booking.slot == slot_id)
        & Booking.verify_by.is_not_null()
        & Booking.status.is_in(list(HOLDING_STATUSES))
    )
    share = capacity * get_settings().unconfirmed_share_percent // 100
    return sum(row["persons"] for row in held) + persons <= share


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
        busy = await _class_visits_of(by.org_id, fields["class_label"], slot)
        party = _class_party(fields, busy, may_wait=waitlist_allowed)
    else:
        fields = _registration_fields(req, by, event)
        party = Party(persons=fields["persons"], may_wait=waitlist_allowed)
    _refuse(facts, party, now)
    orgs = await _org_rows([event.host, *([fields["school"]] if fields.get("school") else [])])
    # Anyone may register without an account, and a member may register someone else:
    # such a registration holds its places only until the address is confirmed, so
    # made-up addresses cannot block a slot for long.
    verify_by = (
        min(now + timedelta(hours=get_settings().registration_confirm_hours), slot.starts_at)
        if fields["kind"] == "registration" and fields["contact_email"] != by.email
        else None
    )
    capacity = slot.capacity
    if fields["kind"] == "registration":
        # The slot's row is locked from here to the commit, so two registrations at once
        # are judged one after the other by the two rules below.
        capacity = await _lock_slot(slot.id)
        await _refuse_second_registration(slot.id, fields["contact_email"])
    # From the claim to the commit this transaction holds the slot's row lock: keep that
    # stretch to the few writes that must follow it.
    if verify_by is not None and not await _within_unconfirmed_share(
        slot.id, capacity, fields["persons"]
    ):
        # Unconfirmed registrations hold their share already: this one waits, holding
        # nothing, and is never promoted until its address is confirmed.
        status = "waitlisted"
    elif await _claim_places(slot.id, fields["persons"]):
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


def _class_party(fields: dict[str, Any], busy: list[Busy], *, may_wait: bool) -> Party:
    return Party(
        class_visit=True,
        grade=fields["grade"],
        persons=fields["persons"],
        label=fields["class_label"],
        persons_field="pupils",
        busy=busy,
        may_wait=may_wait,
    )


async def _place_class_visit_pg(
    slot_id: int, req: BookingRequest, *, by: Principal, key: str | None, now: datetime
) -> Placement:
    """`place_booking` of a class visit on PostgreSQL: the same checks in the same order
    as `_idempotent` and `_place`, the same rows, in two statements (`writes_pg`).

    The first reads the slot, event, host and school and whether the key is known, and
    locks the school's row; every check that only reads runs on what it read, as the
    generic path's do on rows read without a lock (a refusal rolls back, storing
    nothing). The second checks the clash rule on the rows as they are once the lock is
    held, claims the places with the conditional UPDATE (re-checked against the row it
    waited for), and writes the booking, the feed change, the notices and the
    idempotency record.
    """
    scoped_key = _scoped_key(by, key) if key is not None else None
    request_hash = _request_hash("booking", [slot_id], req)
    try:
        async with write_transaction():
            seen = await writes_pg.read(slot_id, by.org_id, scoped_key)
            if scoped_key and seen.keyed and (replay := await _replay(scoped_key, request_hash)):
                return replay
            placed, slot, event = await _class_visit_pg(
                seen, slot_id, req, by, scoped_key, request_hash, now
            )
    except asyncpg.UniqueViolationError:
        if scoped_key and (replay := await _replay(scoped_key, request_hash)):
            return replay
        raise
    booking = placed.booking
    BOOKINGS_PLACED.labels(booking.status).inc()
    out = _out(
        booking,  # type: ignore[arg-type]
        slot,
        event.title,
        seen.orgs,
        event.host,
        placed.waitlist_position,
    )
    return Placement(bookings=[out])


async def _class_visit_pg(
    seen: writes_pg.Seen,
    slot_id: int,
    req: BookingRequest,
    by: Principal,
    scoped_key: str | None,
    request_hash: str,
    now: datetime,
) -> tuple[writes_pg.Placed, dict[str, Any], writes_pg.RowView]:
    """The checks and the writing statement of `_place_class_visit_pg`, in its
    transaction; the booking placed (never None: a refusal raises), the slot, the event."""
    if seen.slot is None:
        raise NotFound(f"no slot {slot_id}", field="slot")
    slot = seen.slot
    event = visible_event(seen.event, slot["event"], by)  # type: ignore[arg-type]
    facts = SlotFacts.of(slot, event.to_dict())
    if (closed := slot_state_refusal(facts, now)) is not None:
        raise closed.error()
    fields = await _class_visit_fields(req, by, event)  # type: ignore[arg-type]
    # Everything but the clash, which `place` judges on the rows as they are under the lock.
    _refuse(facts, _class_party(fields, [], may_wait=True), now)
    language = req.language or by.language
    written_at = utcnow()
    booker = outbox.planned_values(
        "booking.received", None, fields["contact_email"], language, {}, now, written_at
    )
    host_email = (seen.orgs[event.host]["contact_email"] or "").strip()
    host = outbox.planned_values(
        "host.booking_received", None, host_email, "de", {}, now, written_at
    )
    notices = [
        writes_pg.Notice(kind, row["recipient"], row["language"], row["payload"])
        for kind, row in ((None, booker), (host["kind"], host))
        if row["recipient"].strip()
    ]

    async def place(check_clash: bool) -> writes_pg.Placed:
        return await writes_pg.place(
            check_clash=check_clash,
            slot=slot,
            event_id=event.id,
            fields=fields,
            status_if_placed="confirmed" if event.booking_mode == "auto" else "pending",
            may_wait=bool(event.waitlist),
            language=language,
            booked_by=by.user_id,
            now=now,
            written_at=written_at,
            notices=notices,
            # The dedupe key is "<kind>:<booking id><this>" (`outbox.dedupe_key`).
            dedupe_suffix=booker["dedupe_key"].removeprefix(f"{booker['kind']}:"),
            scoped_key=scoped_key,
            request_hash=request_hash,
            key_stored_at=datetime.now(UTC),
        )

    placed = await place(check_clash=True)
    if placed.clashes:
        # A candidate clash (see writes_pg): judged here by the rule itself.
        label = fields["class_label"].casefold()
        busy = [Busy(s, e) for lab, s, e in placed.clashes if lab.casefold() == label]
        _refuse(facts, _class_party(fields, busy, may_wait=True), now)
        placed = await place(check_clash=False)
    if placed.booking is None:
        # Taken meanwhile by a booking that committed first.
        free = await _free_places(slot_id)
        raise Refusal(Reason.FULL, "slot", {"free": free, "persons": fields["persons"]}).error()
    await outbox.hand_over(placed.notice_ids)
    return placed, slot, event


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


def _address_payload(verify_by: datetime) -> dict[str, Any]:
    # The mail shows the link and the deadline; "address" marks the first mail as the one
    # that carries the link to confirm the address.
    return {"address": True, "verify_by": verify_by.isoformat()}


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
