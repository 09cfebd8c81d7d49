"""The rows every figure is computed from: one school year's bookings and slots.

The reports' tables and the work plan's progress are aggregated by the database
(`booking_groups`, `host_fill`, `milestone_groups`: one GROUP BY each, in SQL both
databases run alike); the rows themselves (`booking_facts`, `slot_facts`) are fetched
where a report lists them one by one. What counts:
- a booking counts once it is `confirmed` and its slot has begun;
- with attendance recorded it is *actual*: persons = `attended`; a class visit is held
  when anyone came, and its pupils are the persons who came minus the accompanying
  adults (adults are taken to come as booked);
- without attendance it is *expected*: shown apart, never mixed into the actual figure.
Months and school years are taken in Europe/Berlin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from outreach.booking.tables import Booking
from outreach.db import is_postgres, numbered, pg_fetch
from outreach.errors import Invalid
from outreach.events.tables import Slot
from outreach.principal import Principal
from outreach.timeutil import LOCAL_TZ, as_utc, local

__all__ = [
    "BookingFact",
    "BookingGroup",
    "FillGroup",
    "MilestoneScope",
    "SlotFact",
    "booking_facts",
    "booking_groups",
    "host_fill",
    "in_booking_scope",
    "in_slot_scope",
    "milestone_groups",
    "month_labels",
    "previous_year",
    "school_year_bounds",
    "school_year_of",
    "slot_facts",
]


def school_year_bounds(label: str) -> tuple[datetime, datetime]:
    """[1 August, next 1 August) of a school year such as "2026/27", as UTC instants."""
    try:
        first, second = label.split("/")
        start_year = int(first)
        valid = len(first) == 4 and len(second) == 2 and int(second) == (start_year + 1) % 100
    except ValueError:
        valid = False
    if not valid or not 2000 <= start_year <= 2100:
        raise Invalid("year must be a school year like 2026/27", field="year")
    start = datetime.combine(date(start_year, 8, 1), time(0), tzinfo=LOCAL_TZ)
    end = datetime.combine(date(start_year + 1, 8, 1), time(0), tzinfo=LOCAL_TZ)
    return as_utc(start), as_utc(end)


def school_year_of(moment: datetime | date) -> str:
    day = local(moment).date() if isinstance(moment, datetime) else moment
    first = day.year if day.month >= 8 else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def previous_year(label: str) -> str:
    school_year_bounds(label)
    first = int(label[:4]) - 1
    return f"{first}/{(first + 1) % 100:02d}"


def month_labels(label: str) -> list[str]:
    """ "2026-08" ... "2027-07": the months of a school year."""
    first = int(label[:4])
    return [f"{first + (m < 8)}-{m:02d}" for m in (*range(8, 13), *range(1, 8))]


@dataclass(frozen=True, slots=True)
class BookingFact:
    id: int
    kind: str  # class_visit | registration
    event_id: int
    event_kind: str
    event_title: str
    host_id: int
    host_name: str
    school_id: int | None
    school_name: str
    grade: int | None
    persons: int
    pupils: int
    adults: int
    attended: int | None
    starts_at: datetime
    month: str  # "2026-09", Europe/Berlin


class SlotFact(NamedTuple):
    """One bookable slot and its fill (a plain tuple: the office's list has a row per
    slot of the year)."""

    id: int
    event_id: int
    event_kind: str
    event_title: str
    host_id: int
    host_name: str
    starts_at: datetime
    capacity: int
    booked: int  # persons of confirmed bookings
    attended: int  # persons recorded as come
    recorded: int  # confirmed bookings with attendance recorded
    confirmed: int  # confirmed bookings


async def booking_facts(
    year: str, *, now: datetime, event_kind: str | None = None
) -> list[BookingFact]:
    """Confirmed bookings whose slot lies in `year` and has begun by `now` (only of
    events of `event_kind` if given)."""
    start, end = school_year_bounds(year)
    until = min(end, as_utc(now))
    b = Booking
    query = b.select(
        b.id,
        b.kind,
        b.persons,
        b.pupils,
        b.adults,
        b.grade,
        b.attended,
        b.school.as_alias("school_id"),
        b.school.name.as_alias("school_name"),
        b.event.as_alias("event_id"),
        b.event.kind.as_alias("event_kind"),
        b.event.title.as_alias("event_title"),
        b.event.host.as_alias("host_id"),
        b.event.host.name.as_alias("host_name"),
        b.slot.starts_at.as_alias("starts_at"),
    ).where(
        (b.status == "confirmed")
        & (b.slot.starts_at >= start)
        & (b.slot.starts_at < end)
        & (b.slot.starts_at <= until)
        & (b.slot.cancelled == False)  # noqa: E712
        & (b.event.status != "cancelled")
    )
    if event_kind is not None:
        query = query.where(b.event.kind == event_kind)
    rows = await query
    return [_booking_fact(row) for row in rows]


def _booking_fact(row: dict[str, Any]) -> BookingFact:
    starts_at = as_utc(row["starts_at"])
    return BookingFact(
        id=row["id"],
        kind=row["kind"],
        event_id=row["event_id"],
        event_kind=row["event_kind"],
        event_title=row["event_title"],
        host_id=row["host_id"],
        host_name=row["host_name"],
        school_id=row["school_id"],
        school_name=row["school_name"] or "",
        grade=row["grade"],
        persons=row["persons"],
        pupils=row["pupils"] or 0,
        adults=row["adults"] or 0,
        attended=row["attended"],
        starts_at=starts_at,
        month=local(starts_at).strftime("%Y-%m"),
    )


# What a slot's fill counts, the one rule for `slot_facts` and `host_fill`: per booking
# `b` of the slot, each figure's term, summed over its confirmed bookings.
_FILL_TERMS = {
    "booked": "b.persons",
    "attended": "COALESCE(b.attended, 0)",
    "recorded": "CASE WHEN b.attended IS NULL THEN 0 ELSE 1 END",
    "confirmed": "1",
}


def _fill_sum(name: str) -> str:
    """The sum of one fill figure over the bookings `b` at hand (the status is tested
    inside the sum, so that no index but booking's slot index looks useful to a planner
    without statistics yet)."""
    return f"COALESCE(SUM(CASE WHEN b.status = 'confirmed' THEN {_FILL_TERMS[name]} ELSE 0 END), 0)"


def _slot_sum(name: str) -> str:
    """One fill figure of slot `s`, by a correlated subquery: one probe of booking's slot
    index per slot."""
    return f"(SELECT {_fill_sum(name)} FROM booking b WHERE b.slot = s.id)"  # noqa: S608


_BOOKABLE_SLOTS = (
    "FROM slot s JOIN event e ON e.id = s.event LEFT JOIN organisation h ON h.id = e.host "
    "WHERE s.starts_at >= {} AND s.starts_at < {} AND s.cancelled = {} "
    "AND e.status = 'published' AND e.booking_mode <> 'none'"
)


async def _rows(sql: str, *args: Any) -> Sequence[Mapping[str, Any]]:
    """The rows of this module's SQL (`{}` placeholders, every value bound). On PostgreSQL
    as asyncpg's records: Piccolo's raw() copies each row into a dict, a quarter of the
    office's fill by slot (1,500 rows)."""
    if is_postgres():
        return await pg_fetch(numbered(sql), *args)
    return await Slot.raw(sql, *args)


