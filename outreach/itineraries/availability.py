"""Which slots can take the class: what the planner knows about a slot, loaded for
a run of days in a fixed number of queries, the teacher's request as the planner needs
it, and `_why_not`, the booking rule of `booking.eligibility` plus the school day's
bounds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from outreach.booking.eligibility import Busy, Party, SlotFacts, refusal
from outreach.booking.rules import CLASS_VISIT_KINDS, OPEN_STATUSES, class_visits_overlapping
from outreach.calendar.holidays import Closure, closure_on
from outreach.config import get_settings
from outreach.errors import Forbidden, Invalid, Unauthorised
from outreach.events.schemas import VenueOut
from outreach.events.services import venue_out
from outreach.events.tables import Event, Slot, Venue
from outreach.itineraries import planner
from outreach.itineraries.explain import REASON_LABELS
from outreach.itineraries.planner import Candidate, Rules
from outreach.itineraries.schemas import (
    PlanRequest,
)
from outreach.itineraries.tables import Itinerary
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, local

__all__ = [
    "travel_rules",
]


ACTIVE = frozenset(OPEN_STATUSES)  # a visit still on: pending, confirmed, waitlisted

# ---------------------------------------------------------------------------
# What the planner knows about a slot


@dataclass(frozen=True, slots=True)
class _SlotInfo:
    """A slot with its event, venue and host: everything the planner and pages need."""

    slot_id: int
    event_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    held: int
    min_party: int
    max_party: int
    opens: dt.datetime | None
    closes: dt.datetime | None
    cancelled: bool
    sequence: int
    kind: str
    title: str
    status: str
    booking_mode: str
    grades: tuple[int, ...]
    topics: tuple[str, ...]
    host_id: int
    host: str
    host_name: str
    contact_name: str
    contact_phone: str
    contact_email: str
    venue: VenueOut | None
    lat: float | None
    lon: float | None

    @property
    def day(self) -> dt.date:
        return local(self.starts_at).date()

    @property
    def facts(self) -> SlotFacts:
        """The slot as the booking rule reads it."""
        return SlotFacts(
            slot_id=self.slot_id,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            capacity=self.capacity,
            held=self.held,
            min_party=self.min_party,
            max_party=self.max_party,
            opens_at=self.opens,
            closes_at=self.closes,
            cancelled=self.cancelled,
            event_status=self.status,
            booking_mode=self.booking_mode,
            waitlist=False,  # a class day takes its places now, or not at all (place_many)
            grades=self.grades,
        )

    @property
    def free(self) -> int:
        return self.facts.free

    @property
    def largest_party(self) -> int:
        return self.facts.largest_party


async def _load_infos(
    *, slot_ids: Sequence[int] | None = None, days: Sequence[dt.date] | None = None
) -> list[_SlotInfo]:
    """Slots by id, or the class-visit slots of published events on `days`; 4 queries."""
    query = Slot.select().order_by(Slot.starts_at)
    if slot_ids is not None:
        if not slot_ids:
            return []
        query = query.where(Slot.id.is_in(list(slot_ids)))
    else:
        if not days:
            return []
        # One condition per run of consecutive days, not per day: the query stays short.
        span = None
        for first, last in _runs(sorted(set(days))):
            part = (Slot.starts_at >= _midnight(first)) & (Slot.starts_at < _midnight(last, 1))
            span = part if span is None else span | part
        query = query.where(span)  # type: ignore[arg-type]
    slots = await query
    if not slots:
        return []
    events_query = Event.select().where(Event.id.is_in(list({s["event"] for s in slots})))
    if slot_ids is None:
        events_query = events_query.where(
            (Event.status == "published") & Event.kind.is_in(list(CLASS_VISIT_KINDS))
        )
    events = {e["id"]: e for e in await events_query}
    venue_ids = list({e["venue"] for e in events.values() if e["venue"] is not None})
    venues = (
        {v["id"]: v for v in await Venue.select().where(Venue.id.is_in(venue_ids))}
        if venue_ids
        else {}
    )
    host_ids = list({e["host"] for e in events.values()})
    hosts = (
        {o["id"]: o for o in await Organisation.select().where(Organisation.id.is_in(host_ids))}
        if host_ids
        else {}
    )
    infos = []
    for s in slots:
        e = events.get(s["event"])
        if e is None:
            continue
        h = hosts[e["host"]]
        v = venues.get(e["venue"])
        # A venue without coordinates falls back on its host's address.
        lat = v["lat"] if v and v["lat"] is not None else h["lat"]
        lon = v["lon"] if v and v["lon"] is not None else h["lon"]
        infos.append(
            _SlotInfo(
                slot_id=s["id"],
                event_id=e["id"],
                starts_at=s["starts_at"],
                ends_at=s["ends_at"],
                capacity=s["capacity"],
                held=s["held"],
                min_party=s["min_party"],
                max_party=s["max_party"],
                opens=s["booking_opens_at"],
                closes=s["booking_closes_at"],
                cancelled=s["cancelled"],
                sequence=s["sequence"],
                kind=e["kind"],
                title=e["title"],
                status=e["status"],
                booking_mode=e["booking_mode"],
                grades=tuple(e["grades"] or ()),
                topics=tuple(e["topics"] or ()),
                host_id=h["id"],
                host=h["slug"],
                host_name=h["name"],
                contact_name=h["contact_name"],
                contact_phone=h["contact_phone"],
                contact_email=h["contact_email"],
                venue=venue_out(v),
                lat=lat,
                lon=lon,
            )
        )
    return infos


async def _class_busy(
    school_id: int | None, label: str | None, days: Iterable[dt.date], *, skip: Iterable[int] = ()
) -> list[tuple[dt.datetime, dt.datetime]]:
    """When the class already has visits on `days` (bookings in `skip` aside).

    The booking engine says which visits keep a class busy; the planner only narrows
    them to this class, as the engine's own clash check does.
    """
    days = sorted(set(days))
    if school_id is None or not label or not days:
        return []
    visits = await class_visits_overlapping(school_id, _midnight(days[0]), _midnight(days[-1], 1))
    wanted = " ".join(label.split()).casefold()
    skip = set(skip)
    return [
        (v.starts_at, v.ends_at)
        for v in visits
        if v.booking_id not in skip and v.class_label.casefold() == wanted
    ]


# ---------------------------------------------------------------------------
# The request, as the planner needs it


@dataclass(frozen=True)
class _Query:
    days: tuple[dt.date, ...]
    grade: int
    pupils: int
    adults: int
    arrive: dt.time
    leave: dt.time
    travel_mode: str
    lunch_minutes: int
    firms: frozenset[str]
    topics: frozenset[str]
    min_visits: int
    max_visits: int
    limit: int
    class_label: str | None = None
    school_id: int | None = None

    @property
    def persons(self) -> int:
        return self.pupils + self.adults


def _time(value: str, field: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise Invalid.because("local_time_format", field=field) from None


def _query(req: PlanRequest, by: Principal) -> _Query:
    days = sorted({*req.dates, *([req.date] if req.date else [])})
    if not days:
        raise Invalid("date (or dates) is required", field="date")
    if len(days) > 31:
        raise Invalid.because("too_many_dates", field="dates", max=31)
    if days[-1].year >= 9999:  # the day after would be past the calendar's end
        raise Invalid("dates must be before the year 9999", field="date")
    if days[0].year < 2:  # its midnight in Berlin is before the calendar's start in UTC
        raise Invalid("dates must be after the year 1", field="date")
    arrive, leave = _time(req.arrive_at, "arrive_at"), _time(req.leave_by, "leave_by")
    if leave <= arrive:
        raise Invalid("leave_by must be after arrive_at", field="leave_by")
    max_visits = req.max_visits
    min_visits = req.min_visits if req.min_visits is not None else min(2, max_visits)
    if min_visits > max_visits:
        raise Invalid("min_visits must not exceed max_visits", field="min_visits")
    return _Query(
        days=tuple(days),
        grade=req.grade,
        pupils=req.pupils,
        adults=req.adults,
        arrive=arrive,
        leave=leave,
        travel_mode=req.travel_mode,
        lunch_minutes=req.lunch_minutes,
        firms=frozenset(s.strip() for s in req.firms),
        # Event topics are stored trimmed and lower-case.
        topics=frozenset(t.strip().lower() for t in req.topics if t.strip()),
        min_visits=min_visits,
        max_visits=max_visits,
        limit=req.limit,
        class_label=" ".join(req.class_label.split()) if req.class_label else None,
        school_id=by.org_id if by.role == "school" else None,
    )


def _runs(days: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _midnight(day: dt.date, plus_days: int = 0) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=plus_days), dt.time(0), tzinfo=LOCAL_TZ)


def _minutes(day: dt.date, moment: dt.datetime, *, up: bool = False) -> int:
    """Minutes from the day's local midnight (true elapsed minutes, DST included)."""
    seconds = (moment - _midnight(day)).total_seconds()
    return math.ceil(seconds / 60) if up else math.floor(seconds / 60)


