# German copy uses the en dash, as German typography does.
# ruff: noqa: RUF001
"""The demo network: 18 precision-engineering firms and 10 schools around Glashütte.

`outreach demo` (and `outreach serve --demo` on an empty database) loads a believable
network so that every page has something to show: the network office, the member
firms with their coordinators, the schools with one teacher each, a school year of
factory tours, open days, parents' evenings, teacher-training seminars and a training
fair, and bookings in every status.

All names, addresses, e-mail addresses (at ``.example`` domains, RFC 2606) and phone
numbers are invented. **Every demo user signs in with the password ``demo-password``**:
the network office as ``admin@impro-netzwerk.example``, a firm's coordinator as
``first.surname@<firm slug>.example`` (``andreas.rehn@rehn-feinmechanik.example``), a
school's teacher likewise (``katrin.boehme@os-glashuette.example``).

Everything goes through the services, acting as the principal who would do it in
real life: the network office creates organisations, users and events, teachers book
class visits and register for seminars, the public registers for open days and
parents' evenings, firms confirm and decline. Past slots and bookings (the early part
of the school year, for reports) are made with an earlier injected clock, exactly as
the booking engine is tested. The whole load is one transaction: it happens
completely or not at all, and a second run finds the network office and writes
nothing. The notices the services queue for this invented history are recorded in the
outbox as skipped, never mailed; reminders for the upcoming visits are planned by the
scheduler like any others.

Who the network is (the office, the firms with their tours, the schools, the pool of
invented names) is data in `outreach/data/demo.toml`, beside the holiday calendar; this
module reads it (`read_content`) and makes up the year around it.
"""

from __future__ import annotations

import logging
import random
import tomllib
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import msgspec

from outreach.accounts.services import NewUser, create_user, principal_for
from outreach.booking.attendance import record_attendance
from outreach.booking.links import confirm_address
from outreach.booking.queries import list_bookings
from outreach.booking.schemas import BookingOut, BookingRequest
from outreach.booking.tables import Booking
from outreach.booking.writes import cancel_booking, confirm_booking, decline_booking, place_booking
from outreach.calendar.holidays import PUBLIC_HOLIDAY, closure_on
from outreach.config import get_settings
from outreach.db import is_postgres, write_transaction
from outreach.events.schemas import EventIn, EventOut, SlotIn, SlotOut, VenueIn
from outreach.events.services import add_slot, cancel_event, create_event
from outreach.events.tables import Event
from outreach.internships import classes as internship_classes
from outreach.internships import offers as internship_offers
from outreach.internships import rounds as internship_rounds
from outreach.internships import wishes as internship_wishes
from outreach.internships.schemas import ClassPeriodIn, OfferIn, OfferPeriodIn, PupilIn, RoundIn
from outreach.links import address_token
from outreach.organisations.services import OrganisationIn, create_organisation
from outreach.organisations.tables import Organisation
from outreach.outbox import services as outbox
from outreach.presenters import services as presenters
from outreach.presenters.schemas import InviteIn
from outreach.principal import ANONYMOUS, Principal
from outreach.timeutil import LOCAL_TZ, local, utcnow
from outreach.workplan import services as workplan
from outreach.workplan.facts import school_year_of
from outreach.workplan.schemas import MilestoneIn, PriorityIn, WorkPlanIn

__all__ = [
    "ADMIN_EMAIL",
    "ALREADY_LOADED",
    "DATA_FILE",
    "DEMO_PASSWORD",
    "NETWORK_SLUG",
    "DemoDataError",
    "load_demo",
    "load_demo_if_empty",
    "read_content",
]

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-password"  # noqa: S105 - a documented demo password, not a secret
ALREADY_LOADED = "demo network already loaded"

# Serialises concurrent loaders on PostgreSQL (several replicas started with --demo).
_PG_LOCK_KEY = 0x0D3E_0A11
SEED = 2026

TOUR_TIMES = (time(8, 30), time(10, 30), time(13, 0))
TOUR_MINUTES = 90
TOUR_CAPACITY = 30
TOUR_MIN_PARTY = 5
CLASS_DAYS = 3  # upcoming days with staggered tours at several firms (the day planner)
CLASS_DAY_FIRMS = 5
# Pools of days on either side of "now": enough for the demo to look alive in any week.
MIN_PAST_SCHOOL_DAYS = 20
MIN_FUTURE_SCHOOL_DAYS = 30
FIRST_FUTURE_DAY = 3  # days after today: past the 48-hour booking deadline


# ---------------------------------------------------------------------------
# Content


@dataclass(frozen=True)
class _Tour:
    title: str
    description: str
    topics: tuple[str, ...]
    grades: tuple[int, ...] = (7, 8, 9, 10)
    booking_mode: str = "auto"
    draft: bool = False


@dataclass(frozen=True)
class _Place:
    """What firms and schools share: an address, coordinates, a phone number."""

    slug: str
    name: str
    address: tuple[str, str, str]  # street, postal code, city
    at: tuple[float, float]  # latitude, longitude
    phone: str

    @property
    def domain(self) -> str:
        return f"{self.slug}.example"

    def organisation(self, kind: str, contact: str, email: str, **extra: str) -> OrganisationIn:
        street, postal_code, city = self.address
        return OrganisationIn(
            kind=kind,
            slug=self.slug,
            name=self.name,
            street=street,
            postal_code=postal_code,
            city=city,
            lat=self.at[0],
            lon=self.at[1],
            contact_name=contact,
            contact_email=email,
            contact_phone=self.phone,
            website=f"https://www.{self.domain}",
            **extra,
        )

    def venue(self) -> VenueIn:
        street, postal_code, city = self.address
        return VenueIn(
            name=self.name,
            street=street,
            postal_code=postal_code,
            city=city,
            lat=self.at[0],
            lon=self.at[1],
        )


