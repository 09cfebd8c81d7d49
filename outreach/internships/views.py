"""What the internship pages show beyond the API's answers: offer periods named by
occupation and firm, a class's results with each pupil's reason, a round with its
pupils' names and counts, the office's classes with their wishes, and the pupils of a
CSV file as a spreadsheet writes it. Read-only; every write goes through the services."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from outreach.internships import allocation
from outreach.internships.classes import classes_of_school
from outreach.internships.loading import offer_periods, pupils_of, stored_params, wishes_of
from outreach.internships.rounds import get_round, list_rounds
from outreach.internships.rules import class_for, taken_places
from outreach.internships.schemas import MAX_PUPILS, MAX_WISHES, ClassPeriodOut, PupilIn
from outreach.internships.tables import ClassPeriod, OfferPeriod, Placement, Pupil, Round
from outreach.principal import Principal

__all__ = [
    "CSV_COLUMNS",
    "ClassResult",
    "CsvProblem",
    "PeriodName",
    "RoundView",
    "class_results",
    "classes_with_wishes",
    "fitting_periods",
    "parse_pupils_csv",
    "period_names",
    "round_view",
    "rounds_overview",
]

CSV_COLUMNS = ("code", "first_name", "wish1", "wish2", "wish3")


@dataclass(frozen=True)
class PeriodName:
    """An offer period as people name it: occupation, firm, dates, free places."""

    id: int
    occupation: str
    host_name: str
    starts_on: date
    ends_on: date
    places: int
    free: int


async def period_names(ids: Iterable[int] | None = None) -> dict[int, PeriodName]:
    """The offer periods named (all of published offers when `ids` is None)."""
    P = OfferPeriod
    query = P.select(
        P.id,
        P.starts_on,
        P.ends_on,
        P.places,
        P.offer.occupation.as_alias("occupation"),
        P.offer.host.name.as_alias("host_name"),
    )
    if ids is None:
        query = query.where(P.offer.status == "published")
    else:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        query = query.where(P.id.is_in(wanted))
    rows = await query.order_by(P.id)
    taken = await taken_places([r["id"] for r in rows])
    return {
        r["id"]: PeriodName(
            id=r["id"],
            occupation=r["occupation"],
            host_name=r["host_name"],
            starts_on=r["starts_on"],
            ends_on=r["ends_on"],
            places=r["places"],
            free=max(0, r["places"] - taken.get(r["id"], 0)),
        )
        for r in rows
    }


def _as_pupil(klass: Any) -> allocation.Pupil:
    return allocation.Pupil(
        id=0, grade=klass.grade, starts_on=klass.starts_on, ends_on=klass.ends_on, wishes=()
    )


async def fitting_periods(klass: ClassPeriodOut) -> list[PeriodName]:
    """The published offers' periods that fit the class (grade and dates), by occupation."""
    fit = {p.id for p in await offer_periods() if allocation.fits(_as_pupil(klass), p)}
    names = await period_names(fit)
    return sorted(names.values(), key=lambda p: (p.occupation.casefold(), p.host_name, p.id))


@dataclass(frozen=True)
class ClassResult:
    """A pupil's outcome in the class's confirmed round."""

    placement: int
    pupil: int
    code: str
    first_name: str
    status: str
    reason: str
    params: dict[str, Any]
    rank: int | None
    period: PeriodName | None
    free: list[PeriodName] = field(default_factory=list)


