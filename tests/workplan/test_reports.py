"""Every figure of the reports and the work plan against the hand-counted world."""

from __future__ import annotations

from datetime import date

import pytest

from outreach.errors import Invalid, Unauthorised
from outreach.organisations.services import get_by_slug
from outreach.principal import ANONYMOUS
from outreach.workplan import services
from outreach.workplan.facts import month_labels, previous_year, school_year_bounds, school_year_of
from outreach.workplan.reports import get_report
from outreach.workplan.schemas import MilestoneIn, PriorityIn, WorkPlanIn
from tests.factories import at
from tests.workplan.test_progress import _slot, _visit
from tests.workplan.world import build_report_world

YEAR = "2026/27"


@pytest.fixture
async def rw(db):
    return await build_report_world()


async def _names(*slugs: str) -> list[str]:
    return [(await get_by_slug(slug)).name for slug in slugs]


def _rows(report) -> dict[str, list]:
    return {row[0]: row[1:] for row in report.rows}


def test_school_years_run_from_august_to_july_in_berlin():
    start, end = school_year_bounds("2026/27")
    assert start.isoformat() == "2026-07-31T22:00:00+00:00"  # 1 August, 00:00 CEST
    assert end.isoformat() == "2027-07-31T22:00:00+00:00"
    assert school_year_of(date(2026, 7, 31)) == "2025/26"
    assert school_year_of(date(2026, 8, 1)) == "2026/27"
    assert previous_year("2026/27") == "2025/26"
    assert previous_year("2099/00") == "2098/99"
    assert month_labels("2026/27")[0] == "2026-08" and month_labels("2026/27")[-1] == "2027-07"
    for bad in ("2026/28", "2026-27", "26/27", "abcd/ef"):
        with pytest.raises(Invalid) as refused:
            school_year_bounds(bad)
        assert refused.value.field == "year"


async def test_reach_by_host_for_the_office_and_for_each_firm(rw):
    w = rw.world
    admin = await get_report("by-host", YEAR, by=w.admin)
    rows = _rows(admin)
    # classes, pupils, persons attended, bookings without attendance
    firm_a_name, firm_b_name = await _names("firm-a", "firm-b")
    assert set(rows) == {firm_a_name, firm_b_name}
    assert rows[firm_a_name] == [1, 19, 24, 1]
    assert rows[firm_b_name] == [1, 15, 16, 0]
    assert admin.total == ["Total", 2, 34, 40, 1]

    mine = await get_report("by-host", YEAR, by=w.firm_a)
    assert _rows(mine) == {firm_a_name: [1, 19, 24, 1]}
    assert mine.total == ["Network total", 2, 34, 40, 1]
    theirs = await get_report("by-host", YEAR, by=w.firm_b)
    assert _rows(theirs) == {firm_b_name: [1, 15, 16, 0]}


async def test_reach_by_school_grade_kind_and_month(rw):
    w = rw.world
    by_school = await get_report("by-school", YEAR, by=w.admin)
    assert sorted(by_school.rows) == sorted([[n, *v] for n, v in _rows(by_school).items()])
    school_a, school_b = await _names("school-a", "school-b")
    assert _rows(by_school) == {school_a: [1, 19, 21, 1], school_b: [1, 15, 16, 0]}
    assert by_school.total == ["Total", 2, 34, 37, 1]

    by_grade = await get_report("by-grade", YEAR, by=w.admin)
    assert _rows(by_grade) == {"8": [2, 34, 37, 0], "9": [0, 0, 0, 1]}

    by_kind = await get_report("by-kind", YEAR, by=w.admin)
    assert _rows(by_kind) == {"factory_tour": [2, 34, 37, 1], "teacher_training": [0, 0, 3, 0]}

    by_month = await get_report("by-month", YEAR, by=w.admin)
    months = _rows(by_month)
    assert list(months) == month_labels(YEAR)
    assert months["2026-09"] == [2, 34, 37, 0]
    assert months["2026-10"] == [0, 0, 3, 0]
    assert months["2026-11"] == [0, 0, 0, 1]
    assert months["2027-01"] == [0, 0, 0, 0]


async def test_a_school_sees_its_own_classes_and_seminar_places(rw):
    w = rw.world
    mine = await get_report("by-kind", YEAR, by=w.school_a)
    assert _rows(mine) == {"factory_tour": [1, 19, 21, 1], "teacher_training": [0, 0, 1, 0]}
    assert mine.total == ["Network total", 2, 34, 40, 1]
    seminars = await get_report("seminars", YEAR, by=w.school_a)
    assert [row[3:] for row in seminars.rows] == [[1, 1, 1]]
    assert seminars.total[3:] == [3, 3, 2]
    # A school hosts no slots here: no fill rates of the firms it visits.
    fill = await get_report("fill-by-slot", YEAR, by=w.school_a)
    assert fill.rows == []


