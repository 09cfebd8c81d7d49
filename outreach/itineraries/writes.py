"""Booking, changing and cancelling an itinerary.

Booking goes through `booking.writes.place_many`, the engine's one path for several
slots in one transaction, all or nothing: the planner is advice and the engine stays
the authority. When a part cannot be placed, `ItineraryUnavailable` says which and
what would work now.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from outreach.booking.schemas import BookingRequest
from outreach.booking.tables import Booking
from outreach.booking.writes import cancel_booking, place_many
from outreach.calendar.holidays import closure_on
from outreach.db import write_transaction
from outreach.errors import Conflict, Invalid, NotFound
from outreach.itineraries import planner
from outreach.itineraries.availability import (
    _REASONS,
    _check_firms,
    _class_busy,
    _load_infos,
    _query,
    _require_teacher,
    _SlotInfo,
    _time,
    _why_not,
    travel_rules,
)
from outreach.itineraries.planning import ExplainedPlan, _plan, replacement_options
from outreach.itineraries.schemas import (
    ItineraryIn,
    ItineraryOut,
    PlanRequest,
    UnavailableOut,
)
from outreach.itineraries.tables import Itinerary, ItineraryVisit
from outreach.itineraries.views import _itinerary_row, _visits, get_itinerary
from outreach.principal import Principal
from outreach.timeutil import local, utcnow

__all__ = [
    "Booked",
    "ItineraryUnavailable",
    "book_itinerary",
    "book_replacement",
    "cancel_itinerary",
    "cancel_visit",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# Errors


class ItineraryUnavailable(Conflict):
    """409: a part could not be placed, nothing was booked; here is what would work now."""

    def __init__(
        self,
        message: str,
        *,
        reason: str | None,
        field: str | None,
        unavailable: list[UnavailableOut],
        plan: ExplainedPlan,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, field=field, reason=reason or "unavailable", params=params)
        self.unavailable = unavailable
        self.explained = plan
        self.plan = plan.plan

    def to_dict(self) -> dict[str, Any]:  # type: ignore[override]
        body: dict[str, Any] = dict(super().to_dict())
        body["unavailable"] = msgspec.to_builtins(self.unavailable)
        body.update(msgspec.to_builtins(self.plan))
        return body


# ---------------------------------------------------------------------------
# Booking an itinerary


@dataclass(frozen=True)
class Booked:
    itinerary: ItineraryOut
    replayed: bool = False


def _check_chain(infos: list[_SlotInfo], mode: str) -> None:
    """One day, different firms, and time to get from each venue to the next."""
    if len({i.day for i in infos}) > 1:
        raise Invalid("all visits of an itinerary are on one day", field="slot_ids")
    if len({i.host for i in infos}) != len(infos):
        raise Invalid("each visit of an itinerary is at a different firm", field="slot_ids")
    day = infos[0].day
    rules = travel_rules(mode, day, dt.time(0), dt.time(23, 59))
    for a, b in itertools.pairwise(infos):
        if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
            continue  # no coordinates: the engine's overlap check still applies
        km = planner.haversine_km(a.lat, a.lon, b.lat, b.lon)
        need = planner.travel_minutes(km, rules)
        if b.starts_at < a.ends_at + dt.timedelta(minutes=need):
            raise Invalid.because(
                "walk_too_long" if mode == "foot" else "bus_too_long",
                field="slot_ids",
                origin=a.host_name,
                destination=b.host_name,
                minutes=need,
                gap=max(0, int((b.starts_at - a.ends_at).total_seconds() // 60)),
            )


async def book_itinerary(
    data: ItineraryIn,
    *,
    by: Principal,
    key: str | None = None,
    now: dt.datetime | None = None,
) -> Booked:
    """Book the class into every slot in one transaction, or into none.

    On a conflict (a slot filled meanwhile, a clash, a closed window) nothing is booked
    and `ItineraryUnavailable` carries fresh proposals planned with the same parameters.
    """
    now = now or utcnow()
    _require_teacher(by)
    if len(set(data.slot_ids)) != len(data.slot_ids):
        raise Invalid("slot_ids must not repeat a slot", field="slot_ids")
    infos = await _load_infos(slot_ids=data.slot_ids)
    # Drafts of other organisations are not revealed: they look like no slot at all.
    shown = {i.slot_id for i in infos if i.status != "draft"}
    for slot_id in data.slot_ids:
        if slot_id not in shown:
            raise NotFound(f"no slot {slot_id}", field="slot_ids")
    infos.sort(key=lambda i: (i.starts_at, i.slot_id))
    _check_chain(infos, data.travel_mode)
    if data.arrive_at and local(infos[0].starts_at).time() < _time(data.arrive_at, "arrive_at"):
        raise Invalid("the first visit starts before arrive_at", field="arrive_at")
    if data.leave_by and _hhmm_ceil(infos[-1].ends_at) > data.leave_by:
        raise Invalid("the last visit ends after leave_by", field="leave_by")
    if data.firms:
        await _check_firms(data.firms)
    request = BookingRequest(
        class_label=data.class_label,
        grade=data.grade,
        pupils=data.pupils,
        adults=data.adults,
        contact_name=data.contact_name,
        contact_email=data.contact_email,
        notes=data.notes,
        language=data.language,
    )
    ordered = [i.slot_id for i in infos]
    for attempt in (1, 2):
        try:
            itinerary_id, replayed = await _book_once(ordered, request, data, infos, by, key, now)
            break
        except (
            asyncpg.UniqueViolationError,
            asyncpg.InFailedSQLTransactionError,
            sqlite3.IntegrityError,
        ):
            # Two requests with one Idempotency-Key: the loser retries and replays.
            if key is None or attempt == 2:
                raise
            log.info("itinerary with a racing Idempotency-Key: replaying the first answer")
        except Conflict as exc:
            raise await _unavailable(exc, data, infos, by, now) from exc
    return Booked(await get_itinerary(itinerary_id, by=by, now=now), replayed=replayed)


async def _book_once(
    slot_ids: list[int],
    request: BookingRequest,
    data: ItineraryIn,
    infos: list[_SlotInfo],
    by: Principal,
    key: str | None,
    now: dt.datetime,
) -> tuple[int, bool]:
    """One transaction: the bookings (through the engine) and the itinerary rows."""
    async with write_transaction():
        placement = await place_many(slot_ids, request, by=by, key=key, now=now)
        first = placement.bookings[0].id
        if placement.replayed:
            row = (
                await ItineraryVisit.select(ItineraryVisit.itinerary)
                .where(ItineraryVisit.booking == first)
                .first()
            )
            if row is None:
                raise Invalid(
                    "this Idempotency-Key was already used for a different request",
                    field="Idempotency-Key",
                    reason="key_reused",
                )
            return row["itinerary"], True
        day = infos[0].day
        itinerary = Itinerary(
            school=by.org_id,
            created_by=by.user_id,
            day=day,
            class_label=placement.bookings[0].class_label,
            grade=data.grade,
            pupils=data.pupils,
            adults=data.adults,
            travel_mode=data.travel_mode,
            arrive_at=data.arrive_at or _hhmm_floor(infos[0].starts_at),
            leave_by=data.leave_by or _hhmm_ceil(infos[-1].ends_at),
            lunch_minutes=data.lunch_minutes,
            firms=sorted(set(data.firms if data.firms is not None else [i.host for i in infos])),
            topics=sorted({t.strip().lower() for t in data.topics if t.strip()}),
            created_at=now,
        )
        await itinerary.save()
        await ItineraryVisit.insert(
            *[
                ItineraryVisit(itinerary=itinerary.id, booking=b.id, position=n)
                for n, b in enumerate(placement.bookings, start=1)
            ]
        )
        return itinerary.id, False


def _hhmm_floor(moment: dt.datetime) -> str:
    return f"{local(moment):%H:%M}"


def _hhmm_ceil(moment: dt.datetime) -> str:
    at = local(moment)
    if at.second or at.microsecond:
        at = at.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    if at.date() != local(moment).date():
        return "23:59"
    return f"{at:%H:%M}"


async def _unavailable(
    exc: Conflict, data: ItineraryIn, infos: list[_SlotInfo], by: Principal, now: dt.datetime
) -> ItineraryUnavailable:
    """Nothing was booked: say which parts fail now, and plan afresh."""
    day = infos[0].day
    firms = data.firms if data.firms is not None else [i.host for i in infos]
    req = PlanRequest(
        grade=data.grade,
        pupils=data.pupils,
        adults=data.adults,
        date=day,
        arrive_at=data.arrive_at or _hhmm_floor(infos[0].starts_at),
        leave_by=data.leave_by or _hhmm_ceil(infos[-1].ends_at),
        travel_mode=data.travel_mode,
        lunch_minutes=data.lunch_minutes,
        firms=list(firms),
        topics=list(data.topics),
        max_visits=len(data.slot_ids),
        min_visits=min(2, len(data.slot_ids)),
        class_label=data.class_label,
    )
    q = _query(req, by)
    fresh = await _load_infos(slot_ids=data.slot_ids)
    busy = await _class_busy(q.school_id, q.class_label, [day])
    unavailable = []
    closure = closure_on(day)
    for info in fresh:
        if closure is not None:
            unavailable.append(
                UnavailableOut(slot_id=info.slot_id, reason=closure.reason, message=closure.message)
            )
            continue
        reason = _why_not(info, q, now, busy)
        if reason not in (None, "outside_day"):
            unavailable.append(
                UnavailableOut(slot_id=info.slot_id, reason=reason, message=_REASONS[reason])
            )
    plan = await _plan(q, now)
    return ItineraryUnavailable(
        f"{exc.message}; nothing was booked",
        reason=exc.reason,
        field=exc.field,
        unavailable=unavailable,
        plan=plan,
        params=exc.params,
    )


async def book_replacement(
    itinerary_id: int,
    booking_id: int,
    slot_id: int,
    *,
    by: Principal,
    key: str | None = None,
    now: dt.datetime | None = None,
) -> Booked:
    """Book `slot_id` in place of the fallen-away visit `booking_id`, into the same day.

    Only a slot that `replacement_options` proposes is taken: it keeps the other visits,
    the travel between them and the school day. The booking goes through the engine
    (no waiting list: the class needs the places) and joins the itinerary in the same
    transaction.
    """
    now = now or utcnow()
    _require_teacher(by)
    row = await _itinerary_row(itinerary_id, by)
    visits = await _visits(row.id)
    if any(v.active and v.info.slot_id == slot_id for v in visits):
        # Already in the day (a double click, a retried request): book nothing more.
        return Booked(await get_itinerary(row.id, by=by, now=now), replayed=True)
    target = next((v for v in visits if v.booking["id"] == booking_id), None)
    if target is None:
        raise NotFound(
            f"booking {booking_id} is not part of itinerary {itinerary_id}", field="booking"
        )
    if target.active:
        raise Conflict(
            "this visit is still on: cancel it before booking a replacement",
            field="booking",
            reason="wrong_status",
        )
    options = await replacement_options(itinerary_id, booking_id, by=by, now=now, limit=10)
    fixed = {v.slot_id for v in (await get_itinerary(itinerary_id, by=by)).visits}
    offered = {v.slot_id for p in options.proposals for v in p.visits if v.slot_id not in fixed}
    if slot_id not in offered:
        raise Conflict(
            "this slot no longer fits the day: pick one of the replacements shown",
            field="slot",
            reason="unavailable",
        )
    contact = (
        await Booking.select(Booking.contact_name, Booking.contact_email, Booking.language)
        .where(Booking.id == booking_id)
        .first()
    )
    request = BookingRequest(
        class_label=row.class_label,
        grade=row.grade,
        pupils=row.pupils,
        adults=row.adults,
        contact_name=contact["contact_name"] or None,
        contact_email=contact["contact_email"] or None,
        language=contact["language"] or None,
    )
    async with write_transaction():
        placement = await place_many([slot_id], request, by=by, key=key, now=now)
        new_id = placement.bookings[0].id
        linked = await ItineraryVisit.exists().where(ItineraryVisit.booking == new_id)
        if not linked:
            last = (
                await ItineraryVisit.select(ItineraryVisit.position)
                .where(ItineraryVisit.itinerary == row.id)
                .order_by(ItineraryVisit.position, ascending=False)
                .first()
            )
            await ItineraryVisit.insert(
                ItineraryVisit(
                    itinerary=row.id, booking=new_id, position=(last["position"] if last else 0) + 1
                )
            )
    return Booked(await get_itinerary(row.id, by=by, now=now), replayed=placement.replayed)


async def cancel_visit(
    itinerary_id: int,
    booking_id: int,
    reason: str,
    *,
    by: Principal,
    now: dt.datetime | None = None,
) -> ItineraryOut:
    """Cancel one visit of the day; the others stay booked and a replacement can be sought."""
    row = await _itinerary_row(itinerary_id, by)
    linked = await ItineraryVisit.exists().where(
        (ItineraryVisit.itinerary == row.id) & (ItineraryVisit.booking == booking_id)
    )
    if not linked:
        raise NotFound(
            f"booking {booking_id} is not part of itinerary {itinerary_id}", field="booking"
        )
    await cancel_booking(booking_id, reason, by=by, now=now)
    return await get_itinerary(row.id, by=by, now=now)


async def cancel_itinerary(
    itinerary_id: int, reason: str, *, by: Principal, now: dt.datetime | None = None
) -> ItineraryOut:
    """Cancel every visit of the day still on, in one transaction; each host is told."""
    now = now or utcnow()
    _require_teacher(by)
    row = await _itinerary_row(itinerary_id, by)
    visits = [v for v in await _visits(row.id) if v.active]
    if not visits:
        raise Conflict(
            "every visit of this day is already cancelled", field="itinerary", reason="wrong_status"
        )
    async with write_transaction():
        cancelled = 0
        for v in visits:
            try:
                await cancel_booking(v.booking["id"], reason, by=by, now=now)
                cancelled += 1
            except Conflict as exc:
                # A host declined or cancelled this visit since it was read, or it has
                # begun: the booking row is locked and checked before any write, so
                # skipping it leaves the rest of the day to cancel.
                if exc.reason not in ("wrong_status", "started"):
                    raise
        if not cancelled:
            raise Conflict(
                "no visit of this day can be cancelled any more",
                field="itinerary",
                reason="wrong_status",
            )
    return await get_itinerary(row.id, by=by, now=now)
