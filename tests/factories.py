"""Builders of test data, all through the services (the rules apply to test data too)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta

from outreach.accounts.services import NewUser, create_user, issue_api_token, principal_for
from outreach.booking.schemas import BookingRequest
from outreach.calendar.holidays import closure_on
from outreach.events.schemas import EventIn, SlotIn
from outreach.events.services import add_slot, create_event
from outreach.organisations.services import OrganisationIn, create_organisation
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, utcnow

_counter = itertools.count(1)


def school_day(after_days: int = 14, *, start: date | None = None) -> date:
    """The first weekday at least `after_days` ahead that is no Saxon holiday."""
    day = (start or utcnow().astimezone(LOCAL_TZ).date()) + timedelta(days=after_days)
    while day.weekday() >= 5 or closure_on(day) is not None:
        day += timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ)


async def make_org(kind: str = "firm", slug: str | None = None, **extra: object) -> int:
    n = next(_counter)
    org = await create_organisation(
        OrganisationIn(
            kind=kind,
            slug=slug or f"{kind}-{n}",
            name=f"{kind.title()} {n}",
            contact_email=f"contact-{n}@{kind}.example",
            lat=50.85 + n / 1000,
            lon=13.78,
            **extra,  # type: ignore[arg-type]
        )
    )
    return org.id


async def make_user(role: str, org_slug: str | None = None) -> tuple[Principal, str]:
    """A user and their API token."""
    n = next(_counter)
    user = await create_user(NewUser(email=f"user{n}@test.example", role=role, org_slug=org_slug))
    return principal_for(user), await issue_api_token(user.id)


async def make_event(
    host: Principal,
    *,
    kind: str = "factory_tour",
    booking_mode: str = "auto",
    waitlist: bool = True,
    visibility: str = "public",
    status: str = "published",
    grades: list[int] | None = None,
) -> int:
    event = await create_event(
        EventIn(
            kind=kind,  # type: ignore[arg-type]
            title=f"Event {next(_counter)}",
            booking_mode=booking_mode,  # type: ignore[arg-type]
            waitlist=waitlist,
            visibility=visibility,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            grades=grades or [],
        ),
        by=host,
    )
    return event.id


async def make_slot(
    host: Principal,
    event_id: int,
    *,
    capacity: int = 30,
    starts_at: datetime | None = None,
    minutes: int = 90,
    min_party: int = 1,
    max_party: int = 0,
) -> int:
    starts_at = starts_at or at(school_day(), 9)
    slot = await add_slot(
        event_id,
        SlotIn(
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
            capacity=capacity,
            min_party=min_party,
            max_party=max_party,
        ),
        by=host,
    )
    return slot.id


def class_visit(
    label: str = "8a", pupils: int = 20, adults: int = 2, grade: int = 8
) -> BookingRequest:
    return BookingRequest(class_label=label, grade=grade, pupils=pupils, adults=adults)


def registration(persons: int = 2, email: str = "family@test.example") -> BookingRequest:
    return BookingRequest(name="Familie Muster", email=email, persons=persons)


class World:
    """Two firms, two schools, an admin: the cast of most tests."""

    firm_a: Principal
    firm_b: Principal
    school_a: Principal
    school_b: Principal
    teacher_a2: Principal
    admin: Principal
    tokens: dict[str, str]


async def make_world() -> World:
    world = World()
    world.tokens = {}
    for name, kind in (
        ("firm_a", "firm"),
        ("firm_b", "firm"),
        ("school_a", "school"),
        ("school_b", "school"),
    ):
        slug = name.replace("_", "-")
        await make_org(kind, slug=slug)
        principal, token = await make_user(kind, slug)
        setattr(world, name, principal)
        world.tokens[name] = token
    world.teacher_a2, world.tokens["teacher_a2"] = await make_user("school", "school-a")
    world.admin, world.tokens["admin"] = await make_user("admin")
    return world