def _clock(day: dt.date, at: dt.time) -> int:
    return _minutes(day, dt.datetime.combine(day, at, tzinfo=LOCAL_TZ))


def _instant(day: dt.date, minutes: int) -> dt.datetime:
    return local(_midnight(day) + dt.timedelta(minutes=minutes))


def travel_rules(mode: str, day: dt.date, arrive: dt.time, leave: dt.time, **extra: Any) -> Rules:
    """The planner's rules for one day: speeds and buffer from the settings."""
    settings = get_settings()
    return Rules(
        arrive=_clock(day, arrive),
        leave=_clock(day, leave),
        speed_kmh=settings.planner_bus_kmh if mode == "bus" else settings.planner_walk_kmh,
        detour=settings.planner_detour_factor,
        buffer=settings.planner_buffer_minutes,
        lunch_from=_clock(day, dt.time(planner.LUNCH_FROM // 60)),
        lunch_until=_clock(day, dt.time(planner.LUNCH_UNTIL // 60)),
        **extra,
    )


def _booked_query(row: Itinerary, **bounds: Any) -> _Query:
    """The question a booked day answered (its class, times and wishes), asked again."""
    return _Query(
        days=(row.day,),
        grade=row.grade,
        pupils=row.pupils,
        adults=row.adults,
        arrive=dt.time.fromisoformat(row.arrive_at),
        leave=dt.time.fromisoformat(row.leave_by),
        travel_mode=row.travel_mode,
        lunch_minutes=row.lunch_minutes,
        firms=frozenset(row.firms or ()),
        topics=frozenset(row.topics or ()),
        **bounds,
    )


def _rules(q: _Query, day: dt.date, **changes: Any) -> Rules:
    values = {
        "min_visits": q.min_visits,
        "max_visits": q.max_visits,
        "lunch_minutes": q.lunch_minutes,
        "limit": q.limit,
        **changes,
    }
    return travel_rules(q.travel_mode, day, q.arrive, q.leave, **values)


# ---------------------------------------------------------------------------
# Which slots can take the class: the booking rule, and what a day plan adds

_REASONS = REASON_LABELS


def _why_not(
    info: _SlotInfo,
    q: _Query,
    now: dt.datetime,
    busy: Sequence[tuple[dt.datetime, dt.datetime]] = (),
    *,
    persons: int | None = None,
) -> str | None:
    """Why this slot cannot take the class (a key of `_REASONS`), or None when it can.

    The booking rule (`booking.eligibility`) first, then what only a day plan asks: the
    school day's bounds and a venue the route can be drawn to.
    """
    party = Party(
        class_visit=True,
        grade=q.grade,
        persons=q.persons if persons is None else persons,
        label=q.class_label,
        persons_field="pupils",
        busy=[Busy(start, end) for start, end in busy],
        may_wait=False,
    )
    refused = refusal(info.facts, party, now)
    if refused is not None:
        return refused.reason.value
    if local(info.starts_at).time() < q.arrive or info.ends_at > dt.datetime.combine(
        info.day, q.leave, tzinfo=LOCAL_TZ
    ):
        return "outside_day"
    if info.lat is None or info.lon is None:
        return "no_location"
    return None


def _candidate(info: _SlotInfo, q: _Query) -> Candidate:
    return Candidate(
        slot_id=info.slot_id,
        host=info.host,
        start=_minutes(info.day, info.starts_at),
        end=_minutes(info.day, info.ends_at, up=True),
        lat=info.lat if info.lat is not None else 0.0,
        lon=info.lon if info.lon is not None else 0.0,
        wanted=info.host in q.firms,
        topical=bool(q.topics & set(info.topics)),
    )


@dataclass
class _Day:
    """One date's slots, sorted into candidates and refusals."""

    day: dt.date
    closure: Closure | None
    infos: list[_SlotInfo]
    candidates: list[Candidate] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # slot id -> reason

    def hosts(self) -> set[str]:
        return {c.host for c in self.candidates}


def _sort_day(
    day: dt.date,
    infos: list[_SlotInfo],
    q: _Query,
    now: dt.datetime,
    busy: Sequence[tuple[dt.datetime, dt.datetime]],
    *,
    persons: int | None = None,
) -> _Day:
    closure = closure_on(day)
    result = _Day(day, closure, infos)
    if closure:
        return result
    for info in infos:
        reason = _why_not(info, q, now, busy, persons=persons)
        if reason is None:
            result.candidates.append(_candidate(info, q))
        else:
            result.refused[info.slot_id] = reason
    return result


def _require_teacher(by: Principal, *, planning: bool = False) -> None:
    if by.role == "school" and by.org_id is not None:
        return
    if planning and by.is_admin:
        return  # the network office may look at what would fit
    if not by.is_member:
        raise Unauthorised("sign in as a teacher to plan and book a class's day")
    raise Forbidden("class days are planned and booked by teachers for their own school")


async def _firm_names(slugs: Iterable[str]) -> dict[str, str]:
    """The names people read for organisation slugs, in one query."""
    wanted = sorted(set(slugs))
    if not wanted:
        return {}
    rows = await Organisation.select(Organisation.slug, Organisation.name).where(
        Organisation.slug.is_in(wanted)
    )
    return {r["slug"]: r["name"] for r in rows}


async def _check_firms(firms: Iterable[str]) -> None:
    wanted = sorted(set(firms))
    known = await _firm_names(wanted)
    for slug in wanted:
        if slug not in known:
            raise Invalid.because("unknown_firm", field="firms", slug=slug)