async def class_results(class_id: int, *, by: Principal) -> list[ClassResult]:
    """The class's pupils' outcomes in confirmed rounds (its school and the office), in
    the class's order; unplaced pupils with the periods still free that fit them."""
    await class_for(class_id, by)
    P = Placement
    rows = (
        await P.select(
            P.id,
            P.pupil,
            P.pupil.code.as_alias("code"),
            P.pupil.first_name.as_alias("first_name"),
            P.pupil.position.as_alias("position"),
            P.status,
            P.reason,
            P.params,
            P.rank,
            P.offer_period,
        )
        .where((P.pupil.class_period == class_id) & (P.round.status == "confirmed"))
        .order_by(P.id)
    )
    if not rows:
        return []
    periods = await offer_periods()
    taken = await taken_places([p.id for p in periods])
    free_ids = {p.id for p in periods if p.places - taken.get(p.id, 0) > 0}
    pupils = {p.id: p for p in await pupils_of([class_id])}
    names = await period_names({r["offer_period"] for r in rows if r["offer_period"]} | free_ids)
    out = []
    for r in sorted(rows, key=lambda r: (r["position"], r["id"])):
        free: list[PeriodName] = []
        holding = r["offer_period"] is not None and r["status"] != "cancelled"
        pupil = pupils.get(r["pupil"])
        if not holding and pupil is not None:
            free = [names[p.id] for p in periods if p.id in free_ids and allocation.fits(pupil, p)]
        out.append(
            ClassResult(
                placement=r["id"],
                pupil=r["pupil"],
                code=r["code"],
                first_name=r["first_name"],
                status=r["status"],
                reason=r["reason"],
                params=stored_params(r["params"]),
                rank=r["rank"],
                period=names.get(r["offer_period"]) if r["offer_period"] else None,
                free=free,
            )
        )
    return out


@dataclass(frozen=True)
class RoundRow:
    placement: int | None
    pupil: int
    code: str
    first_name: str
    class_label: str
    school_name: str
    status: str
    reason: str
    params: dict[str, Any]
    rank: int | None
    period: PeriodName | None
    free: list[PeriodName] = field(default_factory=list)


@dataclass(frozen=True)
class RoundView:
    id: int
    seed: int
    status: str
    created_at: Any
    confirmed_at: Any
    classes: list[str]  # "8a (School name)"
    placed: list[RoundRow]
    unplaced: list[RoundRow]
    pupils: int
    by_rank: dict[int, int]  # rank -> pupils placed at it


async def round_view(round_id: int, *, by: Principal) -> RoundView:
    """The round (the office only) with its pupils and offer periods named."""
    found = await get_round(round_id, by=by)
    who = {
        r["id"]: r
        for r in await Pupil.select(
            Pupil.id,
            Pupil.code,
            Pupil.first_name,
            Pupil.class_period.class_label.as_alias("class_label"),
            Pupil.class_period.school.name.as_alias("school_name"),
        ).where(Pupil.class_period.is_in(found.classes or [0]))
    }
    cancelled = {
        r["id"]
        for r in await Placement.select(Placement.id).where(
            (Placement.round == round_id) & (Placement.status == "cancelled")
        )
    }
    ids = {o.offer_period for o in found.placements} | {f for u in found.unplaced for f in u.free}
    names = await period_names(ids)

    def row(pupil: int, **rest: Any) -> RoundRow:
        p = who.get(pupil, {})
        return RoundRow(
            pupil=pupil,
            code=p.get("code", ""),
            first_name=p.get("first_name", ""),
            class_label=p.get("class_label", ""),
            school_name=p.get("school_name", ""),
            **rest,
        )

    placed = [
        row(
            o.pupil,
            placement=o.placement,
            status="cancelled" if o.placement in cancelled else o.status,
            reason=o.reason,
            params=o.params,
            rank=o.rank,
            period=names.get(o.offer_period),
        )
        for o in found.placements
    ]
    unplaced = [
        row(
            u.pupil,
            placement=None,
            status="unplaced",
            reason=u.reason,
            params=u.params,
            rank=None,
            period=None,
            free=[names[f] for f in u.free if f in names],
        )
        for u in found.unplaced
    ]
    by_rank = {rank: 0 for rank in range(1, MAX_WISHES + 1)}
    for o in placed:
        if o.rank in by_rank and o.status != "cancelled":
            by_rank[o.rank] += 1
    key = lambda r: (r.school_name, r.class_label, r.code)  # noqa: E731
    labels = await _class_labels(found.classes)
    return RoundView(
        id=found.id,
        seed=found.seed,
        status=found.status,
        created_at=found.created_at,
        confirmed_at=found.confirmed_at,
        classes=labels,
        placed=sorted(placed, key=key),
        unplaced=sorted(unplaced, key=key),
        pupils=len(placed) + len(unplaced),
        by_rank=by_rank,
    )


