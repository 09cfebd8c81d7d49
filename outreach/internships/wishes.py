"""Pupils and their wishes: the school puts the class's whole list at once (codes,
first names, up to three ranked wishes among the offers that fit the class), until
the class's deadline. All or nothing: one refusal stores nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from outreach.db import for_update, write_transaction
from outreach.errors import Conflict, DomainError, Invalid, together
from outreach.internships import allocation
from outreach.internships.loading import offer_periods, wishes_of
from outreach.internships.rules import class_for, today
from outreach.internships.schemas import MAX_PUPILS, MAX_WISHES, PupilIn, PupilOut
from outreach.internships.tables import ClassPeriod, Placement, Pupil, Wish
from outreach.principal import Principal
from outreach.timeutil import utcnow

__all__ = ["class_in_confirmed_round", "pupils_of_class", "put_pupils"]


async def class_in_confirmed_round(class_id: int) -> bool:
    return (
        await Placement.count().where(
            (Placement.pupil.class_period == class_id) & (Placement.round.status == "confirmed")
        )
        > 0
    )


def _check(
    klass: ClassPeriod, pupils: Sequence[PupilIn], periods: dict[int, allocation.OfferPeriod]
) -> list[DomainError]:
    found: list[DomainError] = []
    codes: set[str] = set()
    for i, pupil in enumerate(pupils):
        code = pupil.code.strip()
        if not code:
            found.append(Invalid.because("required", field=f"pupils[{i}].code"))
        elif code in codes:
            found.append(Invalid.because("duplicate_code", field=f"pupils[{i}].code", code=code))
        codes.add(code)
        field = f"pupils[{i}].wishes"
        if len(pupil.wishes) > MAX_WISHES:
            found.append(Invalid.because("too_many_wishes", field=field, max=MAX_WISHES))
            continue
        seen: set[int] = set()
        as_pupil = allocation.Pupil(
            id=0, grade=klass.grade, starts_on=klass.starts_on, ends_on=klass.ends_on, wishes=()
        )
        for wish in pupil.wishes:
            period = periods.get(wish)
            if wish in seen:
                found.append(Invalid.because("duplicate_wish", field=field, id=wish))
            elif period is None:
                found.append(Invalid.because("unknown_offer_period", field=field, id=wish))
            elif not allocation.fits(as_pupil, period):
                found.append(
                    Invalid.because(
                        "wish_does_not_fit",
                        field=field,
                        id=wish,
                        grade=klass.grade,
                        starts_on=klass.starts_on,
                        ends_on=klass.ends_on,
                    )
                )
            seen.add(wish)
    return found


async def put_pupils(
    class_id: int, pupils: Sequence[PupilIn], *, by: Principal, now: datetime | None = None
) -> list[PupilOut]:
    """Replace the class's pupils and wishes. The school until `wishes_until` (the
    office also after it, to correct), never once the class is in a confirmed round."""
    now = now or utcnow()
    if len(pupils) > MAX_PUPILS:
        raise Invalid.because("out_of_range", field="pupils", min=0, max=MAX_PUPILS)
    async with write_transaction():
        klass = await class_for(class_id, by)
        await for_update(ClassPeriod.select(ClassPeriod.id).where(ClassPeriod.id == class_id))
        if not by.is_admin and today(now) > klass.wishes_until:
            raise Invalid.because(
                "wishes_closed", field="wishes_until", wishes_until=klass.wishes_until
            )
        if await class_in_confirmed_round(class_id):
            raise Conflict.because("class_in_round", field="class")
        wished = {w for p in pupils for w in p.wishes}
        periods = {p.id: p for p in await offer_periods(wished)}
        found = _check(klass, pupils, periods)
        if found:
            raise together(found)
        await Pupil.delete().where(Pupil.class_period == class_id)
        for position, data in enumerate(pupils):
            code = data.code.strip()
            row = Pupil(
                class_period=class_id,
                code=code,
                class_code=f"{class_id}:{code}",
                first_name=data.first_name.strip(),
                position=position,
            )
            await row.save()
            if data.wishes:
                await Wish.insert(
                    *(
                        Wish(
                            pupil=row.id,
                            offer_period=period,
                            rank=rank,
                            pupil_rank=f"{row.id}:{rank}",
                            pupil_period=f"{row.id}:{period}",
                        )
                        for rank, period in enumerate(data.wishes, start=1)
                    )
                )
        await ClassPeriod.update({ClassPeriod.updated_at: now}).where(ClassPeriod.id == class_id)
    return await pupils_of_class(class_id, by=by)


async def pupils_of_class(class_id: int, *, by: Principal) -> list[PupilOut]:
    """The class's pupils with their ranked wishes (its school and the office only)."""
    await class_for(class_id, by)
    rows = (
        await Pupil.select(Pupil.id, Pupil.code, Pupil.first_name)
        .where(Pupil.class_period == class_id)
        .order_by(Pupil.position)
    )
    wishes = await wishes_of([r["id"] for r in rows])
    return [PupilOut(r["id"], r["code"], r["first_name"], wishes.get(r["id"], [])) for r in rows]