@dataclass(frozen=True)
class _InternshipOffer:
    occupation: str
    description: str
    grades: tuple[int, ...]
    places: int  # in each period of the internship window


@dataclass(frozen=True)
class _Firm(_Place):
    contact: tuple[str, str]  # first name, surname of the coordinator
    tours: tuple[_Tour, ...]
    internships: tuple[_InternshipOffer, ...] = ()


@dataclass(frozen=True)
class _School(_Place):
    school_type: str
    teacher: tuple[str, str]
    grades: tuple[int, ...] = (7, 8, 9, 10)
    class_letters: str = "abc"


DATA_FILE = Path(__file__).resolve().parent / "data" / "demo.toml"


class DemoDataError(ValueError):
    """The demo data file is malformed; the message names the place."""


@dataclass(frozen=True)
class _People:
    first_names: tuple[str, ...]
    surnames: tuple[str, ...]
    mail_domains: tuple[str, ...]


@dataclass(frozen=True)
class _InternshipClass:
    school: str  # slug
    label: str
    grade: int
    pupils: int  # how many enter wishes (0: the wishes are still open)
    week: int  # the period's first week, counted from the internship window


@dataclass(frozen=True)
class _Internships:
    pupil_names: tuple[str, ...] = ()
    classes: tuple[_InternshipClass, ...] = ()


@dataclass(frozen=True)
class _Content:
    """What `DATA_FILE` holds, typed: who the network is; the loader makes up the year."""

    network: OrganisationIn
    admin_name: str
    firms: tuple[_Firm, ...]
    schools: tuple[_School, ...]
    people: _People
    internships: _Internships


def read_content(path: Path = DATA_FILE) -> _Content:
    """The demo network's organisations, tours and names, checked field by field."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    network = dict(raw.get("network", {}))
    admin_name = network.pop("admin_name", None)
    visit_note = raw.get("visit_note")
    _check_keys(path, "", raw, {"visit_note", "network", "people", "firm", "school", "internships"})
    for i, firm in enumerate(raw.get("firm", [])):
        _check_keys(path, f"firm[{i}]", firm, _field_names(_Firm))
        for j, tour in enumerate(firm.get("tours", [])):
            _check_keys(path, f"firm[{i}].tours[{j}]", tour, _field_names(_Tour))
        for j, offer in enumerate(firm.get("internships", [])):
            where = f"firm[{i}].internships[{j}]"
            _check_keys(path, where, offer, _field_names(_InternshipOffer))
    for i, school in enumerate(raw.get("school", [])):
        _check_keys(path, f"school[{i}]", school, _field_names(_School))
    internships = raw.get("internships", {})
    _check_keys(path, "internships", internships, _field_names(_Internships))
    for i, klass in enumerate(internships.get("classes", [])):
        _check_keys(path, f"internships.classes[{i}]", klass, _field_names(_InternshipClass))
    try:
        firms = msgspec.convert(raw.get("firm", []), tuple[_Firm, ...])
        return _Content(
            network=msgspec.convert(network, OrganisationIn),
            admin_name=msgspec.convert(admin_name, str),
            # Every tour is a class visit of 90 minutes: the file says so once.
            firms=tuple(_with_note(f, msgspec.convert(visit_note, str)) for f in firms),
            schools=msgspec.convert(raw.get("school", []), tuple[_School, ...]),
            people=msgspec.convert(raw.get("people", {}), _People),
            internships=msgspec.convert(raw.get("internships", {}), _Internships),
        )
    except msgspec.ValidationError as exc:
        raise DemoDataError(f"{path.name}: {exc}") from exc


def _field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _check_keys(path: Path, where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        place = f" {where}" if where else ""
        raise DemoDataError(f"{path.name}{place}: unknown key {unknown[0]!r}")


def _with_note(firm: _Firm, note: str) -> _Firm:
    tours = tuple(replace(t, description=t.description + note) for t in firm.tours)
    return replace(firm, tours=tours)


_CONTENT = read_content()
NETWORK = _CONTENT.network
NETWORK_SLUG = NETWORK.slug  # the demo is loaded when the network office is missing
ADMIN_EMAIL = f"admin@{NETWORK_SLUG}.example"
ADMIN_NAME = _CONTENT.admin_name
FIRMS = _CONTENT.firms
SCHOOLS = _CONTENT.schools
FIRST_NAMES = _CONTENT.people.first_names
SURNAMES = _CONTENT.people.surnames
MAIL_DOMAINS = _CONTENT.people.mail_domains
INTERNSHIPS = _CONTENT.internships


def _ascii(text: str) -> str:
    """E-mail local parts: 'Böhme' -> 'boehme', 'Meißner' -> 'meissner'."""
    text = text.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, plain)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in text if c.isalnum() or c in ".-")


def _email(first: str, last: str, domain: str) -> str:
    return f"{_ascii(first)}.{_ascii(last)}@{domain}"


# ---------------------------------------------------------------------------
# Days and times


def _at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LOCAL_TZ)


def _school_day(day: date) -> bool:
    """A weekday on which schools are open: class visits may happen."""
    return day.weekday() < 5 and closure_on(day) is None


def _spread(pool: list[date], k: int, rng: random.Random) -> list[date]:
    """`k` distinct days spread over `pool` (sorted), one from each k-th part."""
    k = min(k, len(pool))
    if k <= 0:
        return []
    return [pool[int((i + rng.random()) * len(pool) / k)] for i in range(k)]


@dataclass
class _Calendar:
    """Which days the demo uses, around `now`: the school year, stretched if need be."""

    now: datetime
    today: date
    past: list[date]  # school days before today
    future: list[date]  # school days from FIRST_FUTURE_DAY on
    past_saturdays: list[date] = field(default_factory=list)
    future_saturdays: list[date] = field(default_factory=list)

    @classmethod
    def around(cls, now: datetime) -> _Calendar:
        today = local(now).date()
        start_year = today.year if today.month >= 8 else today.year - 1
        year_start, year_end = date(start_year, 8, 1), date(start_year + 1, 7, 31)
        past = [d for d in _days(year_start, today - timedelta(days=1)) if _school_day(d)]
        if len(past) < MIN_PAST_SCHOOL_DAYS:
            # Early in the school year: reach back into the last one, so reports have data.
            past = _school_days_back(today - timedelta(days=1), MIN_PAST_SCHOOL_DAYS)
        first_future = today + timedelta(days=FIRST_FUTURE_DAY)
        future = [d for d in _days(first_future, year_end) if _school_day(d)]
        if len(future) < MIN_FUTURE_SCHOOL_DAYS:
            # Late in the school year: reach into the next one, so there is something to book.
            future = _school_days_forward(first_future, MIN_FUTURE_SCHOOL_DAYS)
        cal = cls(now=now, today=today, past=past, future=future)
        cal.past_saturdays = _saturdays(past[0], today - timedelta(days=1))
        cal.future_saturdays = _saturdays(first_future, future[-1])
        return cal


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _school_days_back(last: date, count: int) -> list[date]:
    found: list[date] = []
    day = last
    while len(found) < count:
        if _school_day(day):
            found.append(day)
        day -= timedelta(days=1)
    return sorted(found)


def _school_days_forward(first: date, count: int) -> list[date]:
    found: list[date] = []
    day = first
    while len(found) < count:
        if _school_day(day):
            found.append(day)
        day += timedelta(days=1)
    return found


def _evenings(days: list[date]) -> list[date]:
    """Monday to Thursday: when parents' evenings and seminars take place."""
    return [d for d in days if d.weekday() < 4]


