"""Data for the browser tests: the demo network plus a small known cast.

Run as `python -m tests.e2e.seed` with the server's environment (OUTREACH_DATA_DIR,
SECRET_KEY): it migrates the fresh SQLite file, loads the demo network (so the
screenshots show a believable calendar) and adds a firm, a school and an approval-mode
factory tour whose names the tests know. Everything goes through the services.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta

from outreach.accounts.services import NewUser, create_user
from outreach.calendar.holidays import closure_on
from outreach.db import migrate
from outreach.demo import load_demo
from outreach.events.schemas import EventIn, SlotIn, VenueIn
from outreach.events.services import add_slot, create_event
from outreach.internships.classes import create_class_period
from outreach.internships.offers import create_offer
from outreach.internships.schemas import ClassPeriodIn, OfferIn, OfferPeriodIn
from outreach.organisations.services import OrganisationIn, create_organisation
from outreach.presenters.services import create_evening
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow
from tests.cheap_hashing import use_cheap_password_hashing
from tests.internships.helpers import class_dates

PASSWORD = "e2e-password-123"
FIRM_EMAIL = "koordination@e2e-feinwerk.example"
TEACHER_EMAIL = "lehrerin@e2e-schule.example"
ADMIN_EMAIL = "buero@e2e-netz.example"
TOUR_TITLE = "E2E Uhrwerk-Werkstatt"
EVENING_TITLE = "E2E Elternabend Berufsorientierung"
OPEN_DAY_TITLE = "E2E Tag der offenen Werkstatt"
INTERN_CLASS = "8i"  # the teacher's class with an internship period (test_internships.py)
INTERN_OCCUPATIONS = ("Uhrmacher/in", "Feinmechaniker/in", "Graveur/in")


def school_days(count: int) -> list:
    day = utcnow().astimezone(LOCAL_TZ).date() + timedelta(days=7)
    found = []
    while len(found) < count:
        if day.weekday() < 5 and closure_on(day) is None:
            found.append(day)
        day += timedelta(days=1)
    return found


async def seed() -> None:
    await migrate()
    await load_demo()
    await create_organisation(
        OrganisationIn(
            kind="firm",
            slug="e2e-feinwerk",
            name="E2E Feinwerk GmbH",
            city="Glashütte",
            contact_email="info@e2e-feinwerk.example",
        )
    )
    await create_organisation(
        OrganisationIn(kind="school", slug="e2e-schule", name="E2E Oberschule", city="Glashütte")
    )
    firm = await create_user(
        NewUser(email=FIRM_EMAIL, role="firm", org_slug="e2e-feinwerk", password=PASSWORD)
    )
    teacher = await create_user(
        NewUser(email=TEACHER_EMAIL, role="school", org_slug="e2e-schule", password=PASSWORD)
    )
    await create_user(NewUser(email=ADMIN_EMAIL, role="admin", password=PASSWORD))
    by = Principal(role="firm", user_id=firm.id, org_id=firm.organisation, email=FIRM_EMAIL)
    event = await create_event(
        EventIn(
            kind="factory_tour",
            title=TOUR_TITLE,
            description="Wie ein Uhrwerk entsteht: Drehen, Fräsen, Montieren.",
            grades=[8, 9],
            audience=["pupils"],
            booking_mode="approval",
            status="published",
        ),
        by=by,
    )
    for day in school_days(3):
        start = datetime.combine(day, time(9, 0), tzinfo=LOCAL_TZ)
        await add_slot(
            event.id,
            SlotIn(starts_at=start, ends_at=start + timedelta(minutes=90), capacity=30),
            by=by,
        )

    # An open day families register for without an account (the booking page's test).
    open_day = await create_event(
        EventIn(
            kind="open_day",
            title=OPEN_DAY_TITLE,
            description="Familien sehen zu, wie Uhrwerke entstehen.",
            audience=["parents", "pupils"],
            booking_mode="auto",
            status="published",
            venue=VenueIn(
                name="E2E Feinwerk, Werkstatt",
                street="Altenberger Straße 12",
                postal_code="01768",
                city="Glashütte",
            ),
        ),
        by=by,
    )
    open_start = datetime.combine(school_days(4)[-1], time(10, 0), tzinfo=LOCAL_TZ)
    await add_slot(
        open_day.id,
        SlotIn(
            starts_at=open_start,
            ends_at=open_start + timedelta(hours=2),
            capacity=12,
            max_party=6,
        ),
        by=by,
    )

    # The school's parents' evening, to which the tests invite the firm.
    host = Principal(
        role="school", user_id=teacher.id, org_id=teacher.organisation, email=TEACHER_EMAIL
    )
    evening_day = school_days(6)[-1]
    evening_start = datetime.combine(evening_day, time(18, 30), tzinfo=LOCAL_TZ)
    await create_evening(
        EventIn(
            kind="parents_evening",
            title=EVENING_TITLE,
            description="Betriebe stellen Ausbildungsberufe vor.",
            audience=["parents"],
            status="published",
        ),
        SlotIn(starts_at=evening_start, ends_at=evening_start + timedelta(minutes=90), capacity=60),
        by=host,
    )

    # Internship offers of the firm for the teacher's class (the wish page's test).
    first, last = class_dates()
    for number, occupation in enumerate(INTERN_OCCUPATIONS, start=2):
        await create_offer(
            OfferIn(
                occupation=occupation,
                grades=[8, 9],
                periods=[
                    OfferPeriodIn(
                        starts_on=first - timedelta(days=7),
                        ends_on=last + timedelta(days=7),
                        places=number,
                    )
                ],
                status="published",
                contact_name="Frau Lange",
                contact_email="praktikum@e2e-feinwerk.example",
            ),
            by=by,
        )
    await create_class_period(
        ClassPeriodIn(class_label=INTERN_CLASS, grade=8, starts_on=first, ends_on=last), by=host
    )


if __name__ == "__main__":
    use_cheap_password_hashing()  # the demo's 29 accounts; the server verifies them as usual
    asyncio.run(seed())