async def _class_labels(class_ids: list[int]) -> list[str]:
    C = ClassPeriod
    rows = await C.select(C.class_label, C.school.name.as_alias("school_name")).where(
        C.id.is_in(class_ids or [0])
    )
    return sorted(f"{r['class_label']} ({r['school_name']})" for r in rows)


@dataclass(frozen=True)
class ClassWishes:
    klass: ClassPeriodOut
    with_wishes: int
    in_round: str  # "", "preview" or "confirmed": the latest round holding the class


async def classes_with_wishes(*, by: Principal) -> list[ClassWishes]:
    """Every class (the office: all schools'; a school: its own) with how many of its
    pupils gave wishes and whether a round holds it."""
    found = await classes_of_school(by=by)
    ids = [c.id for c in found]
    pupils = (
        await Pupil.select(Pupil.id, Pupil.class_period).where(Pupil.class_period.is_in(ids))
        if ids
        else []
    )
    wishes = await wishes_of([p["id"] for p in pupils])
    counted: dict[int, int] = {}
    for p in pupils:
        if wishes.get(p["id"]):
            counted[p["class_period"]] = counted.get(p["class_period"], 0) + 1
    state: dict[int, str] = {}
    for r in await Round.select(Round.classes, Round.status).order_by(Round.id):
        for c in r["classes"] or []:
            if r["status"] == "confirmed" or (
                r["status"] == "preview" and state.get(c) != "confirmed"
            ):
                state[c] = r["status"]
    return [ClassWishes(c, counted.get(c.id, 0), state.get(c.id, "")) for c in found]


async def rounds_overview(*, by: Principal) -> list[RoundView]:
    """Every round, latest first (the office only)."""
    return [await round_view(r.id, by=by) for r in await list_rounds(by=by)]


@dataclass(frozen=True)
class CsvProblem:
    """A line of the file that cannot be read: `column` (one of CSV_COLUMNS or "") and
    `kind`: "columns" (fewer than two or more than five), "number" (a wish is no
    number), "empty" (no line with a pupil), "too_many" (more than MAX_PUPILS), "encoding"."""

    line: int
    column: str
    kind: str
    value: str = ""


def parse_pupils_csv(data: bytes) -> tuple[list[PupilIn], list[int], list[CsvProblem]]:
    """The pupils of a file `code;first_name;wish1;wish2;wish3` (or with commas; UTF-8,
    with or without the BOM a spreadsheet writes; a header line is skipped), each with
    its line number, and every problem found (then the pupils are not to be stored)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [], [CsvProblem(0, "", "encoding")]
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    pupils: list[PupilIn] = []
    lines: list[int] = []
    problems: list[CsvProblem] = []
    for number, cells in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1):
        cells = [c.strip() for c in cells]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        if not lines and not problems and cells[0].casefold() in ("code", "kód", "kennung"):
            continue  # the header
        if not 1 <= len(cells) <= len(CSV_COLUMNS):
            problems.append(CsvProblem(number, "", "columns", str(len(cells))))
            continue
        wishes: list[int] = []
        for column, value in zip(CSV_COLUMNS[2:], cells[2:], strict=False):
            if not value:
                continue
            if not value.isdigit() or len(value) > 9:
                problems.append(CsvProblem(number, column, "number", value))
            else:
                wishes.append(int(value))
        pupils.append(PupilIn(code=cells[0][:32], first_name=[*cells, ""][1][:100], wishes=wishes))
        lines.append(number)
    if not pupils and not problems:
        problems.append(CsvProblem(0, "", "empty"))
    if len(pupils) > MAX_PUPILS:
        problems.append(CsvProblem(lines[MAX_PUPILS], "", "too_many", str(MAX_PUPILS)))
    return pupils, lines, problems
