"""The reports of a school year: reach, fill rate, no-shows, seminars, year on year.

Every report is a `ReportOut` table computed from `facts`: the admin's rows cover the
network; a firm's or school's rows only its own bookings and slots, plus one row of
network totals (sums over everyone, never broken down by another member). The tables
that sum bookings or slots by a key take the database's sums (`booking_groups`,
`host_fill`: a few rows per report); the lists of slots and seminars take the rows.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from outreach.errors import Invalid, Unauthorised
from outreach.principal import Principal
from outreach.timeutil import local, utcnow
from outreach.workplan.facts import (
    BookingFact,
    BookingGroup,
    FillGroup,
    SlotFact,
    booking_facts,
    booking_groups,
    host_fill,
    in_booking_scope,
    month_labels,
    previous_year,
    school_year_bounds,
    slot_facts,
)
from outreach.workplan.internship_facts import (
    InternshipFacts,
    in_internship_scope,
    internship_facts,
)
from outreach.workplan.schemas import Cell, ReportOut

__all__ = [
    "NETWORK_TOTAL",
    "PERCENT",
    "REPORTS",
    "TIME_COLUMN",
    "TOTAL",
    "Figures",
    "ReportName",
    "get_report",
    "get_reports",
    "group_figures",
    "metric_value",
]

NETWORK_TOTAL = "Network total"
TOTAL = "Total"
# How cells are written (the pages format them for the reader's language): a column named
# "Time" holds instants as RFC 3339 text; a column or row whose label ends in PERCENT holds
# percentages (0-100); the first column of "by-month" holds months as YYYY-MM.
TIME_COLUMN = "Time"
PERCENT = "(percent)"


@dataclass(frozen=True, slots=True)
class Figures:
    """The measurable targets of the work plan, actual and (apart) expected."""

    class_visits: int = 0
    pupils: int = 0
    schools: int = 0
    seminar_participants: int = 0
    open_day_visitors: int = 0
    parents_evening_attendance: int = 0
    expected_class_visits: int = 0
    expected_pupils: int = 0
    expected_schools: int = 0
    expected_seminar_participants: int = 0
    expected_open_day_visitors: int = 0
    expected_parents_evening_attendance: int = 0


_KIND_METRIC = {
    "teacher_training": "seminar_participants",
    "open_day": "open_day_visitors",
    "parents_evening": "parents_evening_attendance",
}


def group_figures(groups: Iterable[BookingGroup]) -> Figures:
    """The figures of counted bookings, from the database's sums by kind of booking,
    kind of event and school (the "figures" grouping of `booking_groups` and
    `milestone_groups`). Actual: classes anyone came to, the pupils who came, the
    schools of those classes, and for seminars, open days and parents' evenings the
    persons who came; expected (bookings without attendance, apart): classes, booked
    pupils, schools not already reached, booked persons."""
    actual: dict[str, int] = defaultdict(int)
    expected: dict[str, int] = defaultdict(int)
    schools: set[str] = set()
    schools_expected: set[str] = set()
    for g in groups:
        _, event_kind, school = str(g.key).split("|")
        actual["class_visits"] += g.classes_held
        actual["pupils"] += g.pupils_reached
        expected["class_visits"] += g.expected_classes
        expected["pupils"] += g.expected_pupils
        if school:
            if g.classes_held:
                schools.add(school)
            if g.expected_classes:
                schools_expected.add(school)
        metric = _KIND_METRIC.get(event_kind)
        if metric:
            actual[metric] += g.attended
            expected[metric] += g.expected_persons
    return Figures(
        schools=len(schools),
        expected_schools=len(schools_expected - schools),
        **actual,
        **{f"expected_{k}": v for k, v in expected.items()},
    )


def metric_value(fig: Figures, metric: str) -> tuple[int, int]:
    return getattr(fig, metric), getattr(fig, f"expected_{metric}")


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


# --------------------------------------------------------------------------- reach


_REACH_COLUMNS = ["Classes", "Pupils", "Persons attended", "Bookings without attendance"]


def _reach_cells(groups: Iterable[BookingGroup]) -> list[Cell]:
    cells = [0, 0, 0, 0]
    for g in groups:
        cells[0] += g.classes_held
        cells[1] += g.pupils_reached
        cells[2] += g.attended
        cells[3] += g.bookings - g.recorded
    return list(cells)


def _sort_key(value: str) -> tuple[int, str]:
    return (0, f"{int(value):04d}") if value.isdigit() else (1, value.lower())


# --------------------------------------------------------------------------- builders


@dataclass
class _Context:
    """One request's reports: the facts of a year are fetched once and shared."""

    year: str
    by: Principal
    now: datetime
    _groups: dict[tuple[str, str], list[BookingGroup]] = field(default_factory=dict)
    _seminars: list[BookingFact] | None = None
    _slots: list[SlotFact] | None = None
    _internships: InternshipFacts | None = None
    _fill: list[FillGroup] | None = None

    async def groups(self, grouping: str, year: str | None = None) -> list[BookingGroup]:
        """The database's sums of the year's counted bookings by `grouping` and scope."""
        key = (year or self.year, grouping)
        if key not in self._groups:
            self._groups[key] = await booking_groups(key[0], grouping, by=self.by, now=self.now)
        return self._groups[key]

    async def both_years(self, grouping: str) -> tuple[list[BookingGroup], list[BookingGroup]]:
        """The previous and this year's sums, from one statement."""
        before = previous_year(self.year)
        if (self.year, grouping) not in self._groups:
            both = await booking_groups(
                self.year, grouping, by=self.by, now=self.now, with_previous=True
            )
            for year in (before, self.year):
                self._groups[(year, grouping)] = [
                    dataclasses.replace(g, key=str(g.key).split("|", 1)[1])
                    for g in both
                    if str(g.key).startswith(f"{year}|")
                ]
        return self._groups[(before, grouping)], self._groups[(self.year, grouping)]

    async def seminars(self) -> list[BookingFact]:
        if self._seminars is None:
            self._seminars = await booking_facts(
                self.year, now=self.now, event_kind="teacher_training"
            )
        return self._seminars

    async def fill(self) -> list[FillGroup]:
        if self._fill is None:
            self._fill = await host_fill(self.year, by=self.by)
        return self._fill

    async def internships(self) -> InternshipFacts:
        if self._internships is None:
            self._internships = await internship_facts(self.year)
        return self._internships

    async def slots(self) -> list[SlotFact]:
        """The slots in the reader's scope (`in_slot_scope`), one by one."""
        if self._slots is None:
            if self.by.is_admin:
                self._slots = await slot_facts(self.year)
            elif self.by.org_id is None:
                self._slots = []
            else:
                self._slots = await slot_facts(self.year, host_id=self.by.org_id)
        return self._slots


