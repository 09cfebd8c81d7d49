"""Planning a class day: the search (`planner.py`, pure) run over the slots that can
take the class, the proposals it found, the notes explaining them or why nothing fits,
the suggestions of another date or a smaller group, and the replacements offered when
one visit falls away.

The planner is advice; booking goes through the engine (`itineraries.writes`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from outreach.calendar.holidays import PUBLIC_HOLIDAY, closure_on
from outreach.errors import Invalid, NotFound
from outreach.itineraries import planner
from outreach.itineraries.availability import (
    _booked_query,
    _candidate,
    _check_firms,
    _class_busy,
    _Day,
    _firm_names,
    _load_infos,
    _Query,
    _query,
    _require_teacher,
    _rules,
    _SlotInfo,
    _sort_day,
)
from outreach.itineraries.explain import Note, render
from outreach.itineraries.planner import Plan
from outreach.itineraries.schemas import (
    PlanOut,
    PlanRequest,
    ProposalOut,
    Suggestion,
    VisitOut,
)
from outreach.itineraries.views import _itinerary_row, _leg_out, _lunch_out, _visits
from outreach.principal import Principal
from outreach.timeutil import local, utcnow

__all__ = [
    "ExplainedPlan",
    "plan_day",
    "plan_day_explained",
    "replacement_options",
    "replacement_options_explained",
]


# Days looked at for "another date would work" when nothing fits.
PROBE_DAYS_AFTER = 14

PROBE_DAYS_BEFORE = 7

MAX_GROUP_TRIES = 8

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
