"""Rounds: the office allocates classes' pupils to the offers' places at once (a
preview, reproducible from its seed), then confirms it (firms and teachers told) or
discards it. The scheduler starts a preview for classes whose wishes are due."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime

from outreach import reasons
from outreach.audit.services import record
from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, Forbidden, NotFound, Unauthorised
from outreach.internships import allocation
from outreach.internships.loading import offer_periods, pupils_of, stored_params
from outreach.internships.notices import tell_round_confirmed
from outreach.internships.rules import taken_places, today
from outreach.internships.schemas import OutcomeOut, RoundIn, RoundOut, UnplacedOut
from outreach.internships.tables import (
    HOLDING,
    ClassPeriod,
    OfferPeriod,
    Placement,
    Pupil,
    Round,
)
from outreach.internships.wishes import class_in_confirmed_round
from outreach.principal import Principal
from outreach.timeutil import utcnow

__all__ = [
    "allocate_due_rounds",
    "confirm_round",
    "discard_round",
    "get_round",
    "list_rounds",
    "preview_round",
]

log = logging.getLogger(__name__)


def _office_only(by: Principal) -> None:
    if not by.is_member:
        raise Unauthorised("sign in first")
    if not by.is_admin:
        raise Forbidden("only the network office allocates internships", field="role")


async def _start(class_ids: list[int], seed: int | None, user_id: int | None, now: datetime) -> int:
    """Allocate the classes' pupils and store the preview; the round's id."""
    pupils = await pupils_of(class_ids)
    periods = await offer_periods()
    taken = await taken_places([p.id for p in periods])
    result = allocation.allocate(
        pupils, periods, allocation.new_seed() if seed is None else seed, taken
    )
    row = Round(
        seed=result.seed,
        status="preview",
        classes=sorted(class_ids),
        lottery=json.dumps(list(result.lottery)),
        created_by=user_id,
        created_at=now,
    )
    await row.save()
    if result.outcomes:
        await Placement.insert(
            *(
                Placement(
                    round=row.id,
                    pupil=o.pupil_id,
                    round_pupil=f"{row.id}:{o.pupil_id}",
                    offer_period=o.offer_period_id,
                    rank=o.rank,
                    reason=o.reason,
                    params=json.dumps(reasons.json_params(o.params), sort_keys=True),
                    status="placed" if o.offer_period_id is not None else "unplaced",
                    updated_at=now,
                )
                for o in result.outcomes
            )
        )
    return int(row.id)


async def preview_round(data: RoundIn, *, by: Principal, now: datetime | None = None) -> RoundOut:
    """Allocate the classes named (with the seed given, or a new one) as a preview."""
    _office_only(by)
    now = now or utcnow()
    class_ids = sorted(set(data.classes))
    async with write_transaction():
        found = await ClassPeriod.select(ClassPeriod.id).where(ClassPeriod.id.is_in(class_ids))
        missing = set(class_ids) - {r["id"] for r in found}
        if missing:
            raise NotFound("no such class", field="classes")
        for class_id in class_ids:
            if await class_in_confirmed_round(class_id):
                raise Conflict.because("class_in_round", field="classes")
        round_id = await _start(class_ids, data.seed, by.user_id, now)
        await record(
            "internship_round.preview",
            by=by,
            object_type="internship_round",
            object_id=round_id,
            detail={"classes": class_ids},
            now=now,
        )
    return await get_round(round_id, by=by)


async def confirm_round(round_id: int, *, by: Principal, now: datetime | None = None) -> RoundOut:
    """Make a preview binding: no class in another confirmed round, no period over its
    places (with the places confirmed since the preview); teachers and firms are told."""
    _office_only(by)
    now = now or utcnow()
    async with write_transaction():
        row = await _locked(round_id)
        if row.status != "preview":
            raise Conflict.because("round_status", field="status", status=row.status)
        for class_id in row.classes:
            if await class_in_confirmed_round(class_id):
                raise Conflict.because("class_in_round", field="classes")
        placed: dict[int, int] = {}
        for r in await Placement.select(Placement.offer_period).where(
            (Placement.round == round_id) & Placement.status.is_in(list(HOLDING))
        ):
            placed[r["offer_period"]] = placed.get(r["offer_period"], 0) + 1
        if placed:
            # Locked: two rounds confirmed at once see each other's places.
            periods = await for_update(
                OfferPeriod.select(OfferPeriod.id, OfferPeriod.places).where(
                    OfferPeriod.id.is_in(sorted(placed))
                )
            )
            taken = await taken_places(placed)
            for period in periods:
                free = period["places"] - taken.get(period["id"], 0)
                if placed[period["id"]] > free:
                    raise Conflict.because(
                        "over_capacity",
                        field="round",
                        id=period["id"],
                        free=max(0, free),
                        placed=placed[period["id"]],
                    )
        await Round.update({Round.status: "confirmed", Round.confirmed_at: now}).where(
            Round.id == round_id
        )
        await tell_round_confirmed(round_id, list(row.classes), now)
        await record(
            "internship_round.confirm",
            by=by,
            object_type="internship_round",
            object_id=round_id,
            detail={"classes": list(row.classes)},
            now=now,
        )
    return await get_round(round_id, by=by)


async def discard_round(round_id: int, *, by: Principal) -> RoundOut:
    """A preview the office does not want; its classes can be allocated again."""
    _office_only(by)
    async with write_transaction():
        row = await _locked(round_id)
        if row.status != "preview":
            raise Conflict.because("round_status", field="status", status=row.status)
        await Round.update({Round.status: "discarded"}).where(Round.id == round_id)
        await record(
            "internship_round.discard",
            by=by,
            object_type="internship_round",
            object_id=round_id,
        )
    return await get_round(round_id, by=by)


async def _locked(round_id: int) -> Round:
    row = await for_update(Round.objects().where(Round.id == round_id)).first()
    if row is None:
        raise NotFound("no such round", field="round")
    return row


async def get_round(round_id: int, *, by: Principal) -> RoundOut:
    """The round with every pupil's outcome and why; unplaced pupils with the periods
    that fit them and still have places."""
    _office_only(by)
    row = await Round.objects().where(Round.id == round_id).first()
    if row is None:
        raise NotFound("no such round", field="round")
    outcomes = await Placement.select().where(Placement.round == round_id).order_by(Placement.id)
    placements: list[OutcomeOut] = []
    unplaced: list[UnplacedOut] = []
    waiting = [o for o in outcomes if o["offer_period"] is None]
    free_for = await _free_for(row, [o["pupil"] for o in waiting]) if waiting else {}
    for o in outcomes:
        params = stored_params(o["params"])
        message = reasons.english(o["reason"], params) if o["reason"] in reasons.TEXTS else ""
        if o["offer_period"] is None:
            unplaced.append(
                UnplacedOut(o["pupil"], o["reason"], message, params, free_for.get(o["pupil"], []))
            )
        else:
            placements.append(
                OutcomeOut(
                    pupil=o["pupil"],
                    offer_period=o["offer_period"],
                    rank=o["rank"],
                    reason=o["reason"],
                    message=message,
                    params=params,
                    placement=o["id"],
                    status=o["status"],
                )
            )
    return RoundOut(
        id=row.id,
        seed=row.seed,
        status=row.status,  # type: ignore[arg-type]
        classes=list(row.classes),
        created_at=row.created_at,
        placements=placements,
        unplaced=unplaced,
        confirmed_at=row.confirmed_at,
    )


async def _free_for(row: Round, pupil_ids: Iterable[int]) -> dict[int, list[int]]:
    wanted = set(pupil_ids)
    pupils = [p for p in await pupils_of(row.classes) if p.id in wanted]
    periods = await offer_periods()
    taken = await taken_places([p.id for p in periods], rounds=[row.id])
    free = {p.id for p in periods if p.places - taken.get(p.id, 0) > 0}
    return {
        pupil.id: [p.id for p in periods if p.id in free and allocation.fits(pupil, p)]
        for pupil in pupils
    }


async def list_rounds(*, by: Principal) -> list[RoundOut]:
    _office_only(by)
    ids = [r["id"] for r in await Round.select(Round.id).order_by(Round.id, ascending=False)]
    return [await get_round(i, by=by) for i in ids]


async def allocate_due_rounds(now: datetime | None = None) -> int | None:
    """A preview round for the classes whose wishes are due (`wishes_until` passed),
    that are in no round yet and have pupils; the office confirms it. The round's id."""
    now = now or utcnow()
    async with write_transaction():
        due = await ClassPeriod.select(ClassPeriod.id).where(
            (ClassPeriod.wishes_until < today(now)) & (ClassPeriod.starts_on >= today(now))
        )
        if not due:
            return None
        in_rounds = {c for r in await Round.select(Round.classes) for c in (r["classes"] or [])}
        candidates = [r["id"] for r in due if r["id"] not in in_rounds]
        if not candidates:
            return None
        with_pupils = sorted(
            {
                r["class_period"]
                for r in await Pupil.select(Pupil.class_period).where(
                    Pupil.class_period.is_in(candidates)
                )
            }
        )
        if not with_pupils:
            return None
        round_id = await _start(with_pupils, None, None, now)
    log.info("internships: preview round %s for classes %s", round_id, with_pupils)
    return round_id