async def slot_facts(year: str, *, host_id: int | None = None) -> list[SlotFact]:
    """Bookable slots of `year` (past and future) with their confirmed and attended
    persons; only those of `host_id`'s events if given.

    Two statements, neither with a join for a planner to get wrong before statistics
    exist (a join against the bookings grouped by slot once ran as a nested loop: 1.5 s):
    the slots, then the fill of every slot within their range of ids (booking's slot
    index; of their events only, if scoped), grouped by slot and matched here by id."""
    start, end = school_year_bounds(year)
    slots = await _rows(
        # SQL pieces of this module only; every value is bound ({} placeholders).
        "SELECT s.id AS id, s.capacity AS capacity, s.starts_at AS starts_at, "
        "e.id AS event_id, e.kind AS event_kind, e.title AS event_title, e.host AS host_id, "
        f"h.name AS host_name {_BOOKABLE_SLOTS}"
        f"{' AND e.host = {}' if host_id is not None else ''} "
        "ORDER BY s.starts_at, s.id",
        start,
        end,
        False,
        *([host_id] if host_id is not None else []),
    )
    if not slots:
        return []
    ids = [row["id"] for row in slots]
    events = sorted({row["event_id"] for row in slots}) if host_id is not None else []
    in_events = f" AND b.event IN ({', '.join('{}' for _ in events)})" if events else ""
    sums = ", ".join(f"{_fill_sum(name)} AS {name}" for name in _FILL_TERMS)
    fills = await _rows(
        # SQL pieces of this module only; every value is bound ({} placeholders).
        f"SELECT b.slot AS slot, {sums} FROM booking b "  # noqa: S608
        f"WHERE b.slot >= {{}} AND b.slot <= {{}}{in_events} GROUP BY b.slot",
        min(ids),
        max(ids),
        *events,
    )
    fill = {row["slot"]: row for row in fills}
    instants: dict[datetime, datetime] = {}
    facts: list[SlotFact] = []
    for row in slots:
        at = row["starts_at"]
        utc = instants.get(at)
        if utc is None:
            utc = instants[at] = as_utc(at)
        got = fill.get(row["id"])
        facts.append(
            SlotFact(
                row["id"],
                row["event_id"],
                row["event_kind"],
                row["event_title"],
                row["host_id"],
                row["host_name"],
                utc,
                row["capacity"],
                *(
                    (
                        int(got["booked"]),
                        int(got["attended"]),
                        int(got["recorded"]),
                        int(got["confirmed"]),
                    )
                    if got is not None
                    else (0, 0, 0, 0)
                ),
            )
        )
    return facts