def _saturdays(first: date, last: date) -> list[date]:
    """Saturdays that are no public holiday (open days and fairs happen on them)."""
    result = []
    for day in _days(first, last):
        if day.weekday() != 5:
            continue
        closure = closure_on(day)
        if closure is None or closure.reason != PUBLIC_HOLIDAY:
            result.append(day)
    return result


# ---------------------------------------------------------------------------
# Public entry points


async def load_demo(now: datetime | None = None) -> str:
    """Load the demo network unless it is there; returns a one-line summary."""
    return await _load(now, only_into_empty=False) or ALREADY_LOADED


async def load_demo_if_empty(*, now: datetime | None = None) -> str | None:
    """Load the demo network only into a database without organisations."""
    return await _load(now, only_into_empty=True)


async def _load(now: datetime | None, *, only_into_empty: bool) -> str | None:
    now = (now or utcnow()).replace(microsecond=0)
    async with write_transaction():
        await _serialise_loaders()
        if only_into_empty and await Organisation.count() > 0:
            return None
        if await Organisation.exists().where(Organisation.slug == NETWORK_SLUG):
            return None
        summary = await _Loader(now).run()
        # The demo's history is invented: its notices are recorded, never mailed.
        await outbox.skip_pending(reason="demo data")
    log.info("%s", summary)
    return summary


async def _serialise_loaders() -> None:
    """Two loaders at once (replicas starting with --demo): the second waits, then sees it.

    SQLite needs nothing: the write transaction holds the database-wide write lock.
    """
    if is_postgres():
        await Organisation.raw("SELECT pg_advisory_xact_lock({})", _PG_LOCK_KEY)


# ---------------------------------------------------------------------------
# The loader


@dataclass
class _Stats:
    events: int = 0
    slots: int = 0
    bookings: int = 0
    users: int = 0


@dataclass
class _TourSlot:
    slot: SlotOut
    event: EventOut
    firm: _Firm
    tour: _Tour