async def _reach_report(
    ctx: _Context,
    name: str,
    title: str,
    grouping: str,
    heading: str,
    label: Callable[[Any], str] = str,
) -> ReportOut:
    counted = [g for g in await ctx.groups(grouping) if g.key is not None]
    mine: dict[str, list[BookingGroup]] = defaultdict(list)
    for g in counted:
        if g.mine:
            mine[label(g.key)].append(g)
    total_label = TOTAL if ctx.by.is_admin else NETWORK_TOTAL
    return ReportOut(
        name=name,
        school_year=ctx.year,
        title=title,
        columns=[heading, *_REACH_COLUMNS],
        rows=[[k, *_reach_cells(mine[k])] for k in sorted(mine, key=_sort_key)],
        total=[total_label, *_reach_cells(counted)],
    )


async def _by_school(ctx: _Context) -> ReportOut:
    return await _reach_report(ctx, "by-school", "Reach by school", "school", "School")


async def _by_host(ctx: _Context) -> ReportOut:
    return await _reach_report(ctx, "by-host", "Reach by firm", "host", "Host")


async def _by_grade(ctx: _Context) -> ReportOut:
    return await _reach_report(ctx, "by-grade", "Reach by grade", "grade", "Grade")


async def _by_kind(ctx: _Context) -> ReportOut:
    return await _reach_report(ctx, "by-kind", "Reach by kind of event", "event_kind", "Kind")


async def _by_month(ctx: _Context) -> ReportOut:
    report = await _reach_report(ctx, "by-month", "Reach by month", "month", "Month")
    # Every month of the year, also those without visits, in calendar order.
    found = {row[0]: row for row in report.rows}
    report.rows = [found.get(m, [m, 0, 0, 0, 0]) for m in month_labels(ctx.year)]
    return report


def _fill_cells(slots: list[SlotFact]) -> list[Cell]:
    capacity = sum(s.capacity for s in slots)
    booked = sum(s.booked for s in slots)
    return [len(slots), capacity, booked, _pct(booked, capacity), sum(s.attended for s in slots)]