# --------------------------------------------------------------------------- aggregates


@dataclass(frozen=True, slots=True)
class BookingGroup:
    """The counted bookings of one key, in or out of the reader's own scope."""

    key: Any  # the grouping value (None: the booking has none, e.g. no school)
    mine: bool  # within the reader's scope (see `in_booking_scope`)
    bookings: int
    recorded: int  # with attendance recorded
    attended: int  # persons come
    classes_held: int  # class visits anyone came to
    pupils_reached: int  # per class visit: max(came - adults, 0)
    no_shows: int  # recorded as nobody came
    expected_classes: int  # class visits without attendance
    expected_pupils: int  # their booked pupils
    expected_persons: int  # persons booked without attendance


def _figures_key(kind: str, event_kind: str, school: str) -> str:
    """The work plan's figures' key: kind of booking and of event, and the school."""
    return f"{kind} || '|' || {event_kind} || '|' || COALESCE(CAST({school} AS TEXT), '')"


# What each report groups bookings by: SQL over the joined rows (b, s, e, h, sc).
GROUPINGS = {
    "school": "CASE WHEN b.kind = 'class_visit' AND sc.name <> '' THEN sc.name END",
    "host": "h.name",
    "grade": "CASE WHEN b.kind = 'class_visit' THEN b.grade END",
    "event_kind": "e.kind",
    "month": None,  # the Berlin month: built from the school year's bounds
    # The work plan's figures: kind of booking and of event, and the school.
    "figures": _figures_key("b.kind", "e.kind", "b.school"),
}

_BOOKING_SUMS = """
    COUNT(*) AS bookings,
    COUNT(b.attended) AS recorded,
    COALESCE(SUM(COALESCE(b.attended, 0)), 0) AS attended,
    COALESCE(SUM(CASE WHEN b.kind = 'class_visit' AND b.attended > 0 THEN 1 ELSE 0 END), 0)
        AS classes_held,
    COALESCE(SUM(CASE WHEN b.kind = 'class_visit' AND b.attended - COALESCE(b.adults, 0) > 0
        THEN b.attended - COALESCE(b.adults, 0) ELSE 0 END), 0) AS pupils_reached,
    COALESCE(SUM(CASE WHEN b.attended = 0 THEN 1 ELSE 0 END), 0) AS no_shows,
    COALESCE(SUM(CASE WHEN b.kind = 'class_visit' AND b.attended IS NULL THEN 1 ELSE 0 END), 0)
        AS expected_classes,
    COALESCE(SUM(CASE WHEN b.kind = 'class_visit' AND b.attended IS NULL
        THEN COALESCE(b.pupils, 0) ELSE 0 END), 0) AS expected_pupils,
    COALESCE(SUM(CASE WHEN b.attended IS NULL THEN b.persons ELSE 0 END), 0)
        AS expected_persons
"""