async def test_fill_rates_and_no_shows(rw):
    w = rw.world
    by_host = await get_report("fill-by-host", YEAR, by=w.admin)
    rows = sorted(_rows(by_host).values())
    # slots, places, booked, fill rate %, attended
    assert rows == sorted([[4, 105, 71, 67.6, 24], [2, 50, 27, 54.0, 16]])
    assert by_host.total == ["Total", 6, 155, 98, 63.2, 40]

    by_slot = await get_report("fill-by-slot", YEAR, by=w.firm_a)
    assert [row[3:] for row in by_slot.rows] == [
        [30, 22, 73.3, 21],
        [30, 26, 86.7, 0],
        [15, 3, 20.0, 3],
        [30, 20, 66.7, None],
    ]
    assert by_slot.total == ["Network total", None, None, 155, 98, 63.2, 40]

    no_shows = await get_report("no-shows", YEAR, by=w.admin)
    assert sorted(_rows(no_shows).values()) == sorted([[4, 1, 25.0], [1, 0, 0.0]])
    assert no_shows.total == ["Total", 5, 1, 20.0]


async def test_fill_by_slot_counts_confirmed_bookings_of_the_readers_slots(rw):
    """Per slot: only confirmed bookings count (not cancelled, waitlisted or pending);
    a slot without bookings is listed empty; cancelled slots and other years' slots
    (made in between, so within the ids read) are not listed."""
    w = rw.world
    tour_b, school_a, school_b = rw.tour_b, w.school_a.org_id, w.school_b.org_id
    mixed = await _slot(rw.tour_b, at(date(2027, 3, 15), 10))
    await _visit(mixed, tour_b, school_a, 10, 1, attended=11)
    await _visit(mixed, tour_b, school_b, 30, 2, status="cancelled", attended=32)
    await _visit(mixed, tour_b, school_b, 5, 1, status="waitlisted")
    await _visit(mixed, tour_b, school_b, 4, 1, status="pending")
    gone = await _slot(tour_b, at(date(2027, 2, 10), 10), cancelled=True)
    await _visit(gone, tour_b, school_b, 9, 1, attended=10)
    before = await _slot(tour_b, at(date(2026, 5, 5), 10))
    await _visit(before, tour_b, school_b, 8, 1, attended=9)
    after = await _slot(tour_b, at(date(2027, 9, 9), 10))
    await _visit(after, tour_b, school_b, 7, 1)
    await _slot(tour_b, at(date(2027, 4, 20), 10))  # no bookings

    # places, booked, fill rate %, attended (None: no attendance recorded)
    firm_b = await get_report("fill-by-slot", YEAR, by=w.firm_b)
    assert sorted(row[3:] for row in firm_b.rows) == sorted(
        [[20, 16, 80.0, 16], [30, 11, 36.7, None], [60, 11, 18.3, 11], [60, 0, 0.0, None]]
    )
    assert firm_b.total == ["Network total", None, None, 275, 109, 39.6, 51]
    firm_a = await get_report("fill-by-slot", YEAR, by=w.firm_a)
    assert len(firm_a.rows) == 4
    office = await get_report("fill-by-slot", YEAR, by=w.admin)
    assert sorted(row[3:] for row in office.rows) == sorted(
        [row[3:] for row in firm_a.rows + firm_b.rows]
    )
    assert office.total == ["Total", None, None, 275, 109, 39.6, 51]


async def test_comparison_with_the_previous_year(rw):
    w = rw.world
    report = await get_report("comparison", YEAR, by=w.admin)
    assert report.columns == ["Figure", "2025/26", "2026/27", "Change (percent)"]
    rows = _rows(report)
    assert rows["Classes"] == [1, 2, 100.0]
    assert rows["Pupils"] == [10, 34, 240.0]
    assert rows["Schools"] == [1, 2, 100.0]
    assert rows["Teacher-seminar participants"] == [0, 3, None]
    assert rows["No-show rate (percent)"] == [0.0, 20.0, None]
    firm_b = _rows(await get_report("comparison", YEAR, by=w.firm_b))
    assert firm_b["Pupils"] == [0, 15, None]


async def test_firm_a_reports_never_name_firm_b_or_its_schools(rw):
    w = rw.world
    (firm_b,) = await _names("firm-b")
    for name in (
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
    ):
        report = await get_report(name, YEAR, by=w.firm_a)
        cells = [c for row in report.rows for c in row]
        assert firm_b not in cells, name
        # Firm B's only own slot figures (20 places, 16 came) appear in no firm-A row.
        if name == "fill-by-slot":
            assert all(row[3] != 20 for row in report.rows)