async def _fill_by_slot(ctx: _Context) -> ReportOut:
    mine = await ctx.slots()
    times: dict[datetime, str] = {}  # each instant written out once (slots share times)
    rows: list[list[Cell]] = []
    for s in mine:
        at = times.get(s.starts_at)
        if at is None:
            at = times[s.starts_at] = local(s.starts_at).isoformat()
        rows.append(
            [
                at,
                s.event_title,
                s.host_name,
                s.capacity,
                s.booked,
                _pct(s.booked, s.capacity),
                s.attended if s.recorded else None,
            ]
        )
    # The network's totals: the office has every slot at hand, a member the sums.
    cells = _fill_cells(mine) if ctx.by.is_admin else _host_fill_cells(await ctx.fill())
    return ReportOut(
        name="fill-by-slot",
        school_year=ctx.year,
        title="Fill rate by slot",
        columns=[
            TIME_COLUMN,
            "Event",
            "Host",
            "Places",
            "Booked",
            "Fill rate (percent)",
            "Attended",
        ],
        rows=rows,
        total=[TOTAL if ctx.by.is_admin else NETWORK_TOTAL, None, None, *cells[1:]],
    )


def _host_fill_cells(groups: Iterable[FillGroup]) -> list[Cell]:
    slots = capacity = booked = attended = 0
    for g in groups:
        slots += g.slots
        capacity += g.capacity
        booked += g.booked
        attended += g.attended
    return [slots, capacity, booked, _pct(booked, capacity), attended]


async def _fill_by_host(ctx: _Context) -> ReportOut:
    every = await ctx.fill()
    groups: dict[str, list[FillGroup]] = defaultdict(list)
    for g in every:
        if g.mine:
            groups[g.host_name].append(g)
    return ReportOut(
        name="fill-by-host",
        school_year=ctx.year,
        title="Fill rate by firm",
        columns=["Host", "Slots", "Places", "Booked", "Fill rate (percent)", "Attended"],
        rows=[[h, *_host_fill_cells(groups[h])] for h in sorted(groups, key=str.lower)],
        total=[TOTAL if ctx.by.is_admin else NETWORK_TOTAL, *_host_fill_cells(every)],
    )


def _no_show_cells(groups: Iterable[BookingGroup]) -> list[Cell]:
    recorded = no_shows = 0
    for g in groups:
        recorded += g.recorded
        no_shows += g.no_shows
    return [recorded, no_shows, _pct(no_shows, recorded)]


async def _no_shows(ctx: _Context) -> ReportOut:
    every = await ctx.groups("host")
    groups: dict[str, list[BookingGroup]] = defaultdict(list)
    for g in every:
        if g.mine:
            groups[g.key].append(g)
    return ReportOut(
        name="no-shows",
        school_year=ctx.year,
        title="No-shows",
        columns=["Host", "Bookings with attendance", "No-shows", "No-show rate (percent)"],
        rows=[[h, *_no_show_cells(groups[h])] for h in sorted(groups, key=str.lower)],
        total=[TOTAL if ctx.by.is_admin else NETWORK_TOTAL, *_no_show_cells(every)],
    )


def _seminar_cells(facts: list[BookingFact]) -> list[Cell]:
    schools = {f.school_id for f in facts if f.school_id is not None and (f.attended or 0) > 0}
    return [
        sum(f.persons for f in facts),
        sum(f.attended or 0 for f in facts),
        len(schools),
    ]


async def _seminars(ctx: _Context) -> ReportOut:
    every = await ctx.seminars()
    groups: dict[tuple[datetime, str, str], list[BookingFact]] = defaultdict(list)
    for f in every:
        if in_booking_scope(f, ctx.by):
            groups[(f.starts_at, f.event_title, f.host_name)].append(f)
    rows: list[list[Cell]] = [
        [local(k[0]).isoformat(), k[1], k[2], *_seminar_cells(groups[k])] for k in sorted(groups)
    ]
    return ReportOut(
        name="seminars",
        school_year=ctx.year,
        title="Teacher-seminar participation",
        columns=[TIME_COLUMN, "Seminar", "Host", "Registered", "Participants", "Schools"],
        rows=rows,
        total=[TOTAL if ctx.by.is_admin else NETWORK_TOTAL, None, None, *_seminar_cells(every)],
    )


_COMPARED = (
    ("Classes", "class_visits"),
    ("Pupils", "pupils"),
    ("Schools", "schools"),
    ("Teacher-seminar participants", "seminar_participants"),
    ("Open-day visitors", "open_day_visitors"),
    ("Parents' evening attendance", "parents_evening_attendance"),
)


async def _comparison(ctx: _Context) -> ReportOut:
    before = previous_year(ctx.year)
    prev_all, this_all = await ctx.both_years("figures")
    mine_this = [g for g in this_all if g.mine]
    mine_prev = [g for g in prev_all if g.mine]
    this_fig, prev_fig = group_figures(mine_this), group_figures(mine_prev)
    rows: list[list[Cell]] = []
    for label, metric in _COMPARED:
        old, new = getattr(prev_fig, metric), getattr(this_fig, metric)
        rows.append([label, old, new, _pct(new - old, old)])
    old_rate, new_rate = _no_show_cells(mine_prev)[2], _no_show_cells(mine_this)[2]
    rows.append(["No-show rate (percent)", old_rate, new_rate, None])
    return ReportOut(
        name="comparison",
        school_year=ctx.year,
        title="Comparison with the previous school year",
        columns=["Figure", before, ctx.year, "Change (percent)"],
        rows=rows,
    )