def _scope_sql(by: Principal, host: str, school: str | None) -> tuple[str, list[Any]]:
    """SQL of `in_booking_scope` / `in_slot_scope`: 1 within the reader's scope, else 0."""
    if by.is_admin:
        return "1", []
    if by.org_id is None:
        return "0", []
    if by.role == "school" and school is not None:
        return f"CASE WHEN {host} = {{}} OR {school} = {{}} THEN 1 ELSE 0 END", [
            by.org_id,
            by.org_id,
        ]
    return f"CASE WHEN {host} = {{}} THEN 1 ELSE 0 END", [by.org_id]


def _month_sql(year: str) -> tuple[str, list[Any]]:
    """The Berlin month of s.starts_at, by the UTC instants the months begin."""
    labels = month_labels(year)
    cases: list[str] = []
    args: list[Any] = []
    for label in labels[:-1]:
        first, month = int(label[:4]), int(label[5:])
        following = date(first + month // 12, month % 12 + 1, 1)
        cases.append(f"WHEN s.starts_at < {{}} THEN '{label}'")
        args.append(as_utc(datetime.combine(following, time(0), tzinfo=LOCAL_TZ)))
    return f"CASE {' '.join(cases)} ELSE '{labels[-1]}' END", args


async def booking_groups(
    year: str, grouping: str, *, by: Principal, now: datetime, with_previous: bool = False
) -> list[BookingGroup]:
    """The bookings `booking_facts` counts, summed by the database per key and scope.

    `with_previous`: the previous school year's too, in the same statement; each key is
    then prefixed with its school year and "|" ("2025/26|...").
    """
    start, end = school_year_bounds(year)
    until = min(end, as_utc(now))
    key_sql = GROUPINGS[grouping]
    key_args: list[Any] = []
    if key_sql is None:
        key_sql, key_args = _month_sql(year)
    if with_previous:
        before = previous_year(year)
        key_sql = f"CASE WHEN s.starts_at < {{}} THEN '{before}|' ELSE '{year}|' END || {key_sql}"
        key_args = [start, *key_args]
        start = school_year_bounds(before)[0]
    mine_sql, mine_args = _scope_sql(by, "e.host", "b.school")
    rows = await _rows(
        # SQL pieces of this module only; every value is bound ({} placeholders).
        f"SELECT {key_sql} AS key, {mine_sql} AS mine, {_BOOKING_SUMS} "  # noqa: S608
        "FROM booking b JOIN slot s ON s.id = b.slot JOIN event e ON e.id = b.event "
        "LEFT JOIN organisation h ON h.id = e.host "
        "LEFT JOIN organisation sc ON sc.id = b.school "
        "WHERE b.status = 'confirmed' AND s.starts_at >= {} AND s.starts_at < {} "
        "AND s.starts_at <= {} AND s.cancelled = {} AND e.status <> 'cancelled' "
        "GROUP BY 1, 2",
        *key_args,
        *mine_args,
        start,
        end,
        until,
        False,
    )
    return [
        BookingGroup(
            key=row["key"],
            mine=bool(row["mine"]),
            **{name: int(row[name]) for name in _BOOKING_GROUP_SUMS},
        )
        for row in rows
    ]


_BOOKING_GROUP_SUMS = [f for f in BookingGroup.__slots__ if f not in ("key", "mine")]  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class MilestoneScope:
    """What a milestone of the work plan counts: the bookings whose slot began before
    `until` (the end of its due day), of the linked events if any are linked, else of
    the owner (a firm: its events; a school: its visits and its events), else of the
    whole network."""

    id: int
    until: datetime
    event_ids: tuple[int, ...] = ()
    owner: int | None = None


def _milestone_sql(scope: MilestoneScope, bucket: int) -> tuple[str, list[Any]]:
    """SQL of one milestone's share of the groups `per` and their event `e` (see
    `milestone_groups`)."""
    sql, args = "m.id = {} AND per.bucket <= {}", [scope.id, bucket]
    if scope.event_ids:
        sql += f" AND per.event IN ({', '.join('{}' for _ in scope.event_ids)})"
        args += list(scope.event_ids)
    elif scope.owner is not None:
        sql += " AND (e.host = {} OR per.school = {})"
        args += [scope.owner, scope.owner]
    return f"({sql})", args


async def milestone_groups(
    year: str, milestones: list[MilestoneScope], *, now: datetime
) -> dict[int, list[BookingGroup]]:
    """The bookings `booking_facts` counts, summed by the database per milestone and by
    the "figures" grouping (kind of booking and of event, and the school): one statement
    for every milestone of a plan. A booking counts towards each milestone it falls in.

    The bookings are summed once by event, school, key and "bucket" (which of the
    milestones' ends, in order, the slot began before), and those few groups are then
    summed per milestone: a milestone counts the buckets up to its own end."""
    found: dict[int, list[BookingGroup]] = {m.id: [] for m in milestones}
    if not milestones:
        return found
    start, end = school_year_bounds(year)
    until = min(end, as_utc(now))
    ends = sorted({as_utc(m.until) for m in milestones})
    bucket_sql = " ".join("WHEN s.starts_at < {} THEN " + str(i) for i in range(len(ends)))
    terms: list[str] = []
    term_args: list[Any] = []
    for scope in milestones:
        sql, args = _milestone_sql(scope, ends.index(as_utc(scope.until)))
        terms.append(sql)
        term_args += args
    sums = ", ".join(f"COALESCE(SUM(per.{n}), 0) AS {n}" for n in _BOOKING_GROUP_SUMS)
    key = _figures_key("per.kind", "e.kind", "per.school")
    rows = await _rows(
        # SQL pieces of this module only; every value is bound ({} placeholders).
        f"SELECT m.id AS milestone, {key} AS key, {sums} FROM ("  # noqa: S608
        "SELECT b.event AS event, b.school AS school, b.kind AS kind, "
        f"CASE {bucket_sql} END AS bucket, {_BOOKING_SUMS} "
        "FROM booking b JOIN slot s ON s.id = b.slot "
        "WHERE b.status = 'confirmed' AND s.starts_at >= {} AND s.starts_at < {} "
        "AND s.starts_at <= {} AND s.starts_at < {} AND s.cancelled = {} "
        "GROUP BY 1, 2, 3, 4"
        ") AS per JOIN event e ON e.id = per.event AND e.status <> 'cancelled' "
        f"JOIN work_plan_milestone m ON {' OR '.join(terms)} "
        "GROUP BY 1, 2",
        *ends,
        start,
        end,
        until,
        ends[-1],
        False,
        *term_args,
    )
    for row in rows:
        found[row["milestone"]].append(
            BookingGroup(
                key=row["key"],
                mine=True,
                **{name: int(row[name]) for name in _BOOKING_GROUP_SUMS},
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class FillGroup:
    """The bookable slots of one host (by name), in or out of the reader's scope."""

    host_name: str
    mine: bool
    slots: int
    capacity: int
    booked: int  # persons of confirmed bookings
    attended: int  # persons recorded as come


async def host_fill(year: str, *, by: Principal) -> list[FillGroup]:
    """`slot_facts` summed by host, by the database."""
    start, end = school_year_bounds(year)
    mine_sql, mine_args = _scope_sql(by, "e.host", None)
    rows = await _rows(
        # SQL pieces of this module only; every value is bound ({} placeholders).
        "SELECT host_name, mine, COUNT(*) AS slots, "  # noqa: S608
        "COALESCE(SUM(capacity), 0) AS capacity, "
        "COALESCE(SUM(booked), 0) AS booked, COALESCE(SUM(attended), 0) AS attended FROM ("
        f"SELECT h.name AS host_name, {mine_sql} AS mine, s.capacity AS capacity, "
        f"{_slot_sum('booked')} AS booked, {_slot_sum('attended')} AS attended "
        f"{_BOOKABLE_SLOTS}) AS per_slot GROUP BY 1, 2",
        *mine_args,
        start,
        end,
        False,
    )
    sums = ("slots", "capacity", "booked", "attended")
    return [
        FillGroup(row["host_name"], bool(row["mine"]), *(int(row[n]) for n in sums)) for row in rows
    ]


def in_booking_scope(fact: BookingFact, by: Principal) -> bool:
    """A member's own figures: a firm its events' bookings, a school its own and its events'."""
    if by.is_admin:
        return True
    if by.org_id is None:
        return False
    return fact.host_id == by.org_id or (by.role == "school" and fact.school_id == by.org_id)


def in_slot_scope(fact: SlotFact, by: Principal) -> bool:
    return by.is_admin or (by.org_id is not None and fact.host_id == by.org_id)


def day_end(day: date) -> datetime:
    """The instant a local day ends (a milestone due on a day counts that whole day)."""
    return as_utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=LOCAL_TZ))
