"""The class day planner and itineraries: plan a day at several firms, book it all or
nothing, show each visit's status, offer a replacement when one visit falls away.

The search itself is `planner.py` (pure). This module loads the day's slots in a fixed
number of queries, decides which of them can take the whole class (`_why_not`: the
booking rule of `booking.eligibility`, plus the school day's bounds), turns the
teacher's request into `Rules`, and explains the result. Booking goes through
`booking.services.place_many`, the engine's one path for several slots in one
transaction; the planner is advice and the engine stays the authority.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import msgspec

from outreach.booking.eligibility import Busy, Party, SlotFacts, refusal
from outreach.booking.queries import get_booking
from outreach.booking.rules import CLASS_VISIT_KINDS, OPEN_STATUSES, class_visits_overlapping
from outreach.booking.schemas import BookingOut, BookingRequest
from outreach.booking.tables import Booking
from outreach.booking.writes import cancel_booking, place_many
from outreach.calendar.holidays import PUBLIC_HOLIDAY, Closure, closure_on
from outreach.config import get_settings
from outreach.db import write_transaction
from outreach.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorised
from outreach.events.schemas import VenueOut
from outreach.events.services import venue_out
from outreach.events.tables import Event, Slot, Venue
from outreach.itineraries import ical, planner
from outreach.itineraries.explain import REASON_LABELS, Note, render
from outreach.itineraries.planner import Candidate, Plan, Rules
from outreach.itineraries.schemas import (
    ItineraryIn,
    ItineraryOut,
    LegOut,
    LunchOut,
    PlanOut,
    PlanRequest,
    ProposalOut,
    Suggestion,
    UnavailableOut,
    VisitOut,
    VisitStatusOut,
)
from outreach.itineraries.tables import Itinerary, ItineraryVisit
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, local, utcnow

__all__ = [
    "Booked",
    "ExplainedPlan",
    "ItineraryNotice",
    "ItineraryUnavailable",
    "book_itinerary",
    "book_replacement",
    "cancel_itinerary",
    "cancel_visit",
    "feed_legs",
    "get_itinerary",
    "itinerary_calendar",
    "itinerary_for_booking",
    "list_itineraries",
    "plan_day",
    "plan_day_explained",
    "replacement_options",
    "replacement_options_explained",
    "travel_rules",
]

log = logging.getLogger(__name__)

# Days looked at for "another date would work" when nothing fits.
PROBE_DAYS_AFTER = 14
PROBE_DAYS_BEFORE = 7
MAX_GROUP_TRIES = 8
ACTIVE = frozenset(OPEN_STATUSES)  # a visit still on: pending, confirmed, waitlisted


# ---------------------------------------------------------------------------
# Errors


class ItineraryUnavailable(Conflict):
    """409: a part could not be placed, nothing was booked; here is what would work now."""

    def __init__(
        self,
        message: str,
        *,
        reason: str | None,
        field: str | None,
        unavailable: list[UnavailableOut],
        plan: ExplainedPlan,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, field=field, reason=reason or "unavailable", params=params)
        self.unavailable = unavailable
        self.explained = plan
        self.plan = plan.plan

    def to_dict(self) -> dict[str, Any]:  # type: ignore[override]
        body: dict[str, Any] = dict(super().to_dict())
        body["unavailable"] = msgspec.to_builtins(self.unavailable)
        body.update(msgspec.to_builtins(self.plan))
        return body


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


# ---------------------------------------------------------------------------
# Planning


@dataclass(frozen=True, slots=True)
class ExplainedPlan:
    """A plan with its explanation as notes, for pages to say in the reader's language.

    `plan.explanation` and each suggestion's `message` are the notes rendered in English
    (the API's words); `suggestion_notes` are in the order of `plan.suggestions`.
    """

    plan: PlanOut
    notes: tuple[Note, ...] = ()
    suggestion_notes: tuple[Note, ...] = ()


async def plan_day(req: PlanRequest, *, by: Principal, now: dt.datetime | None = None) -> PlanOut:
    """Ranked proposals for a class's day at several firms, or why nothing fits."""
    return (await plan_day_explained(req, by=by, now=now)).plan


async def plan_day_explained(
    req: PlanRequest, *, by: Principal, now: dt.datetime | None = None
) -> ExplainedPlan:
    """`plan_day`, with the explanation as notes as well as in English."""
    now = now or utcnow()
    _require_teacher(by, planning=True)
    q = _query(req, by)
    await _check_firms(q.firms)
    return await _plan(q, now)


async def _plan(
    q: _Query,
    now: dt.datetime,
    *,
    required: Sequence[_SlotInfo] = (),
    skip_busy: Iterable[int] = (),
    exclude_slots: Iterable[int] = (),
) -> ExplainedPlan:
    excluded = set(exclude_slots)
    infos = [i for i in await _load_infos(days=q.days) if i.slot_id not in excluded]
    busy = await _class_busy(q.school_id, q.class_label, q.days, skip=skip_busy)
    by_day: dict[dt.date, list[_SlotInfo]] = {d: [] for d in q.days}
    for info in infos:
        by_day.setdefault(info.day, []).append(info)
    fixed_ids = {r.slot_id for r in required}
    days = []
    found: list[tuple[dt.date, Plan]] = []
    for day in q.days:
        sorted_day = _sort_day(
            day, [i for i in by_day[day] if i.slot_id not in fixed_ids], q, now, busy
        )
        days.append(sorted_day)
        if sorted_day.closure:
            continue
        fixed = [_candidate(r, q) for r in required if r.day == day]
        result = planner.search(sorted_day.candidates, _rules(q, day), required=fixed)
        found.extend((day, p) for p in result.plans)
    found.sort(key=lambda dp: dp[1].key)
    found = found[: q.limit]
    all_infos = {i.slot_id: i for i in [*infos, *required]}
    proposals = [_proposal_out(day, plan, all_infos, q) for day, plan in found]
    if proposals:
        notes = _explain_found(q, days, found, all_infos, await _firm_names(q.firms))
        return ExplainedPlan(PlanOut(proposals=proposals, explanation=render(notes)), tuple(notes))
    notes = _explain_nothing(q, days, bool(required))
    suggested = await _suggest(q, days, now, busy, required)
    return ExplainedPlan(
        PlanOut(
            proposals=[],
            explanation=render(notes),
            suggestions=[s for s, _ in suggested],
        ),
        tuple(notes),
        tuple(n for _, n in suggested),
    )


def _proposal_out(day: dt.date, plan: Plan, infos: dict[int, _SlotInfo], q: _Query) -> ProposalOut:
    visits = []
    for v in plan.visits:
        info = infos[v.slot_id]
        visits.append(
            VisitOut(
                slot_id=info.slot_id,
                host=info.host,
                starts_at=local(info.starts_at),
                ends_at=local(info.ends_at),
                event_id=info.event_id,
                event_title=info.title,
                host_name=info.host_name,
                venue=info.venue,
                wanted=v.wanted,
                topics=sorted(q.topics & set(info.topics)),
            )
        )
    return ProposalOut(
        date=day,
        visits=visits,
        legs=[_leg_out(leg, infos, q.travel_mode, plan.lunch) for leg in plan.legs],
        score=plan.score,
        waiting_minutes=plan.waiting,
        travel_minutes=plan.travel,
        lunch=_lunch_out(day, plan.lunch),
        explanation=_describe(plan, q, infos),
    )


def _leg_out(
    leg: planner.Leg,
    infos: dict[int, _SlotInfo],
    mode: str,
    lunch: tuple[int, int] | None = None,
) -> LegOut:
    departs = local(infos[leg.origin.slot_id].ends_at)
    # Lunch in this gap: walk first when the walk fits before it, else eat first.
    if (
        lunch is not None
        and leg.origin.end <= lunch[0] < leg.destination.start
        and lunch[0] - leg.origin.end < leg.minutes
    ):
        departs += dt.timedelta(minutes=lunch[1] - leg.origin.end)
    return LegOut(
        from_=leg.origin.host,
        to=leg.destination.host,
        minutes=leg.minutes,
        km=round(leg.km, 2),
        mode=mode,  # type: ignore[arg-type]
        departs_at=departs,
        arrives_at=departs + dt.timedelta(minutes=leg.minutes),
    )


def _lunch_out(day: dt.date, lunch: tuple[int, int] | None) -> LunchOut | None:
    if lunch is None:
        return None
    return LunchOut(starts_at=_instant(day, lunch[0]), ends_at=_instant(day, lunch[1]))


def _hhmm(moment: dt.datetime) -> str:
    return f"{local(moment):%H:%M}"


def _describe(plan: Plan, q: _Query, infos: dict[int, _SlotInfo]) -> str:
    """One proposal in a sentence or two, for the teacher."""
    stops = ", then ".join(
        f"{infos[v.slot_id].host_name} {_hhmm(infos[v.slot_id].starts_at)}-"
        f"{_hhmm(infos[v.slot_id].ends_at)}"
        for v in plan.visits
    )
    parts = [f"{len(plan.visits)} visit{'s' if len(plan.visits) != 1 else ''}: {stops}."]
    if q.firms:
        parts.append(f"{plan.wanted} of {len(q.firms)} wanted firms.")
    if q.topics:
        parts.append(f"{plan.topical} visit{'s' if plan.topical != 1 else ''} on your topics.")
    way = "on foot" if q.travel_mode == "foot" else "by bus"
    parts.append(f"{plan.travel} min {way} (buffers included), {plan.waiting} min waiting.")
    if plan.lunch:
        day = local(infos[plan.visits[0].slot_id].starts_at).date()
        lunch = _lunch_out(day, plan.lunch)
        assert lunch is not None
        parts.append(f"Lunch {lunch.starts_at:%H:%M}-{lunch.ends_at:%H:%M}.")
    return " ".join(parts)


def _reason_counts(refused: dict[int, str]) -> tuple[tuple[str, int], ...]:
    return tuple(Counter(refused.values()).most_common())


def _explain_found(
    q: _Query,
    days: list[_Day],
    found: list[tuple[dt.date, Plan]],
    infos: dict[int, _SlotInfo],
    names: Mapping[str, str],
) -> list[Note]:
    """`names`: the wanted firms' names by slug (a firm without slots is named too)."""
    dates = sorted({d for d, _ in found})
    notes = [Note("found", {"n": len(found), "dates": dates})]
    best = found[0][1]
    missing = sorted(q.firms - set(best.hosts))
    for slug in missing:
        notes.append(_why_firm_missing(slug, names.get(slug, slug), days))
    notes.extend(_closures(days))
    return notes


def _closures(days: list[_Day]) -> list[Note]:
    """Closed days, one sentence per holiday (a period is named once, not per day)."""
    groups: dict[tuple[str, dt.date, dt.date], list[_Day]] = {}
    for d in days:
        if d.closure is not None:
            c = d.closure
            groups.setdefault((c.name, c.first_day, c.last_day), []).append(d)
    out = []
    for closed in groups.values():
        closure = closed[0].closure
        assert closure is not None
        where = {
            "region": closure.region,
            "name": closure.name,
            "name_en": closure.name_en,
            "span": closure.span,
        }
        if len(closed) > 1:
            out.append(Note("school_holidays", {**where, "days": [d.day for d in closed]}))
        elif closure.reason == PUBLIC_HOLIDAY:
            out.append(Note("public_holiday", {**where, "day": closure.first_day}))
        else:
            out.append(Note("school_holiday", {**where, "day": closure.day or closed[0].day}))
    return out


def _why_firm_missing(slug: str, name: str, days: list[_Day]) -> Note:
    slots = [(d, i) for d in days for i in d.infos if i.host == slug]
    if not slots:
        return Note("firm_no_slots", {"name": name})
    refused = {i.slot_id: d.refused[i.slot_id] for d, i in slots if i.slot_id in d.refused}
    if len(refused) == len(slots):
        return Note("firm_refused", {"name": name, "reasons": _reason_counts(refused)})
    return Note("firm_no_fit", {"name": name})


def _explain_nothing(q: _Query, days: list[_Day], replacing: bool) -> list[Note]:
    notes = [Note("no_replacement") if replacing else Note("no_day", {"visits": q.min_visits})]
    notes.extend(_closures(days))
    empty = [d.day for d in days if not d.closure and not d.infos]
    if empty:
        notes.append(Note("no_slots", {"days": empty}))
    for d in days:
        if d.closure or not d.infos:
            continue
        if len(d.hosts()) < q.min_visits:
            notes.append(
                Note(
                    "few_firms",
                    {
                        "day": d.day,
                        "firms": len(d.hosts()),
                        "persons": q.persons,
                        "reasons": _reason_counts(d.refused),
                    },
                )
            )
        else:
            notes.append(
                Note(
                    "no_fit",
                    {
                        "day": d.day,
                        "firms": len(d.hosts()),
                        "visits": q.min_visits,
                        "arrive": f"{q.arrive:%H:%M}",
                        "leave": f"{q.leave:%H:%M}",
                        "mode": q.travel_mode,
                        "lunch": q.lunch_minutes,
                    },
                )
            )
    return notes


async def _suggest(
    q: _Query,
    days: list[_Day],
    now: dt.datetime,
    busy: Sequence[tuple[dt.datetime, dt.datetime]],
    required: Sequence[_SlotInfo],
) -> list[tuple[Suggestion, Note]]:
    """What would work instead: no lunch, fewer visits, a smaller group, another date."""
    suggestions: list[tuple[Suggestion, Note]] = []
    open_days = [d for d in days if not d.closure]

    def first_plan(sorted_days: Iterable[_Day], **changes: Any) -> tuple[dt.date, Plan] | None:
        for d in sorted_days:
            fixed = [_candidate(r, q) for r in required if r.day == d.day]
            rules = _rules(q, d.day, limit=1, **changes)
            plans = planner.search(d.candidates, rules, required=fixed).plans
            if plans:
                return d.day, plans[0]
        return None

    def hosts_of(plan: Plan) -> str:
        return ", ".join(v.host for v in plan.visits)

    if q.lunch_minutes and (hit := first_plan(open_days, lunch_minutes=0)):
        day, plan = hit
        note = Note("without_lunch", {"hosts": hosts_of(plan), "day": day})
        suggestions.append((Suggestion(kind="lunch", message=render([note]), date=day), note))
    if not required:
        for visits in range(q.min_visits - 1, 0, -1):
            hit = first_plan(open_days, min_visits=visits, max_visits=visits)
            if hit:
                day, plan = hit
                note = Note("fewer_visits", {"visits": visits, "hosts": hosts_of(plan), "day": day})
                suggestion = Suggestion(
                    kind="visits", message=render([note]), date=day, visits=visits
                )
                suggestions.append((suggestion, note))
                break
    group = _smaller_group(q, days, now, busy, required)
    if group is not None:
        suggestions.append(group)
    if not required:
        suggestions.extend(await _other_dates(q, now))
    return suggestions


def _smaller_group(
    q: _Query,
    days: list[_Day],
    now: dt.datetime,
    busy: Sequence[tuple[dt.datetime, dt.datetime]],
    required: Sequence[_SlotInfo],
) -> tuple[Suggestion, Note] | None:
    """The largest group below the class's size that a day would fit, if room is short."""
    sizes: set[int] = set()
    for d in days:
        for info in d.infos:
            if d.refused.get(info.slot_id) in ("full", "party_too_small", "party_too_large"):
                size = min(info.free, info.largest_party)
                if info.min_party <= size < q.persons:
                    sizes.add(size)
    for size in sorted(sizes, reverse=True)[:MAX_GROUP_TRIES]:
        for d in days:
            if d.closure:
                continue
            smaller = _sort_day(d.day, d.infos, q, now, busy, persons=size)
            fixed = [_candidate(r, q) for r in required if r.day == d.day]
            plans = planner.search(
                smaller.candidates, _rules(q, d.day, limit=1), required=fixed
            ).plans
            if plans:
                hosts = ", ".join(v.host for v in plans[0].visits)
                note = Note(
                    "smaller_group",
                    {"size": size, "persons": q.persons, "day": d.day, "hosts": hosts},
                )
                suggestion = Suggestion(
                    kind="group", message=render([note]), date=d.day, persons=size
                )
                return suggestion, note
    return None


async def _other_dates(q: _Query, now: dt.datetime, most: int = 3) -> list[tuple[Suggestion, Note]]:
    """School days near the ones asked for on which a plan would fit (two queries)."""
    tomorrow = local(now).date() + dt.timedelta(days=1)
    # Only the weeks around each day asked for: dates centuries apart once made a probe of
    # a million days (a 500). No neighbours past the calendar's end or in the past.
    near: set[dt.date] = set()
    for asked in q.days:
        if asked > dt.date.max - dt.timedelta(days=PROBE_DAYS_AFTER):
            continue
        last = asked + dt.timedelta(days=PROBE_DAYS_AFTER)
        if last < tomorrow:
            continue
        first = max(tomorrow, last - dt.timedelta(days=PROBE_DAYS_AFTER + PROBE_DAYS_BEFORE))
        near.update(first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    probe = sorted(d for d in near if d not in q.days and d.weekday() < 5 and closure_on(d) is None)
    if not probe:
        return []
    infos = await _load_infos(days=probe)
    busy = await _class_busy(q.school_id, q.class_label, probe)
    found: list[tuple[Suggestion, Note]] = []
    for day in probe:
        d = _sort_day(day, [i for i in infos if i.day == day], q, now, busy)
        plans = planner.search(d.candidates, _rules(q, day, limit=1)).plans
        if plans:
            hosts = ", ".join(v.host for v in plans[0].visits)
            note = Note("other_date", {"day": day, "hosts": hosts})
            found.append((Suggestion(kind="date", message=render([note]), date=day), note))
            if len(found) >= most:
                break
    return found


# ---------------------------------------------------------------------------
# Booking an itinerary


@dataclass(frozen=True)
class Booked:
    itinerary: ItineraryOut
    replayed: bool = False


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


def _check_chain(infos: list[_SlotInfo], mode: str) -> None:
    """One day, different firms, and time to get from each venue to the next."""
    if len({i.day for i in infos}) > 1:
        raise Invalid("all visits of an itinerary are on one day", field="slot_ids")
    if len({i.host for i in infos}) != len(infos):
        raise Invalid("each visit of an itinerary is at a different firm", field="slot_ids")
    day = infos[0].day
    rules = travel_rules(mode, day, dt.time(0), dt.time(23, 59))
    for a, b in itertools.pairwise(infos):
        if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
            continue  # no coordinates: the engine's overlap check still applies
        km = planner.haversine_km(a.lat, a.lon, b.lat, b.lon)
        need = planner.travel_minutes(km, rules)
        if b.starts_at < a.ends_at + dt.timedelta(minutes=need):
            raise Invalid.because(
                "walk_too_long" if mode == "foot" else "bus_too_long",
                field="slot_ids",
                origin=a.host_name,
                destination=b.host_name,
                minutes=need,
                gap=max(0, int((b.starts_at - a.ends_at).total_seconds() // 60)),
            )


async def book_itinerary(
    data: ItineraryIn,
    *,
    by: Principal,
    key: str | None = None,
    now: dt.datetime | None = None,
) -> Booked:
    """Book the class into every slot in one transaction, or into none.

    On a conflict (a slot filled meanwhile, a clash, a closed window) nothing is booked
    and `ItineraryUnavailable` carries fresh proposals planned with the same parameters.
    """
    now = now or utcnow()
    _require_teacher(by)
    if len(set(data.slot_ids)) != len(data.slot_ids):
        raise Invalid("slot_ids must not repeat a slot", field="slot_ids")
    infos = await _load_infos(slot_ids=data.slot_ids)
    # Drafts of other organisations are not revealed: they look like no slot at all.
    shown = {i.slot_id for i in infos if i.status != "draft"}
    for slot_id in data.slot_ids:
        if slot_id not in shown:
            raise NotFound(f"no slot {slot_id}", field="slot_ids")
    infos.sort(key=lambda i: (i.starts_at, i.slot_id))
    _check_chain(infos, data.travel_mode)
    if data.arrive_at and local(infos[0].starts_at).time() < _time(data.arrive_at, "arrive_at"):
        raise Invalid("the first visit starts before arrive_at", field="arrive_at")
    if data.leave_by and _hhmm_ceil(infos[-1].ends_at) > data.leave_by:
        raise Invalid("the last visit ends after leave_by", field="leave_by")
    if data.firms:
        await _check_firms(data.firms)
    request = BookingRequest(
        class_label=data.class_label,
        grade=data.grade,
        pupils=data.pupils,
        adults=data.adults,
        contact_name=data.contact_name,
        contact_email=data.contact_email,
        notes=data.notes,
        language=data.language,
    )
    ordered = [i.slot_id for i in infos]
    for attempt in (1, 2):
        try:
            itinerary_id, replayed = await _book_once(ordered, request, data, infos, by, key, now)
            break
        except (
            asyncpg.UniqueViolationError,
            asyncpg.InFailedSQLTransactionError,
            sqlite3.IntegrityError,
        ):
            # Two requests with one Idempotency-Key: the loser retries and replays.
            if key is None or attempt == 2:
                raise
            log.info("itinerary with a racing Idempotency-Key: replaying the first answer")
        except Conflict as exc:
            raise await _unavailable(exc, data, infos, by, now) from exc
    return Booked(await get_itinerary(itinerary_id, by=by, now=now), replayed=replayed)


async def _book_once(
    slot_ids: list[int],
    request: BookingRequest,
    data: ItineraryIn,
    infos: list[_SlotInfo],
    by: Principal,
    key: str | None,
    now: dt.datetime,
) -> tuple[int, bool]:
    """One transaction: the bookings (through the engine) and the itinerary rows."""
    async with write_transaction():
        placement = await place_many(slot_ids, request, by=by, key=key, now=now)
        first = placement.bookings[0].id
        if placement.replayed:
            row = (
                await ItineraryVisit.select(ItineraryVisit.itinerary)
                .where(ItineraryVisit.booking == first)
                .first()
            )
            if row is None:
                raise Invalid(
                    "this Idempotency-Key was already used for a different request",
                    field="Idempotency-Key",
                    reason="key_reused",
                )
            return row["itinerary"], True
        day = infos[0].day
        itinerary = Itinerary(
            school=by.org_id,
            created_by=by.user_id,
            day=day,
            class_label=placement.bookings[0].class_label,
            grade=data.grade,
            pupils=data.pupils,
            adults=data.adults,
            travel_mode=data.travel_mode,
            arrive_at=data.arrive_at or _hhmm_floor(infos[0].starts_at),
            leave_by=data.leave_by or _hhmm_ceil(infos[-1].ends_at),
            lunch_minutes=data.lunch_minutes,
            firms=sorted(set(data.firms if data.firms is not None else [i.host for i in infos])),
            topics=sorted({t.strip().lower() for t in data.topics if t.strip()}),
            created_at=now,
        )
        await itinerary.save()
        await ItineraryVisit.insert(
            *[
                ItineraryVisit(itinerary=itinerary.id, booking=b.id, position=n)
                for n, b in enumerate(placement.bookings, start=1)
            ]
        )
        return itinerary.id, False


def _hhmm_floor(moment: dt.datetime) -> str:
    return f"{local(moment):%H:%M}"


def _hhmm_ceil(moment: dt.datetime) -> str:
    at = local(moment)
    if at.second or at.microsecond:
        at = at.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    if at.date() != local(moment).date():
        return "23:59"
    return f"{at:%H:%M}"


async def _unavailable(
    exc: Conflict, data: ItineraryIn, infos: list[_SlotInfo], by: Principal, now: dt.datetime
) -> ItineraryUnavailable:
    """Nothing was booked: say which parts fail now, and plan afresh."""
    day = infos[0].day
    firms = data.firms if data.firms is not None else [i.host for i in infos]
    req = PlanRequest(
        grade=data.grade,
        pupils=data.pupils,
        adults=data.adults,
        date=day,
        arrive_at=data.arrive_at or _hhmm_floor(infos[0].starts_at),
        leave_by=data.leave_by or _hhmm_ceil(infos[-1].ends_at),
        travel_mode=data.travel_mode,
        lunch_minutes=data.lunch_minutes,
        firms=list(firms),
        topics=list(data.topics),
        max_visits=len(data.slot_ids),
        min_visits=min(2, len(data.slot_ids)),
        class_label=data.class_label,
    )
    q = _query(req, by)
    fresh = await _load_infos(slot_ids=data.slot_ids)
    busy = await _class_busy(q.school_id, q.class_label, [day])
    unavailable = []
    closure = closure_on(day)
    for info in fresh:
        if closure is not None:
            unavailable.append(
                UnavailableOut(slot_id=info.slot_id, reason=closure.reason, message=closure.message)
            )
            continue
        reason = _why_not(info, q, now, busy)
        if reason not in (None, "outside_day"):
            unavailable.append(
                UnavailableOut(slot_id=info.slot_id, reason=reason, message=_REASONS[reason])
            )
    plan = await _plan(q, now)
    return ItineraryUnavailable(
        f"{exc.message}; nothing was booked",
        reason=exc.reason,
        field=exc.field,
        unavailable=unavailable,
        plan=plan,
        params=exc.params,
    )


# ---------------------------------------------------------------------------
# Reading itineraries


async def _itinerary_row(itinerary_id: int, by: Principal) -> Itinerary:
    if not by.is_member:
        raise Unauthorised("sign in to see itineraries")
    row = await Itinerary.objects().where(Itinerary.id == itinerary_id).first()
    # Another school's itinerary looks like none at all.
    if row is None or not (by.is_admin or (by.role == "school" and by.belongs_to(row.school))):
        raise NotFound(f"no itinerary {itinerary_id}", field="itinerary")
    return row


@dataclass(frozen=True)
class _Visit:
    position: int
    booking: dict[str, Any]
    info: _SlotInfo

    @property
    def active(self) -> bool:
        return self.booking["status"] in ACTIVE


async def _visits(itinerary_id: int) -> list[_Visit]:
    links = (
        await ItineraryVisit.select(ItineraryVisit.booking, ItineraryVisit.position)
        .where(ItineraryVisit.itinerary == itinerary_id)
        .order_by(ItineraryVisit.position)
    )
    if not links:
        return []
    rows = {
        r["id"]: r
        for r in await Booking.select(
            Booking.id,
            Booking.slot,
            Booking.status,
            Booking.reason,
            Booking.sequence,
            Booking.updated_at,
        ).where(Booking.id.is_in([link["booking"] for link in links]))
    }
    infos = {i.slot_id: i for i in await _load_infos(slot_ids=[r["slot"] for r in rows.values()])}
    visits = [
        _Visit(link["position"], rows[link["booking"]], infos[rows[link["booking"]]["slot"]])
        for link in links
    ]
    return sorted(visits, key=lambda v: (v.info.starts_at, v.position))


def _status(visits: list[_Visit]) -> str:
    statuses = [v.booking["status"] for v in visits]
    if not any(s in ACTIVE for s in statuses):
        return "cancelled"
    if any(s not in ACTIVE for s in statuses):
        return "incomplete"
    return "confirmed" if all(s == "confirmed" for s in statuses) else "pending"


def _day_plan(row: Itinerary, visits: list[_Visit]) -> tuple[list[LegOut], LunchOut | None]:
    """Legs between the visits still on, and where lunch fits between them."""
    active = [v.info for v in visits if v.active]
    if not active:
        return [], None
    day = row.day
    rules = travel_rules(
        row.travel_mode,
        day,
        dt.time.fromisoformat(row.arrive_at),
        dt.time.fromisoformat(row.leave_by),
        min_visits=1,
        max_visits=len(active),
        lunch_minutes=row.lunch_minutes,
    )
    q = _booked_query(row, min_visits=1, max_visits=len(active), limit=1)
    infos = {i.slot_id: i for i in active}
    chain = [_candidate(i, q) for i in active if i.lat is not None and i.lon is not None]
    plan = planner.evaluate(chain, rules) if len(chain) == len(active) else None
    lunch = plan.lunch if plan else None
    legs = [
        _leg_out(planner.make_leg(a, b, rules), infos, row.travel_mode, lunch)
        for a, b in itertools.pairwise(chain)
    ]
    return legs, _lunch_out(day, lunch)


async def get_itinerary(
    itinerary_id: int, *, by: Principal, now: dt.datetime | None = None
) -> ItineraryOut:
    """The itinerary with each visit's status (its school and the network office)."""
    row = await _itinerary_row(itinerary_id, by)
    return await _itinerary_out(row, by)


async def _itinerary_out(row: Itinerary, by: Principal) -> ItineraryOut:
    visits = await _visits(row.id)
    school = (
        await Organisation.select(Organisation.slug, Organisation.name)
        .where(Organisation.id == row.school)
        .first()
    )
    legs, lunch = _day_plan(row, visits)
    bookings: list[BookingOut] = [await get_booking(v.booking["id"], by=by) for v in visits]
    return ItineraryOut(
        id=row.id,
        school=school["slug"],
        school_name=school["name"],
        date=row.day,
        class_label=row.class_label,
        grade=row.grade,
        pupils=row.pupils,
        adults=row.adults,
        status=_status(visits),
        travel_mode=row.travel_mode,
        arrive_at=row.arrive_at,
        leave_by=row.leave_by,
        lunch_minutes=row.lunch_minutes,
        visits=[_visit_status(v) for v in visits],
        legs=legs,
        lunch=lunch,
        bookings=bookings,
        ics_url=f"{get_settings().base_url}/itineraries/{row.id}.ics",
        created_at=local(row.created_at),
    )


def _visit_status(v: _Visit) -> VisitStatusOut:
    i = v.info
    return VisitStatusOut(
        position=v.position,
        booking_id=v.booking["id"],
        slot_id=i.slot_id,
        status=v.booking["status"],
        reason=v.booking["reason"],
        host=i.host,
        host_name=i.host_name,
        event_id=i.event_id,
        event_title=i.title,
        starts_at=local(i.starts_at),
        ends_at=local(i.ends_at),
        venue=i.venue,
        contact_name=i.contact_name,
        contact_phone=i.contact_phone,
        contact_email=i.contact_email,
    )


async def list_itineraries(
    *, by: Principal, limit: int = 200, offset: int = 0
) -> list[ItineraryOut]:
    """A school's itineraries (the network office: all), newest day first."""
    if not by.is_member:
        raise Unauthorised("sign in to see itineraries")
    query = (
        Itinerary.objects()
        .order_by(Itinerary.day, ascending=False)
        .order_by(Itinerary.id, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    if by.role == "school" and by.org_id is not None:
        query = query.where(Itinerary.school == by.org_id)
    elif not by.is_admin:
        raise Forbidden("itineraries belong to schools")
    return [await _itinerary_out(row, by) for row in await query]


async def itinerary_calendar(itinerary_id: int, *, by: Principal) -> bytes:
    """The itinerary as one iCalendar file: every visit, every leg, lunch."""
    row = await _itinerary_row(itinerary_id, by)
    out = await _itinerary_out(row, by)
    visits = await _visits(row.id)
    # As in the feeds: both numbers only grow, so their sum grows on any change.
    sequences = {v.booking["id"]: v.booking["sequence"] + v.info.sequence for v in visits}
    stamp = max([row.created_at, *(v.booking["updated_at"] for v in visits)])
    settings = get_settings()
    return ical.itinerary_calendar(
        out,
        host=urlsplit(settings.base_url).hostname or "outreach.invalid",
        stamp=stamp,
        sequences=sequences,
    )


# ---------------------------------------------------------------------------
# When a visit falls away


async def replacement_options(
    itinerary_id: int,
    booking_id: int | None,
    *,
    by: Principal,
    now: dt.datetime | None = None,
    limit: int = 5,
) -> PlanOut:
    """Days that keep the itinerary's other visits and replace this one (see below)."""
    return (
        await replacement_options_explained(itinerary_id, booking_id, by=by, now=now, limit=limit)
    ).plan


async def replacement_options_explained(
    itinerary_id: int,
    booking_id: int | None,
    *,
    by: Principal,
    now: dt.datetime | None = None,
    limit: int = 5,
) -> ExplainedPlan:
    """Days that keep the itinerary's other visits and replace this one.

    The other visits still on are fixed (in every proposal, at their times); the new
    visit is at another firm, fits the travel and the school day the teacher planned
    with, and is ranked as the original plan was (wanted firms, topics, idle time).
    """
    now = now or utcnow()
    row = await _itinerary_row(itinerary_id, by)
    if booking_id is None:
        raise Invalid("booking is required: the visit to replace", field="booking")
    visits = await _visits(row.id)
    target = next((v for v in visits if v.booking["id"] == booking_id), None)
    if target is None:
        raise NotFound(
            f"booking {booking_id} is not part of itinerary {itinerary_id}", field="booking"
        )
    fixed = [v for v in visits if v.active and v is not target]
    q = _booked_query(
        row,
        min_visits=len(fixed) + 1,
        max_visits=len(fixed) + 1,
        limit=limit,
        class_label=row.class_label,
        school_id=row.school,
    )
    return await _plan(
        q,
        now,
        required=[v.info for v in fixed],
        # The class's own visits of this itinerary are in the chain, not in its way.
        skip_busy={v.booking["id"] for v in visits},
        exclude_slots={target.info.slot_id},
    )


@dataclass(frozen=True)
class ItineraryNotice:
    """What a mail about one booking should add when the booking is part of a day."""

    itinerary_id: int
    day: dt.date
    class_label: str
    other_visits: list[VisitStatusOut]
    itinerary_url: str
    replacements_url: str
    ics_url: str


async def itinerary_for_booking(booking_id: int) -> ItineraryNotice | None:
    """For the notifications: the itinerary a booking belongs to, or None.

    System-side (no principal): the mail goes to the booking's own contact.
    """
    link = (
        await ItineraryVisit.select(ItineraryVisit.itinerary)
        .where(ItineraryVisit.booking == booking_id)
        .first()
    )
    if link is None:
        return None
    row = await Itinerary.objects().where(Itinerary.id == link["itinerary"]).first()
    visits = await _visits(row.id)
    base = get_settings().base_url
    return ItineraryNotice(
        itinerary_id=row.id,
        day=row.day,
        class_label=row.class_label,
        other_visits=[_visit_status(v) for v in visits if v.booking["id"] != booking_id],
        itinerary_url=itinerary_page_url(row.id),
        replacements_url=f"{itinerary_page_url(row.id)}?replace={booking_id}#replacements",
        ics_url=f"{base}/itineraries/{row.id}.ics",
    )


def itinerary_page_url(itinerary_id: int) -> str:
    """The teacher's page of the day (status, cancel, replacements, print, .ics)."""
    return f"{get_settings().base_url}/school/itineraries/{itinerary_id}"


async def book_replacement(
    itinerary_id: int,
    booking_id: int,
    slot_id: int,
    *,
    by: Principal,
    key: str | None = None,
    now: dt.datetime | None = None,
) -> Booked:
    """Book `slot_id` in place of the fallen-away visit `booking_id`, into the same day.

    Only a slot that `replacement_options` proposes is taken: it keeps the other visits,
    the travel between them and the school day. The booking goes through the engine
    (no waiting list: the class needs the places) and joins the itinerary in the same
    transaction.
    """
    now = now or utcnow()
    _require_teacher(by)
    row = await _itinerary_row(itinerary_id, by)
    visits = await _visits(row.id)
    if any(v.active and v.info.slot_id == slot_id for v in visits):
        # Already in the day (a double click, a retried request): book nothing more.
        return Booked(await get_itinerary(row.id, by=by, now=now), replayed=True)
    target = next((v for v in visits if v.booking["id"] == booking_id), None)
    if target is None:
        raise NotFound(
            f"booking {booking_id} is not part of itinerary {itinerary_id}", field="booking"
        )
    if target.active:
        raise Conflict(
            "this visit is still on: cancel it before booking a replacement",
            field="booking",
            reason="wrong_status",
        )
    options = await replacement_options(itinerary_id, booking_id, by=by, now=now, limit=10)
    fixed = {v.slot_id for v in (await get_itinerary(itinerary_id, by=by)).visits}
    offered = {v.slot_id for p in options.proposals for v in p.visits if v.slot_id not in fixed}
    if slot_id not in offered:
        raise Conflict(
            "this slot no longer fits the day: pick one of the replacements shown",
            field="slot",
            reason="unavailable",
        )
    contact = (
        await Booking.select(Booking.contact_name, Booking.contact_email, Booking.language)
        .where(Booking.id == booking_id)
        .first()
    )
    request = BookingRequest(
        class_label=row.class_label,
        grade=row.grade,
        pupils=row.pupils,
        adults=row.adults,
        contact_name=contact["contact_name"] or None,
        contact_email=contact["contact_email"] or None,
        language=contact["language"] or None,
    )
    async with write_transaction():
        placement = await place_many([slot_id], request, by=by, key=key, now=now)
        new_id = placement.bookings[0].id
        linked = await ItineraryVisit.exists().where(ItineraryVisit.booking == new_id)
        if not linked:
            last = (
                await ItineraryVisit.select(ItineraryVisit.position)
                .where(ItineraryVisit.itinerary == row.id)
                .order_by(ItineraryVisit.position, ascending=False)
                .first()
            )
            await ItineraryVisit.insert(
                ItineraryVisit(
                    itinerary=row.id, booking=new_id, position=(last["position"] if last else 0) + 1
                )
            )
    return Booked(await get_itinerary(row.id, by=by, now=now), replayed=placement.replayed)


async def cancel_visit(
    itinerary_id: int,
    booking_id: int,
    reason: str,
    *,
    by: Principal,
    now: dt.datetime | None = None,
) -> ItineraryOut:
    """Cancel one visit of the day; the others stay booked and a replacement can be sought."""
    row = await _itinerary_row(itinerary_id, by)
    linked = await ItineraryVisit.exists().where(
        (ItineraryVisit.itinerary == row.id) & (ItineraryVisit.booking == booking_id)
    )
    if not linked:
        raise NotFound(
            f"booking {booking_id} is not part of itinerary {itinerary_id}", field="booking"
        )
    await cancel_booking(booking_id, reason, by=by, now=now)
    return await get_itinerary(row.id, by=by, now=now)


async def cancel_itinerary(
    itinerary_id: int, reason: str, *, by: Principal, now: dt.datetime | None = None
) -> ItineraryOut:
    """Cancel every visit of the day still on, in one transaction; each host is told."""
    now = now or utcnow()
    _require_teacher(by)
    row = await _itinerary_row(itinerary_id, by)
    visits = [v for v in await _visits(row.id) if v.active]
    if not visits:
        raise Conflict(
            "every visit of this day is already cancelled", field="itinerary", reason="wrong_status"
        )
    async with write_transaction():
        cancelled = 0
        for v in visits:
            try:
                await cancel_booking(v.booking["id"], reason, by=by, now=now)
                cancelled += 1
            except Conflict as exc:
                # A host declined or cancelled this visit since it was read, or it has
                # begun: the booking row is locked and checked before any write, so
                # skipping it leaves the rest of the day to cancel.
                if exc.reason not in ("wrong_status", "started"):
                    raise
        if not cancelled:
            raise Conflict(
                "no visit of this day can be cancelled any more",
                field="itinerary",
                reason="wrong_status",
            )
    return await get_itinerary(row.id, by=by, now=now)


# ---------------------------------------------------------------------------
# Legs for the private feeds


@dataclass(frozen=True)
class FeedLeg:
    """The way to one visit of a day from the visit before it, for the teacher's feed.

    Keyed by the visit it leads to. `active` is False when that visit, or every visit
    before it, fell away: the leg then stays in the feed as cancelled for a while.
    """

    booking_id: int  # the visit the leg leads to
    slot_id: int
    itinerary_id: int
    school_id: int
    booked_by: int | None
    class_label: str
    origin: str  # host names
    destination: str
    destination_address: str
    mode: str
    minutes: int
    km: float
    departs_at: dt.datetime
    arrives_at: dt.datetime
    active: bool
    sequence: int  # grows with any change of the day's visits
    stamp: dt.datetime  # the newest change among them
    event_id: int
    host_id: int
    event_status: str


async def feed_legs(booking_ids: Iterable[int]) -> tuple[list[FeedLeg], set[int]]:
    """The legs of the itineraries these bookings belong to, and every booking of them.

    The second value lets the feed publisher re-render the whole day when one visit of
    it changes (a cancelled visit joins its neighbours with a new leg).
    """
    ids = sorted(set(booking_ids))
    if not ids:
        return [], set()
    links = await ItineraryVisit.select(ItineraryVisit.itinerary).where(
        ItineraryVisit.booking.is_in(ids)
    )
    itinerary_ids = sorted({r["itinerary"] for r in links})
    if not itinerary_ids:
        return [], set()
    legs: list[FeedLeg] = []
    members: set[int] = set()
    for row in await Itinerary.objects().where(Itinerary.id.is_in(itinerary_ids)):
        visits = await _visits(row.id)
        members |= {v.booking["id"] for v in visits}
        legs.extend(await _legs_of(row, visits))
    return legs, members


async def _legs_of(row: Itinerary, visits: list[_Visit]) -> list[FeedLeg]:
    if len(visits) < 2:
        return []
    rules = travel_rules(
        row.travel_mode,
        row.day,
        dt.time.fromisoformat(row.arrive_at),
        dt.time.fromisoformat(row.leave_by),
    )
    active_legs = {leg.to: leg for leg in _day_plan(row, visits)[0]}
    # Each counter only grows and a replacement adds a visit: the sum grows on any change.
    sequence = len(visits) + sum(v.booking["sequence"] + v.info.sequence for v in visits)
    stamp = max([row.created_at, *(v.booking["updated_at"] for v in visits)])
    booked_by = (
        await Booking.select(Booking.booked_by).where(Booking.id == visits[0].booking["id"]).first()
    )["booked_by"]
    # The legs only need times and travel, not the teacher's wishes.
    q = replace(
        _booked_query(row, min_visits=1, max_visits=len(visits), limit=1),
        firms=frozenset(),
        topics=frozenset(),
    )
    out = []
    # Every visit after the first (in the day as booked) has a leg leading to it.
    for before, visit in itertools.pairwise(visits):
        dest = visit.info
        leg = active_legs.get(dest.host) if visit.active else None
        if leg is not None:
            origin = next(v.info for v in visits if v.active and v.info.host == leg.from_)
            minutes, km = leg.minutes, leg.km
            departs = leg.departs_at or origin.ends_at
            arrives = leg.arrives_at or departs + dt.timedelta(minutes=minutes)
        else:
            origin = before.info
            if None in (origin.lat, origin.lon, dest.lat, dest.lon):
                continue
            drawn = planner.make_leg(_candidate(origin, q), _candidate(dest, q), rules)
            minutes, km = drawn.minutes, round(drawn.km, 2)
            departs = origin.ends_at
            arrives = departs + dt.timedelta(minutes=minutes)
        venue = dest.venue
        address = (
            ", ".join(
                p
                for p in (venue.name, venue.street, f"{venue.postal_code} {venue.city}".strip())
                if p
            )
            if venue
            else ""
        )
        out.append(
            FeedLeg(
                booking_id=visit.booking["id"],
                slot_id=dest.slot_id,
                itinerary_id=row.id,
                school_id=row.school,
                booked_by=booked_by,
                class_label=row.class_label,
                origin=origin.host_name,
                destination=dest.host_name,
                destination_address=address,
                mode=row.travel_mode,
                minutes=minutes,
                km=km,
                departs_at=departs,
                arrives_at=arrives,
                active=leg is not None,
                sequence=sequence,
                stamp=stamp,
                event_id=dest.event_id,
                host_id=dest.host_id,
                event_status=dest.status,
            )
        )
    return out