# --------------------------------------------------------------------------- internships

_INTERNSHIP_COLUMNS = [
    "Offers",
    "Places offered",
    "Wishes",
    "Placements",
    "First wish (percent)",
    "Days attended",
    "Working days",
    "Attendance (percent)",
    "Apprenticeship offers",
]


def _internship_cells(facts: InternshipFacts, with_offers: bool) -> list[Cell]:
    placed = facts.placements
    recorded = [p for p in placed if p.days_attended is not None]
    attended = sum(p.days_attended or 0 for p in recorded)
    working = sum(p.working_days for p in recorded)
    return [
        len(facts.offers) if with_offers else None,
        sum(o.places for o in facts.offers) if with_offers else None,
        len(facts.wishes),
        len(placed),
        _pct(sum(p.first_wish for p in placed), len(placed)),
        attended,
        working,
        _pct(attended, working),
        sum(p.apprenticeship_offered for p in placed),
    ]


async def _internships_by(ctx: _Context, side: str) -> ReportOut:
    """Per firm (`host`) or per school: the viewer's own rows, and the network's total."""
    every = await ctx.internships()
    groups: dict[str, InternshipFacts] = defaultdict(lambda: InternshipFacts([], [], []))
    by_host = side == "host"
    mine = [
        (kind, f)
        for kind in ("offers", "wishes", "placements")
        for f in getattr(every, kind)
        if in_internship_scope(f, ctx.by)
    ]
    for kind, fact in mine:
        name = fact.host_name if by_host else getattr(fact, "school_name", None)
        if name is not None:  # an offer has no school
            getattr(groups[name], kind).append(fact)
    return ReportOut(
        name=f"internships-by-{side}",
        school_year=ctx.year,
        title="Internships by firm" if by_host else "Internships by school",
        columns=["Host" if by_host else "School", *_INTERNSHIP_COLUMNS],
        rows=[[k, *_internship_cells(groups[k], by_host)] for k in sorted(groups, key=str.lower)],
        total=[TOTAL if ctx.by.is_admin else NETWORK_TOTAL, *_internship_cells(every, True)],
    )


async def _internships_by_host(ctx: _Context) -> ReportOut:
    return await _internships_by(ctx, "host")


async def _internships_by_school(ctx: _Context) -> ReportOut:
    return await _internships_by(ctx, "school")


# The names of the reports, as the API's path states them (an enum in the document).
ReportName = Literal[
    "by-school",
    "by-host",
    "by-grade",
    "by-kind",
    "by-month",
    "fill-by-slot",
    "fill-by-host",
    "no-shows",
    "seminars",
    "comparison",
    "internships-by-host",
    "internships-by-school",
]

REPORTS: dict[str, Callable[[_Context], Awaitable[ReportOut]]] = {
    "by-school": _by_school,
    "by-host": _by_host,
    "by-grade": _by_grade,
    "by-kind": _by_kind,
    "by-month": _by_month,
    "fill-by-slot": _fill_by_slot,
    "fill-by-host": _fill_by_host,
    "no-shows": _no_shows,
    "seminars": _seminars,
    "comparison": _comparison,
    "internships-by-host": _internships_by_host,
    "internships-by-school": _internships_by_school,
}
assert set(REPORTS) == set(get_args(ReportName)), "every report is named in ReportName"


async def get_report(
    name: str, year: str, *, by: Principal, now: datetime | None = None
) -> ReportOut:
    """One report for `by`: the office sees the network, a member its own rows and totals."""
    if not by.is_member:
        raise Unauthorised("sign in to see reports")
    if name not in REPORTS:
        raise Invalid(f"no report {name!r}; one of {', '.join(REPORTS)}", field="name")
    school_year_bounds(year)
    return await REPORTS[name](_Context(year, by, now or utcnow()))


async def get_reports(
    names: list[str], year: str, *, by: Principal, now: datetime | None = None
) -> dict[str, ReportOut]:
    """Several reports of one year from one fetch of its facts (the Bilanz page)."""
    if not by.is_member:
        raise Unauthorised("sign in to see reports")
    unknown = [n for n in names if n not in REPORTS]
    if unknown:
        raise Invalid(f"no report {unknown[0]!r}", field="name")
    school_year_bounds(year)
    ctx = _Context(year, by, now or utcnow())
    return {name: await REPORTS[name](ctx) for name in names}
