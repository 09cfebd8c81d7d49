"""Placements after a confirmed round: who sees which (a firm only its own offers'
placements, never a pupil's rank or other wishes; a school only its own pupils), the
firm's confirmation, cancelling (the place goes to the next wish in line) and the
attendance the firm records after the period."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, Invalid, NotFound, Unauthorised
from outreach.internships import allocation
from outreach.internships.loading import outcomes_of, pupils_of
from outreach.internships.notices import tell_placement
from outreach.internships.rules import taken_places, today, working_days
from outreach.internships.schemas import PlacementAttendanceIn, PlacementOut
from outreach.internships.tables import (
    HOLDING,
    ClassPeriod,
    InternshipOffer,
    OfferPeriod,
    Placement,
    Round,
)
from outreach.principal import Principal
from outreach.timeutil import utcnow

__all__ = ["cancel_placement", "confirm_placement", "list_placements", "record_attendance"]

P = Placement
MAX_HAND_ON = 200  # moves of one cancellation (each moves a pupil to a better wish)

# Joins at most two deep: PostgreSQL cuts Piccolo's join aliases at 63 characters, and
# deeper paths of these long table names would collide. Classes and offers are read apart.
_COLUMNS = (
    P.id,
    P.round,
    P.round.status.as_alias("round_status"),
    P.status,
    P.pupil,
    P.pupil.first_name.as_alias("first_name"),
    P.pupil.code.as_alias("code"),
    P.pupil.class_period.as_alias("class_id"),
    P.offer_period,
    P.offer_period.offer.as_alias("offer"),
    P.rank,
    P.reason,
    P.days_attended,
    P.apprenticeship_offered,
)


async def _rows(query: Any) -> list[dict[str, Any]]:
    """The placements with their class (school, dates) and offer (occupation, host)."""
    rows = await query
    class_ids = sorted({r["class_id"] for r in rows})
    offer_ids = sorted({r["offer"] for r in rows if r["offer"] is not None})
    C, OF = ClassPeriod, InternshipOffer
    classes = {
        c["id"]: c
        for c in (
            await C.select(
                C.id,
                C.class_label,
                C.starts_on,
                C.ends_on,
                C.school.as_alias("school_id"),
                C.school.slug.as_alias("school"),
                C.school.name.as_alias("school_name"),
            ).where(C.id.is_in(class_ids))
            if class_ids
            else []
        )
    }
    offers = {
        o["id"]: o
        for o in (
            await OF.select(
                OF.id,
                OF.occupation,
                OF.host.as_alias("host_id"),
                OF.host.slug.as_alias("host"),
                OF.host.name.as_alias("host_name"),
            ).where(OF.id.is_in(offer_ids))
            if offer_ids
            else []
        )
    }
    empty = {"occupation": "", "host_id": None, "host": "", "host_name": ""}
    out = []
    for r in rows:
        klass = {k: v for k, v in classes[r["class_id"]].items() if k != "id"}
        offer = {k: v for k, v in offers.get(r["offer"], empty).items() if k != "id"}
        out.append({**r, **klass, **offer})
    return out


def _out(row: dict[str, Any], by: Principal) -> PlacementOut:
    insider = by.role != "firm"  # the school and the office know the wishes
    return PlacementOut(
        id=row["id"],
        round=row["round"],
        round_status=row["round_status"],
        status=row["status"],
        pupil=row["pupil"],
        first_name=row["first_name"],
        class_label=row["class_label"],
        school=row["school"],
        school_name=row["school_name"],
        offer=row["offer"],
        occupation=row["occupation"],
        host=row["host"],
        host_name=row["host_name"],
        offer_period=row["offer_period"],
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        code=row["code"] if insider else None,
        rank=row["rank"] if insider else None,
        reason=row["reason"] if insider else None,
        days_attended=row["days_attended"],
        apprenticeship_offered=row["apprenticeship_offered"],
    )


async def list_placements(*, by: Principal, round_id: int | None = None) -> list[PlacementOut]:
    """The office: every placement (previews too); a school: its pupils' placements of
    confirmed rounds; a firm: the placements at its own offers of confirmed rounds."""
    query = P.select(*_COLUMNS).where(P.offer_period.is_not_null())
    if by.is_admin:
        pass
    elif by.role == "school" and by.org_id is not None:
        query = query.where(
            (P.pupil.class_period.school == by.org_id) & (P.round.status == "confirmed")
        )
    elif by.role == "firm" and by.org_id is not None:
        query = query.where(
            (P.offer_period.offer.host == by.org_id) & (P.round.status == "confirmed")
        )
    elif not by.is_member:
        raise Unauthorised("sign in first")
    else:
        return []
    if round_id is not None:
        query = query.where(P.round == round_id)
    rows = await _rows(query.order_by(P.round).order_by(P.id))
    return [_out(row, by) for row in rows]


async def _placement(placement_id: int, by: Principal, *, firm: bool, school: bool) -> dict:
    """The placement (locked) if `by` may act on it; NotFound otherwise."""
    await for_update(P.select(P.id).where(P.id == placement_id))
    found = await _rows(P.select(*_COLUMNS).where(P.id == placement_id))
    row = found[0] if found else None
    if row is None or row["offer_period"] is None or row["round_status"] != "confirmed":
        if row is not None and by.is_admin:
            raise Conflict.because("placement_status", field="status", status=row["status"])
        raise NotFound("no such placement", field="placement")
    may = (
        by.is_admin
        or (firm and by.role == "firm" and by.belongs_to(row["host_id"]))
        or (school and by.role == "school" and by.belongs_to(row["school_id"]))
    )
    if not may:
        raise NotFound("no such placement", field="placement")
    return row


async def _get(placement_id: int, by: Principal) -> PlacementOut:
    [row] = await _rows(P.select(*_COLUMNS).where(P.id == placement_id))
    return _out(row, by)


async def confirm_placement(
    placement_id: int, *, by: Principal, now: datetime | None = None
) -> PlacementOut:
    """The firm takes the pupil (the office may say so for it)."""
    now = now or utcnow()
    async with write_transaction():
        row = await _placement(placement_id, by, firm=True, school=False)
        if row["status"] != "placed":
            if row["status"] == "confirmed_by_firm":
                return await _get(placement_id, by)
            raise Conflict.because("placement_status", field="status", status=row["status"])
        await P.update(
            {P.status: "confirmed_by_firm", P.confirmed_at: now, P.updated_at: now}
        ).where(P.id == placement_id)
    return await _get(placement_id, by)


async def cancel_placement(
    placement_id: int, *, by: Principal, reason: str = "", now: datetime | None = None
) -> PlacementOut:
    """The school, the firm or the office cancels a placement; its place goes to the
    next wish in line (rank, then the round's lottery), and they are told."""
    now = now or utcnow()
    async with write_transaction():
        row = await _placement(placement_id, by, firm=True, school=True)
        if row["status"] not in HOLDING:
            raise Conflict.because("placement_status", field="status", status=row["status"])
        await P.update({P.status: "cancelled", P.cancelled_at: now, P.updated_at: now}).where(
            P.id == placement_id
        )
        await tell_placement(
            placement_id, "internship.cancelled", now, change="cancelled", reason=reason.strip()
        )
        await _hand_on(row["round"], row["offer_period"], now)
    return await _get(placement_id, by)


async def _hand_on(round_id: int, period_id: int, now: datetime) -> None:
    """Offer the freed place to the next in line; a pupil who moves up from a lower
    wish frees that place in turn."""
    # Locked: two cancellations of one round hand their places on one after the other,
    # each seeing who the other placed.
    rnd = await for_update(
        Round.select(Round.classes, Round.lottery).where(Round.id == round_id)
    ).first()
    assert rnd is not None
    lottery = json.loads(rnd["lottery"] or "[]")
    cancelled = {
        r["pupil"]
        for r in await P.select(P.pupil).where((P.round == round_id) & (P.status == "cancelled"))
    }
    pupils = [p for p in await pupils_of(rnd["classes"]) if p.id not in cancelled]
    wishes = {p.id: p.wishes for p in pupils}
    freed: int | None = period_id
    for _ in range(MAX_HAND_ON):
        if freed is None:
            return
        period = await OfferPeriod.select(OfferPeriod.places).where(OfferPeriod.id == freed).first()
        if period is None or period["places"] - (await taken_places([freed])).get(freed, 0) <= 0:
            return
        outcomes = await outcomes_of(round_id)
        chosen = allocation.next_in_line(freed, outcomes, pupils, lottery)
        if chosen is None or freed not in wishes.get(chosen, ()):
            return
        rank = wishes[chosen].index(freed) + 1
        current = next((o for o in outcomes if o.pupil_id == chosen), None)
        if current is None or (current.rank is not None and current.rank <= rank):
            return  # not better for the pupil: the place stays free
        moved = (
            await P.update(
                {
                    P.offer_period: freed,
                    P.rank: rank,
                    P.reason: "next_in_line",
                    P.params: "{}",
                    P.status: "placed",
                    P.confirmed_at: None,
                    P.updated_at: now,
                }
            )
            .where((P.round == round_id) & (P.pupil == chosen))
            .returning(P.id)
        )
        await tell_placement(moved[0]["id"], "internship.next_in_line", now, change=f"o{freed}")
        freed = current.offer_period_id


async def record_attendance(
    placement_id: int, data: PlacementAttendanceIn, *, by: Principal, now: datetime | None = None
) -> PlacementOut:
    """The firm records, from the last day on, the days the pupil came (at most the
    period's working days) and whether it offered an apprenticeship."""
    now = now or utcnow()
    async with write_transaction():
        row = await _placement(placement_id, by, firm=True, school=False)
        if row["status"] not in HOLDING:
            raise Conflict.because("placement_status", field="status", status=row["status"])
        if today(now) < row["ends_on"]:
            raise Conflict.because(
                "internship_not_over", field="days_attended", ends_on=row["ends_on"]
            )
        most = working_days(row["starts_on"], row["ends_on"])
        if data.days_attended > most:
            raise Invalid.because("above_working_days", field="days_attended", max=most)
        await P.update(
            {
                P.days_attended: data.days_attended,
                P.apprenticeship_offered: data.apprenticeship_offered,
                P.attendance_recorded_at: now,
                P.updated_at: now,
            }
        ).where(P.id == placement_id)
    return await _get(placement_id, by)