async def test_reports_refuse_strangers_and_unknown_names(rw):
    with pytest.raises(Unauthorised):
        await get_report("by-host", YEAR, by=ANONYMOUS)
    with pytest.raises(Invalid) as refused:
        await get_report("salaries", YEAR, by=rw.world.admin)
    assert refused.value.field == "name"


async def _plan(rw) -> tuple[int, dict[str, int]]:
    w = rw.world
    plan_id = await services.create_plan(
        WorkPlanIn(school_year=YEAR, title="Arbeitsplan 2026/27"), by=w.admin
    )
    prio = await services.add_priority(plan_id, PriorityIn(title="Berufsorientierung"), by=w.admin)
    ids: dict[str, int] = {}
    specs = {
        "M1": MilestoneIn(
            title="4 Klassenbesuche",
            due_on=date(2027, 6, 30),
            metric="class_visits",
            target=4,
            priority_id=prio,
        ),
        "M2": MilestoneIn(
            title="30 Schüler bei A",
            due_on=date(2027, 7, 15),
            metric="pupils",
            target=30,
            owner="firm-a",
        ),
        "M3": MilestoneIn(
            title="10 Schüler bei B",
            due_on=date(2027, 7, 15),
            metric="pupils",
            target=10,
            owner="firm-b",
        ),
        "M4": MilestoneIn(
            title="Seminar",
            due_on=date(2026, 12, 31),
            metric="seminar_participants",
            target=3,
            event_ids=[rw.seminar],
        ),
        "M5": MilestoneIn(
            title="Zwei Schulen bis September",
            due_on=date(2026, 9, 30),
            metric="schools",
            target=2,
        ),
    }
    # Due at the end of October: SA3 (November) no longer counts, so it is missed.
    specs["M6"] = MilestoneIn(
        title="Hundert bis Oktober", due_on=date(2026, 10, 31), metric="pupils", target=100
    )
    for key, spec in specs.items():
        before = {m.id for m in (await services.get_plan(plan_id, by=w.admin)).milestones}
        await services.add_milestone(plan_id, spec, by=w.admin)
        after = {m.id for m in (await services.get_plan(plan_id, by=w.admin)).milestones}
        (ids[key],) = after - before
    return plan_id, ids


async def test_milestone_progress_comes_from_attendance(rw):
    w = rw.world
    plan_id, ids = await _plan(rw)
    plan = await services.get_plan(plan_id, by=w.admin)
    got = {m.id: (m.actual, m.expected, m.percent, m.status) for m in plan.milestones}
    assert got[ids["M1"]] == (2, 1, 50.0, "open")
    assert got[ids["M2"]] == (19, 18, 63.3, "open")
    assert got[ids["M3"]] == (15, 0, 150.0, "achieved")
    assert got[ids["M4"]] == (3, 0, 100.0, "achieved")
    assert got[ids["M5"]] == (2, 0, 100.0, "achieved")
    assert got[ids["M6"]] == (34, 0, 34.0, "missed")

    mine = await services.get_plan(plan_id, by=w.firm_a)
    seen = {m.id: (m.actual, m.status) for m in mine.milestones}
    assert ids["M3"] not in seen  # firm B's own milestone
    assert seen[ids["M2"]] == (19, "open")
    assert seen[ids["M4"]] == (3, "achieved")  # linked to firm A's own seminar

    theirs = await services.get_plan(plan_id, by=w.firm_b)
    seen_b = {m.id: (m.actual, m.status) for m in theirs.milestones}
    assert ids["M2"] not in seen_b
    assert seen_b[ids["M4"]] == (None, "hidden")  # would show firm A's seminar figures
    assert seen_b[ids["M1"]] == (2, "open")  # network totals


async def test_only_the_office_writes_the_plan_and_bad_input_names_the_field(rw):
    w = rw.world
    from outreach.errors import Conflict, Forbidden

    with pytest.raises(Forbidden):
        await services.create_plan(WorkPlanIn(school_year=YEAR, title="x"), by=w.firm_a)
    plan_id = await services.create_plan(WorkPlanIn(school_year=YEAR, title="x"), by=w.admin)
    with pytest.raises(Conflict) as twice:
        await services.create_plan(WorkPlanIn(school_year=YEAR, title="y"), by=w.admin)
    assert twice.value.field == "school_year"
    late = MilestoneIn(title="x", due_on=date(2027, 8, 1), metric="pupils", target=1)
    with pytest.raises(Invalid) as refused:
        await services.add_milestone(plan_id, late, by=w.admin)
    assert refused.value.field == "due_on"
    stranger = MilestoneIn(
        title="x", due_on=date(2027, 1, 1), metric="pupils", target=1, owner="nobody"
    )
    with pytest.raises(Invalid) as refused:
        await services.add_milestone(plan_id, stranger, by=w.admin)
    assert refused.value.field == "owner"
    assert (await services.get_plan(plan_id, by=w.admin)).milestones == []
