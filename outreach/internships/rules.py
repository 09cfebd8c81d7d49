"""Who acts for which organisation, the working days of a period, and the capacity
rule every round and every place handed on obeys (places already taken)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from piccolo.query.functions.aggregate import Count

from outreach.calendar.holidays import PUBLIC_HOLIDAY, closure_on
from outreach.errors import Forbidden, Invalid, NotFound, Unauthorised
from outreach.internships.schemas import DayOut
from outreach.internships.tables import HOLDING, ClassPeriod, Placement
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import local

__all__ = [
    "MAX_DAYS",
    "acting_org",
    "class_for",
    "period_days",
    "taken_places",
    "today",
    "working_days",
]

MAX_DAYS = 92  # an internship period is one to three weeks; a quarter of a year at most


def today(now: datetime) -> date:
    """The day in Europe/Berlin: the dates of internships are local days."""
    return local(now).date()


def period_days(first: date, last: date) -> list[DayOut]:
    """Each day of `first`..`last` with its kind: a working day, a weekend, a public
    holiday or a school holiday (the booking engine's holiday calendar)."""
    days = []
    day = first
    while day <= last:
        closure = closure_on(day)
        if closure is not None:
            kind = "public_holiday" if closure.reason == PUBLIC_HOLIDAY else "school_holiday"
            days.append(DayOut(day, kind, closure.name, closure.name_en))  # type: ignore[arg-type]
        elif day.weekday() >= 5:
            days.append(DayOut(day, "weekend"))
        else:
            days.append(DayOut(day, "working_day"))
        day += timedelta(days=1)
    return days


def working_days(first: date, last: date) -> int:
    return sum(1 for d in period_days(first, last) if d.kind == "working_day")


async def acting_org(by: Principal, kind: str, slug: str | None, *, field: str) -> int:
    """The organisation (a firm or a school) `by` acts for: its own, or for the office
    the one named by `slug`."""
    if by.is_admin:
        if not slug:
            raise Invalid.because("required", field=field)
        row = (
            await Organisation.select(Organisation.id)
            .where((Organisation.slug == slug.strip().lower()) & (Organisation.kind == kind))
            .first()
        )
        if row is None:
            raise Invalid.because("unknown_organisation", field=field, slug=slug)
        return int(row["id"])
    if not by.is_member:
        raise Unauthorised("sign in first")
    if by.role != kind or by.org_id is None:
        raise Forbidden("this role may not do this", field="role")
    return by.org_id


async def class_for(class_id: int, by: Principal) -> ClassPeriod:
    """The class period if `by` is its school or the office; NotFound otherwise."""
    row = await ClassPeriod.objects().where(ClassPeriod.id == class_id).first()
    if row is None or not (by.is_admin or (by.role == "school" and by.belongs_to(row.school))):
        raise NotFound("no such class", field="class")
    return row


async def taken_places(
    periods: Iterable[int] | None = None, *, rounds: Iterable[int] = ()
) -> dict[int, int]:
    """Places held per offer period by confirmed rounds (and by the rounds named)."""
    P = Placement
    held = P.status.is_in(list(HOLDING)) & P.offer_period.is_not_null()
    wanted = list(rounds)
    confirmed = P.round.status == "confirmed"
    query = (
        P.select(P.offer_period, Count(P.id).as_alias("n"))
        .where(held & (confirmed | P.round.is_in(wanted) if wanted else held & confirmed))
        .group_by(P.offer_period)
    )
    if periods is not None:
        ids = list(periods)
        if not ids:
            return {}
        query = query.where(P.offer_period.is_in(ids))
    return {row["offer_period"]: int(row["n"]) for row in await query}
