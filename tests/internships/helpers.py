"""Offers, class periods and pupils for the internship tests, through the services."""

from __future__ import annotations

from datetime import date, timedelta

from outreach.internships.classes import create_class_period
from outreach.internships.offers import create_offer
from outreach.internships.rules import working_days
from outreach.internships.schemas import (
    ClassPeriodIn,
    ClassPeriodOut,
    OfferIn,
    OfferOut,
    OfferPeriodIn,
    PupilIn,
)
from outreach.outbox.tables import Notification
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow


def class_dates(after_days: int = 60) -> tuple[date, date]:
    """A Monday at least `after_days` ahead, and the Friday of the week after: two school
    weeks with at most one holiday."""
    day = utcnow().astimezone(LOCAL_TZ).date() + timedelta(days=after_days)
    day += timedelta(days=(7 - day.weekday()) % 7)
    while working_days(day, day + timedelta(days=11)) < 9:
        day += timedelta(days=7)
    return day, day + timedelta(days=11)


async def make_offer(
    firm: Principal,
    *,
    places: int = 2,
    grades: tuple[int, ...] = (8, 9),
    status: str = "published",
    occupation: str = "Uhrmacher",
    host: str | None = None,
) -> OfferOut:
    first, last = class_dates()
    return await create_offer(
        OfferIn(
            occupation=occupation,
            grades=list(grades),
            periods=[
                OfferPeriodIn(
                    starts_on=first - timedelta(days=7),
                    ends_on=last + timedelta(days=7),
                    places=places,
                )
            ],
            status=status,  # type: ignore[arg-type]
            host=host,
        ),
        by=firm,
    )


async def make_class(
    school: Principal, *, grade: int = 8, label: str = "8a", school_slug: str | None = None
) -> ClassPeriodOut:
    first, last = class_dates()
    return await create_class_period(
        ClassPeriodIn(
            class_label=label, grade=grade, starts_on=first, ends_on=last, school=school_slug
        ),
        by=school,
    )


def pupils(*wishes: list[int], prefix: str = "P") -> list[PupilIn]:
    return [
        PupilIn(code=f"{prefix}{i}", first_name=f"Name{i}", wishes=list(w))
        for i, w in enumerate(wishes, start=1)
    ]


def period_of(offer: OfferOut) -> int:
    return offer.periods[0].id


async def notices() -> list[tuple[str, str]]:
    rows = await Notification.select(Notification.kind, Notification.recipient).order_by(
        Notification.id
    )
    return [(r["kind"], r["recipient"]) for r in rows]