class _Loader:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.rng = random.Random(SEED)
        self.cal = _Calendar.around(now)
        self.stats = _Stats()
        self.admin: Principal = ANONYMOUS
        self.coordinators: dict[str, Principal] = {}
        self.teachers: dict[str, Principal] = {}
        self.teacher_names: dict[str, str] = {}
        self.firm_by_slug = {f.slug: f for f in FIRMS}
        # (school, class label, start): a class is in one place at a time.
        self.class_busy: set[tuple[str, str, datetime]] = set()
        self.host_busy: set[tuple[str, datetime]] = set()
        self.open_day_dates: set[date] = set()
        self.pending_left = 3
        self.declined_left = 1
        # A published, first-come tour per firm, for the class days of the planner.
        self.open_tours: dict[str, EventOut] = {}

    async def run(self) -> str:
        await self._organisations()
        await self._users()
        future_tour_bookings = await self._factory_tours()
        await self._waitlist_and_cancel(future_tour_bookings)
        await self._class_days()
        await self._open_days()
        await self._parents_evenings()
        await self._teacher_trainings()
        await self._fair()
        await self._attendance()
        await self._work_plan()
        await self._internships()
        s = self.stats
        return (
            f"demo network: {len(FIRMS)} firms, {len(SCHOOLS)} schools, {s.events} events, "
            f"{s.slots} slots, {s.bookings} bookings; {s.users} users, all with password "
            f"{DEMO_PASSWORD!r} (network office: {ADMIN_EMAIL})"
        )

    # -- who's who

    async def _organisations(self) -> None:
        await create_organisation(NETWORK)
        for firm in FIRMS:
            first, last = firm.contact
            await create_organisation(
                firm.organisation("firm", f"{first} {last}", f"ausbildung@{firm.domain}")
            )
        for school in SCHOOLS:
            first, last = school.teacher
            await create_organisation(
                school.organisation(
                    "school",
                    f"{first} {last}",
                    f"sekretariat@{school.domain}",
                    school_type=school.school_type,
                )
            )

    async def _users(self) -> None:
        admin = await create_user(
            NewUser(
                email=ADMIN_EMAIL,
                role="admin",
                org_slug=NETWORK_SLUG,
                name=ADMIN_NAME,
                password=DEMO_PASSWORD,
            )
        )
        self.admin = principal_for(admin)
        self.stats.users += 1
        for firm in FIRMS:
            first, last = firm.contact
            user = await create_user(
                NewUser(
                    email=_email(first, last, firm.domain),
                    role="firm",
                    org_slug=firm.slug,
                    name=f"{first} {last}",
                    password=DEMO_PASSWORD,
                ),
                by=self.admin,
            )
            self.coordinators[firm.slug] = principal_for(user)
            self.stats.users += 1
        for school in SCHOOLS:
            first, last = school.teacher
            user = await create_user(
                NewUser(
                    email=_email(first, last, school.domain),
                    role="school",
                    org_slug=school.slug,
                    name=f"{first} {last}",
                    password=DEMO_PASSWORD,
                ),
                by=self.admin,
            )
            self.teachers[school.slug] = principal_for(user)
            self.teacher_names[school.slug] = f"{first} {last}"
            self.stats.users += 1

    # -- helpers

    async def _event(self, data: EventIn) -> EventOut:
        event = await create_event(data, by=self.admin, now=self.now)
        self.stats.events += 1
        return event

    def _created_before(self, start: datetime) -> datetime:
        """When the slot was published: weeks before it, and before now."""
        return min(self.now - timedelta(days=30), start - timedelta(days=60))

    def _booked_at(self, start: datetime) -> datetime:
        """When someone booked: after the slot was published, before the deadline and now."""
        jitter = timedelta(minutes=self.rng.randint(0, 14 * 24 * 60))
        ahead = timedelta(days=self.rng.randint(3, 25), minutes=self.rng.randint(0, 600))
        return min(self.now - jitter, start - ahead).replace(microsecond=0)

    async def _slot(
        self,
        event: EventOut,
        start: datetime,
        minutes: int,
        *,
        capacity: int,
        min_party: int = 1,
        max_party: int = 0,
    ) -> SlotOut:
        slot = await add_slot(
            event.id,
            SlotIn(
                starts_at=start,
                ends_at=start + timedelta(minutes=minutes),
                capacity=capacity,
                min_party=min_party,
                max_party=max_party,
            ),
            by=self.admin,
            now=self._created_before(start),
        )
        self.stats.slots += 1
        return slot

    async def _place(
        self, slot: SlotOut, req: BookingRequest, by: Principal, at: datetime
    ) -> BookingOut:
        placement = await place_booking(slot.id, req, by=by, now=at)
        self.stats.bookings += 1
        return placement.booking

    def _person(self) -> tuple[str, str]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(SURNAMES)
        return f"{first} {last}", _email(first, last, self.rng.choice(MAIL_DOMAINS))

    async def _register_public(self, slot: SlotOut, count: int, most: int) -> None:
        registered: set[str] = set()
        for _ in range(count):
            name, email = self._person()
            while email in registered:  # one address registers once per slot
                name, email = self._person()
            registered.add(email)
            req = BookingRequest(name=name, email=email, persons=self.rng.randint(1, most))
            at = self._booked_at(slot.starts_at)
            out = await self._place(slot, req, ANONYMOUS, at)
            # The demo's families confirmed their address at once (their link's token).
            token = address_token(get_settings(), out.id)
            await confirm_address(out.id, token, now=at)

    # -- factory tours

    def _class_for(
        self, tour: _Tour, start: datetime, *, exclude: Collection[str] = (), large: bool = False
    ) -> tuple[_School, str, int] | None:
        """A school class that may visit: right grade, not busy at `start`."""
        schools = [
            s
            for s in SCHOOLS
            if set(s.grades) & set(tour.grades)
            and s.slug not in exclude
            and not (large and s.school_type == "Förderschule")
        ]
        self.rng.shuffle(schools)
        for school in schools:
            grades = sorted(set(school.grades) & set(tour.grades))
            grade = self.rng.choice(grades)
            for letter in self.rng.sample(school.class_letters, len(school.class_letters)):
                label = f"{grade}{letter}"
                if (school.slug, label, start) not in self.class_busy:
                    return school, label, grade
        return None

    async def _book_class(
        self, ts: _TourSlot, *, at: datetime, exclude: Collection[str] = (), large: bool = False
    ) -> BookingOut | None:
        found = self._class_for(ts.tour, ts.slot.starts_at, exclude=exclude, large=large)
        if found is None:
            return None
        school, label, grade = found
        # Classes of a Förderschule are small; others 18 to 28 pupils.
        pupils = (
            self.rng.randint(9, 14)
            if school.school_type == "Förderschule"
            else self.rng.randint(18, 28)
        )
        notes = self.rng.choice(
            ("", "", "", "Wir kommen mit dem Linienbus.", "Anreise mit dem Schulbus.")
        )
        req = BookingRequest(
            class_label=label,
            grade=grade,
            pupils=pupils,
            adults=self.rng.randint(1, 2),
            contact_name=self.teacher_names[school.slug],
            notes=notes,
        )
        out = await self._place(ts.slot, req, self.teachers[school.slug], at)
        self.class_busy.add((school.slug, label, ts.slot.starts_at))
        return out

    def _tour_start(self, firm: _Firm, day: date) -> datetime | None:
        for at in self.rng.sample(TOUR_TIMES, len(TOUR_TIMES)):
            start = _at(day, at)
            if (firm.slug, start) not in self.host_busy:
                self.host_busy.add((firm.slug, start))
                return start
        return None

    async def _factory_tours(self) -> list[_TourSlot]:
        """Tours with past and future slots; returns the future slots that were booked."""
        cal = self.cal
        total = len(cal.past) + len(cal.future)
        share_past = min(0.6, max(0.3, len(cal.past) / total))
        booked_future: list[_TourSlot] = []
        for firm in FIRMS:
            for tour in firm.tours:
                event = await self._event(
                    EventIn(
                        kind="factory_tour",
                        title=tour.title,
                        description=tour.description,
                        host=firm.slug,
                        grades=list(tour.grades),
                        audience=["pupils"],
                        topics=list(tour.topics),
                        visibility="public",
                        booking_mode=tour.booking_mode,
                        status="draft" if tour.draft else "published",
                    )
                )
                if not tour.draft and tour.booking_mode == "auto":
                    self.open_tours.setdefault(firm.slug, event)
                n = self.rng.randint(3, 8)
                n_past = 0 if tour.draft else round(n * share_past)
                days = _spread(cal.past, n_past, self.rng) + _spread(
                    cal.future, n - n_past, self.rng
                )
                for day in days:
                    start = self._tour_start(firm, day)
                    if start is None:
                        continue
                    slot = await self._slot(
                        event,
                        start,
                        TOUR_MINUTES,
                        capacity=TOUR_CAPACITY,
                        min_party=TOUR_MIN_PARTY,
                        max_party=TOUR_CAPACITY,
                    )
                    if tour.draft:
                        continue
                    ts = _TourSlot(slot, event, firm, tour)
                    if start <= self.now:
                        await self._past_tour_booking(ts)
                    elif tour.booking_mode == "approval" or self.rng.random() < 0.45:
                        out = await self._future_tour_booking(ts)
                        if out is not None and out.status == "confirmed":
                            booked_future.append(ts)
        return booked_future

    async def _class_days(self) -> None:
        """Days on which the Glashütte firms open in turn, so a class can visit several.

        Each of the first CLASS_DAYS school days two weeks ahead gets the three tour times
        at five firms of the town: the planner finds three- and four-firm days on them.
        """
        town_firms = [f for f in FIRMS if f.address[2] == "Glashütte" and f.slug in self.open_tours]
        days = [d for d in self.cal.future if d >= self.cal.today + timedelta(days=14)]
        for day in days[:CLASS_DAYS]:
            for firm in town_firms[:CLASS_DAY_FIRMS]:
                for at in TOUR_TIMES:
                    start = _at(day, at)
                    if (firm.slug, start) in self.host_busy:
                        continue
                    self.host_busy.add((firm.slug, start))
                    await self._slot(
                        self.open_tours[firm.slug],
                        start,
                        TOUR_MINUTES,
                        capacity=TOUR_CAPACITY,
                        min_party=TOUR_MIN_PARTY,
                        max_party=TOUR_CAPACITY,
                    )

    async def _past_tour_booking(self, ts: _TourSlot) -> None:
        if self.rng.random() >= 0.75:
            return
        at = self._booked_at(ts.slot.starts_at)
        out = await self._book_class(ts, at=at)
        if out is not None and out.status == "pending":
            await confirm_booking(
                out.id, by=self.coordinators[ts.firm.slug], now=at + timedelta(days=1)
            )

    async def _future_tour_booking(self, ts: _TourSlot) -> BookingOut | None:
        at = self._booked_at(ts.slot.starts_at)
        out = await self._book_class(ts, at=at)
        if out is None or out.status != "pending":
            return out
        host = self.coordinators[ts.firm.slug]
        answer_at = min(self.now, at + timedelta(days=2))
        if self.pending_left > 0:
            self.pending_left -= 1  # the host has not answered yet
            return out
        if self.declined_left > 0:
            self.declined_left -= 1
            return await decline_booking(
                out.id,
                "An diesem Tag ist unsere Fertigung wegen Wartungsarbeiten nicht zugänglich."
                " Bitte wählen Sie einen anderen Termin.",
                by=host,
                now=answer_at,
            )
        return await confirm_booking(out.id, by=host, now=answer_at)

    async def _waitlist_and_cancel(self, booked: list[_TourSlot]) -> None:
        """One class waits for a full slot; another class called off its visit."""
        auto = [ts for ts in booked if ts.tour.booking_mode == "auto"]
        if not auto:
            return
        confirmed = await list_bookings(by=self.admin, status="confirmed", limit=10_000)
        by_slot: dict[int, list[BookingOut]] = {}
        for b in confirmed:
            by_slot.setdefault(b.slot_id, []).append(b)
        # A second class (19 persons at least) cannot fit beside one of 12 or more.
        full = [ts for ts in auto if sum(b.persons for b in by_slot.get(ts.slot.id, [])) >= 12]
        if full:
            ts = full[0]
            schools = {b.school for b in by_slot[ts.slot.id] if b.school}
            await self._book_class(ts, at=self.now, exclude=schools, large=True)
        others = [ts for ts in auto if not full or ts is not full[0]]
        if others:
            ts = others[-1]
            first = by_slot[ts.slot.id][0]
            await cancel_booking(
                first.id,
                "Die Klasse ist an diesem Tag leider im Schullandheim.",
                by=self.teachers[first.school or ""],
                now=self.now,
            )

    # -- open days, parents' evenings, seminars, the fair

    async def _open_days(self) -> None:
        cal = self.cal
        plan = (  # firm, past or future, status
            ("rehn-feinmechanik", "past", "published"),
            ("vogel-cnc", "past", "published"),
            ("seifert-uhrkomponenten", "future", "published"),
            ("haubold-feinwerktechnik", "future", "published"),
            ("weisseritz-mikrotechnik", "future", "cancelled"),
            ("doehlen-lasertechnik", "future", "draft"),
        )
        past_days = _spread(cal.past_saturdays, 2, self.rng)
        future_days = _spread(cal.future_saturdays, 4, self.rng)
        for slug, when, status in plan:
            pool = past_days if when == "past" else future_days
            if not pool:
                continue
            day = pool.pop(0)
            self.open_day_dates.add(day)
            firm = self.firm_by_slug[slug]
            event = await self._event(
                EventIn(
                    kind="open_day",
                    title=f"Tag der offenen Tür: {firm.name}",
                    description=(
                        "Werkstätten, Maschinen und Ausbildungsplätze zum Anschauen und"
                        " Ausprobieren: Schülerinnen, Schüler, Eltern und alle Interessierten"
                        " sind willkommen. Unsere Auszubildenden beantworten Fragen zu"
                        " Praktikum und Ausbildung. Für Imbiss ist gesorgt; bitte melden Sie"
                        " sich mit der Zahl der Personen an."
                    ),
                    host=slug,
                    audience=["pupils", "parents", "public"],
                    topics=["ausbildung", "praktikum"],
                    visibility="public",
                    booking_mode="auto",
                    status="draft" if status == "draft" else "published",
                )
            )
            slot = await self._slot(event, _at(day, time(10, 0)), 300, capacity=120, max_party=6)
            if status == "draft":
                continue
            await self._register_public(
                slot, self.rng.randint(10, 18) if when == "past" else self.rng.randint(4, 9), 4
            )
            if status == "cancelled":
                await cancel_event(
                    event.id,
                    "Wegen des Umbaus unserer Fertigungshalle muss der Tag der offenen Tür"
                    " leider entfallen. Gern zeigen wir Ihnen den Betrieb zu einem späteren"
                    " Termin.",
                    by=self.admin,
                    now=self.now,
                )

    async def _parents_evenings(self) -> None:
        cal = self.cal
        plan = (
            ("os-glashuette", "past", (8, 9)),
            ("os-liebstadt", "past", (8, 9, 10)),
            ("gym-altenberg", "future", (9, 10)),
            ("os-heidenau", "future", (8, 9)),
        )
        past_days = _spread(_evenings(cal.past), 2, self.rng)
        future_days = _spread(_evenings(cal.future), 2, self.rng)
        for slug, when, grades in plan:
            pool = past_days if when == "past" else future_days
            if not pool:
                continue
            day = pool.pop(0)
            event = await self._event(
                EventIn(
                    kind="parents_evening",
                    title="Elternabend Berufsorientierung: Ausbildung in der Präzisionsmechanik",
                    description=(
                        "Ausbilderinnen und Ausbilder aus Betrieben des IMPRO-Netzwerks stellen"
                        " Berufe wie Feinwerkmechaniker, Zerspanungsmechaniker und Uhrmacher vor:"
                        " Inhalte, Verdienst, Praktikumsplätze und Bewerbungstermine. Mit Zeit"
                        " für Fragen im Anschluss."
                    ),
                    host=slug,
                    grades=list(grades),
                    audience=["parents"],
                    topics=["ausbildung", "berufsorientierung"],
                    visibility="public",
                    booking_mode="auto",
                    status="published",
                )
            )
            slot = await self._slot(event, _at(day, time(18, 30)), 90, capacity=80, max_party=4)
            await self._register_public(
                slot, self.rng.randint(8, 15) if when == "past" else self.rng.randint(3, 8), 2
            )
            if when == "future":
                await self._presenters(event, slug)

    async def _presenters(self, event: EventOut, school: str) -> None:
        """The school invites three firms to present; two accept, one has not answered."""
        firms = self.rng.sample(sorted(self.coordinators), 3)
        host = self.teachers.get(school, self.admin)
        invited = await presenters.invite_firms(
            event.id,
            InviteIn(
                firms=firms, message="Bitte stellen Sie in 10 Minuten Ihre Ausbildungsberufe vor."
            ),
            by=host,
            now=self.now,
        )
        for invitation in invited.invited[:2]:
            await presenters.accept(
                invitation.id, by=self.coordinators[invitation.firm], now=self.now
            )

    async def _teacher_trainings(self) -> None:
        cal = self.cal
        plan = (
            (
                "kaden-drehteile",
                "past",
                "CNC-Technik verstehen: Lehrerfortbildung im Betrieb",
                "Wie arbeitet eine CNC-Drehmaschine, und was lernen Zerspanungsmechaniker?"
                " Praxisnahe Fortbildung für Lehrkräfte (WTH, Physik, Berufsorientierung) mit"
                " Materialien für den Unterricht.",
                ("cnc", "berufsorientierung"),
            ),
            (
                "hartmann-messgeraetebau",
                "future",
                "Messtechnik zum Anfassen – Experimente für den Unterricht",
                "Messschieber, Bügelmessschraube und Koordinatenmessgerät: Versuche, die sich im"
                " Physik- und Technikunterricht nachmachen lassen. Anerkannt als Fortbildung"
                " des Landesamts für Schule und Bildung (beantragt).",
                ("messtechnik",),
            ),
            (
                "wendler-feinoptik",
                "future",
                "Berufe der Feinwerktechnik: Informationen für Lehrkräfte",
                "Welche Ausbildungsberufe bieten die Betriebe des Netzwerks, welche Noten zählen,"
                " wie laufen Praktikum und Bewerbung? Mit Rundgang durch die optische Fertigung.",
                ("ausbildung", "berufsorientierung"),
            ),
        )
        past_days = _spread(_evenings(cal.past), 1, self.rng)
        future_days = _spread(_evenings(cal.future), 2, self.rng)
        for slug, when, title, description, topics in plan:
            pool = past_days if when == "past" else future_days
            if not pool:
                continue
            day = pool.pop(0)
            firm = self.firm_by_slug[slug]
            event = await self._event(
                EventIn(
                    kind="teacher_training",
                    title=title,
                    description=description,
                    host=NETWORK_SLUG,
                    venue=firm.venue(),
                    audience=["teachers"],
                    topics=list(topics),
                    visibility="network",
                    booking_mode="auto",
                    status="published",
                )
            )
            slot = await self._slot(event, _at(day, time(14, 0)), 180, capacity=16, max_party=2)
            count = self.rng.randint(4, 7) if when == "past" else self.rng.randint(2, 5)
            for school in self.rng.sample(SCHOOLS, count):
                req = BookingRequest(name=self.teacher_names[school.slug], persons=1)
                await self._place(
                    slot, req, self.teachers[school.slug], self._booked_at(slot.starts_at)
                )

    async def _fair(self) -> None:
        """The regional training fair: information only, no bookings."""
        days = [
            d
            for d in self.cal.future_saturdays
            if closure_on(d) is None and d not in self.open_day_dates
        ]
        if not days:
            return
        day = days[len(days) // 3]
        event = await self._event(
            EventIn(
                kind="other",
                title="Ausbildungsmesse Osterzgebirge",
                description=(
                    "Über 40 Aussteller aus Industrie, Handwerk und Verwaltung, darunter die"
                    " Betriebe des IMPRO-Netzwerks mit einem Gemeinschaftsstand: Berufe zum"
                    " Ausprobieren, Bewerbungsmappen-Check und Gespräche mit Azubis. Eintritt"
                    " frei, keine Anmeldung nötig."
                ),
                host=NETWORK_SLUG,
                venue=VenueIn(
                    name="Mehrzweckhalle am Schulzentrum",
                    street="Rabenauer Straße 4",
                    postal_code="01744",
                    city="Dippoldiswalde",
                    lat=50.8952,
                    lon=13.6689,
                ),
                grades=[8, 9, 10, 11, 12],
                audience=["pupils", "parents", "public"],
                topics=["ausbildung", "berufsorientierung", "praktikum"],
                visibility="public",
                booking_mode="none",
                status="published",
            )
        )
        await self._slot(event, _at(day, time(9, 0)), 300, capacity=1500)

    # -- after the events: who came, and the year's work plan

    async def _attendance(self) -> None:
        """Hosts recorded who came, except for the last ten days (shown as expected)."""
        rows = (
            await Booking.select(Booking.id, Booking.persons, Booking.kind)
            .where(
                (Booking.status == "confirmed")
                & (Booking.slot.ends_at <= self.now - timedelta(days=10))
            )
            .order_by(Booking.id)
        )
        for row in rows:
            roll = self.rng.random()
            if roll < 0.04:
                came = 0  # a no-show
            elif roll < 0.25 and row["kind"] == "class_visit":
                came = max(row["persons"] - self.rng.randint(1, 3), 1)  # some pupils were ill
            else:
                came = row["persons"]
            await record_attendance(row["id"], came, by=self.admin, now=self.now)

    # -- internships

    async def _internships(self) -> None:
        """The firms' offers over a window from about five weeks ahead (two weeks, and two
        more three weeks later), classes of two schools with their periods in it, pupils
        (first names and codes only) with up to three wishes, and one confirmed round."""
        window = local(self.now).date() + timedelta(days=35)
        window += timedelta(days=(7 - window.weekday()) % 7)  # a Monday
        spans = [(window, window + timedelta(days=11))]
        spans.append((window + timedelta(days=21), window + timedelta(days=32)))
        offered: list[tuple[int, tuple[int, ...]]] = []  # (period of the first span, grades)
        for firm in FIRMS:
            for offer in firm.internships:
                made = await internship_offers.create_offer(
                    OfferIn(
                        occupation=offer.occupation,
                        description=offer.description,
                        grades=list(offer.grades),
                        periods=[
                            OfferPeriodIn(starts_on=a, ends_on=b, places=offer.places)
                            for a, b in spans
                        ],
                        status="published",
                        contact_name=" ".join(firm.contact),
                        contact_email=f"ausbildung@{firm.domain}",
                    ),
                    by=self.coordinators[firm.slug],
                    now=self.now,
                )
                offered.append((made.periods[0].id, offer.grades))
        names = list(INTERNSHIPS.pupil_names)
        allocated: list[int] = []
        for n, klass in enumerate(INTERNSHIPS.classes):
            first = window + timedelta(days=7 * klass.week)
            made_class = await internship_classes.create_class_period(
                ClassPeriodIn(
                    class_label=klass.label,
                    grade=klass.grade,
                    starts_on=first,
                    ends_on=first + timedelta(days=11),
                ),
                by=self.teachers[klass.school],
                now=self.now,
            )
            if not klass.pupils:
                continue
            fitting = [p for p, grades in offered if klass.grade in grades]
            pupils = []
            for i in range(klass.pupils):
                wished = self.rng.sample(fitting, k=min(3, len(fitting)))
                # Some pupils name fewer wishes; one names none.
                wished = wished[: 3 - (i % 4 == 3)] if i else []
                name = names[(n * 7 + i) % len(names)]
                pupils.append(
                    PupilIn(
                        code=f"{klass.label.upper()}-{i + 1:02d}", first_name=name, wishes=wished
                    )
                )
            await internship_wishes.put_pupils(
                made_class.id, pupils, by=self.teachers[klass.school], now=self.now
            )
            allocated.append(made_class.id)
        if allocated:
            preview = await internship_rounds.preview_round(
                RoundIn(classes=allocated, seed=SEED), by=self.admin, now=self.now
            )
            await internship_rounds.confirm_round(preview.id, by=self.admin, now=self.now)

    async def _work_plan(self) -> None:
        """The work plan of the current school year, as agreed with the members."""
        year = school_year_of(self.now)
        first = int(year[:4])
        plan = await workplan.create_plan(
            WorkPlanIn(
                school_year=year,
                title=f"Arbeitsplan {year}: Berufsorientierung im Netzwerk",
                notes="Beschlossen in der Mitgliederversammlung; Bilanz im Juli.",
            ),
            by=self.admin,
            now=self.now,
        )
        firms = await workplan.add_priority(
            plan,
            PriorityIn(
                title="Berufsorientierung in den Betrieben",
                description="Jede Klasse der Partnerschulen sieht mindestens einen Betrieb.",
                position=1,
            ),
            by=self.admin,
        )
        people = await workplan.add_priority(
            plan,
            PriorityIn(
                title="Lehrkräfte und Eltern einbinden",
                description="Fortbildungen, Tage der offenen Tür und Elternabende.",
                position=2,
            ),
            by=self.admin,
        )

        async def events_of(kind: str, host: str | None = None) -> list[int]:
            query = Event.select(Event.id).where(
                (Event.kind == kind) & (Event.status != "cancelled")
            )
            if host is not None:
                query = query.where(Event.host.slug == host)
            return [row["id"] for row in await query]

        milestones = (
            (
                "Klassenbesuche in den Betrieben",
                None,
                date(first + 1, 6, 30),
                "class_visits",
                60,
                firms,
                [],
            ),
            (
                "Schülerinnen und Schüler erreicht",
                None,
                date(first + 1, 7, 15),
                "pupils",
                1500,
                firms,
                [],
            ),
            (
                "Alle Partnerschulen erreicht",
                None,
                date(first + 1, 7, 31),
                "schools",
                len(SCHOOLS),
                firms,
                [],
            ),
            (
                "Betriebsbesichtigungen bei Rehn Feinmechanik",
                "rehn-feinmechanik",
                date(first + 1, 3, 31),
                "pupils",
                150,
                firms,
                [],
            ),
            (
                "Lehrkräfte in den Fortbildungen",
                None,
                date(first + 1, 6, 30),
                "seminar_participants",
                25,
                people,
                await events_of("teacher_training"),
            ),
            (
                "Besucher der Tage der offenen Tür",
                None,
                date(first + 1, 5, 31),
                "open_day_visitors",
                200,
                people,
                await events_of("open_day"),
            ),
            (
                "Elternabende an der Oberschule Glashütte",
                "os-glashuette",
                date(first + 1, 6, 30),
                "parents_evening_attendance",
                40,
                people,
                await events_of("parents_evening", "os-glashuette"),
            ),
        )
        for position, (title, owner, due, metric, target, prio, linked) in enumerate(milestones):
            await workplan.add_milestone(
                plan,
                MilestoneIn(
                    title=title,
                    owner=owner,
                    due_on=due,
                    metric=metric,  # type: ignore[arg-type]
                    target=target,
                    priority_id=prio,
                    event_ids=linked,
                    position=position,
                ),
                by=self.admin,
                now=self.now,
            )
