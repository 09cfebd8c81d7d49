"""Class periods: a school sets when its class does its internship; the days of the
period with their kinds; the pupils' first names go with the bookings' retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from outreach import config
from outreach.db import write_transaction
from outreach.errors import DomainError, Invalid, together
from outreach.internships.rules import (
    MAX_DAYS,
    acting_org,
    class_for,
    period_days,
    today,
    working_days,
)
from outreach.internships.schemas import ClassPeriodIn, ClassPeriodOut, DayOut
from outreach.internships.tables import ClassPeriod, Pupil
from outreach.principal import Principal
from outreach.timeutil import utcnow

__all__ = [
    "GRADES",
    "WISHES_DAYS_BEFORE",
    "anonymise_pupils",
    "class_days",
    "classes_of_school",
    "create_class_period",
    "get_class",
]

GRADES = (5, 13)  # the grades of schools that send pupils to internships
WISHES_DAYS_BEFORE = 14  # default deadline for wishes, days before the first day
C = ClassPeriod


def _check(data: ClassPeriodIn, now: datetime) -> None:
    found: list[DomainError] = []
    first = today(now)
    if not GRADES[0] <= data.grade <= GRADES[1]:
        found.append(Invalid.because("out_of_range", field="grade", min=GRADES[0], max=GRADES[1]))
    if data.starts_on < first:
        found.append(Invalid.because("in_the_past", field="starts_on", today=first))
    if data.ends_on < data.starts_on:
        found.append(
            Invalid.because("ends_before_starts", field="ends_on", starts_on=data.starts_on)
        )
    elif (data.ends_on - data.starts_on).days >= MAX_DAYS:
        found.append(Invalid.because("too_many_dates", field="ends_on", max=MAX_DAYS))
    if data.wishes_until is not None:
        if data.wishes_until < first:
            found.append(Invalid.because("in_the_past", field="wishes_until", today=first))
        elif data.wishes_until >= data.starts_on:
            found.append(
                Invalid.because(
                    "out_of_range",
                    field="wishes_until",
                    min=first,
                    max=data.starts_on - timedelta(1),
                )
            )
    if found:
        raise together(found)


async def create_class_period(
    data: ClassPeriodIn, *, by: Principal, now: datetime | None = None
) -> ClassPeriodOut:
    """A school's class period; wishes may change until `wishes_until` (by default 14
    days before the first day, and not before today)."""
    now = now or utcnow()
    school = await acting_org(by, "school", data.school, field="school")
    _check(data, now)
    until = data.wishes_until or max(
        today(now), data.starts_on - timedelta(days=WISHES_DAYS_BEFORE)
    )
    async with write_transaction():
        row = C(
            school=school,
            class_label=data.class_label.strip(),
            grade=data.grade,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
            wishes_until=until,
            created_by=by.user_id,
            created_at=now,
            updated_at=now,
        )
        await row.save()
    return await get_class(row.id, by=by)


_COLUMNS = (
    C.id,
    C.school.slug,
    C.school.name,
    C.class_label,
    C.grade,
    C.starts_on,
    C.ends_on,
    C.wishes_until,
)


async def _out(rows: list[dict]) -> list[ClassPeriodOut]:
    ids = [r["id"] for r in rows]
    counts: dict[int, int] = {}
    if ids:
        for p in await Pupil.select(Pupil.class_period).where(Pupil.class_period.is_in(ids)):
            counts[p["class_period"]] = counts.get(p["class_period"], 0) + 1
    return [
        ClassPeriodOut(
            id=r["id"],
            school=r["school.slug"],
            school_name=r["school.name"],
            class_label=r["class_label"],
            grade=r["grade"],
            starts_on=r["starts_on"],
            ends_on=r["ends_on"],
            wishes_until=r["wishes_until"],
            working_days=working_days(r["starts_on"], r["ends_on"]),
            pupils=counts.get(r["id"], 0),
        )
        for r in rows
    ]


async def get_class(class_id: int, *, by: Principal) -> ClassPeriodOut:
    await class_for(class_id, by)
    rows = await C.select(*_COLUMNS).where(C.id == class_id)
    return (await _out(rows))[0]


async def classes_of_school(*, by: Principal) -> list[ClassPeriodOut]:
    """A school's class periods (the office: every school's), latest first."""
    query = C.select(*_COLUMNS)
    if not by.is_admin:
        if by.role != "school" or by.org_id is None:
            return []
        query = query.where(C.school == by.org_id)
    return await _out(await query.order_by(C.starts_on, ascending=False).order_by(C.id))


async def class_days(class_id: int, *, by: Principal) -> list[DayOut]:
    """Every day of the class's period with its kind (working day, weekend, holiday)."""
    row = await class_for(class_id, by)
    return period_days(row.starts_on, row.ends_on)


async def anonymise_pupils(*, now: datetime | None = None) -> int:
    """Pupils' first names go `ANONYMISE_AFTER_DAYS` after their class period ended, as
    a booking's contact data after its visit; the code and the outcomes stay."""
    now = now or utcnow()
    cutoff = today(now) - timedelta(days=config.get_settings().anonymise_after_days)
    due = Pupil.anonymised_at.is_null() & (Pupil.class_period.ends_on < cutoff)
    async with write_transaction():
        ids = [r["id"] for r in await Pupil.select(Pupil.id).where(due)]
        if ids:
            await Pupil.update({Pupil.first_name: "", Pupil.anonymised_at: now}).where(
                Pupil.id.is_in(ids)
            )
    return len(ids)
