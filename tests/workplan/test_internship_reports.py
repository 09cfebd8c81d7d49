"""The Bilanz's internship figures, counted by hand on a small world: offers, wishes,
placements, first-wish share, attendance and apprenticeship offers per firm and per
school; members see their own rows and the network total; the API and the exports too."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest

from outreach.internships import placements, rounds, wishes
from outreach.internships.offers import create_offer
from outreach.internships.rules import working_days
from outreach.internships.schemas import OfferIn, OfferPeriodIn, PlacementAttendanceIn, RoundIn
from outreach.organisations.services import get_by_slug
from outreach.timeutil import LOCAL_TZ
from outreach.workplan.facts import school_year_of
from outreach.workplan.reports import NETWORK_TOTAL, TOTAL, get_report, get_reports
from tests.factories import make_world
from tests.internships.helpers import class_dates, make_class, pupils
from tests.pages.conftest import give_password, sign_in
from tests.support import bearer


@pytest.fixture
async def world(db):
    return await make_world()


async def _offer(firm, places: int, occupation: str) -> int:
    first, last = class_dates()
    made = await create_offer(
        OfferIn(
            occupation=occupation,
            grades=[8, 9],
            periods=[OfferPeriodIn(starts_on=first, ends_on=last, places=places)],
            status="published",  # type: ignore[arg-type]
        ),
        by=firm,
    )
    return made.periods[0].id


async def _small_world(world) -> tuple[str, int]:
    """Firm A: 1 place (Uhrmacher); firm B: 3 places (Feinwerkmechaniker) and 2 nobody
    wished (Zerspanungsmechaniker). Class 8a of school A: Name1 [A, B], Name2 [A, B],
    Name3 [B], Name4 [A] (6 wishes); class 9c of school B: Name1 [B] (1 wish).
    Seed 3: 8a's Name1 to A (1st wish), Name2 to B (2nd), Name3 to B (1st), Name4 none;
    9c's Name1 to B (1st). Attendance: 8a's Name1 came 8 days and was offered an
    apprenticeship; Name3 came every working day."""
    a = await _offer(world.firm_a, 1, "Uhrmacher")
    b = await _offer(world.firm_b, 3, "Feinwerkmechaniker")
    await _offer(world.firm_b, 2, "Zerspanungsmechaniker")
    eight = await make_class(world.school_a)
    nine = await make_class(world.school_b, label="9c", grade=9)
    await wishes.put_pupils(eight.id, pupils([a, b], [a, b], [b], [a]), by=world.school_a)
    await wishes.put_pupils(nine.id, pupils([b], prefix="Q"), by=world.school_b)
    preview = await rounds.preview_round(
        RoundIn(classes=[eight.id, nine.id], seed=3), by=world.admin
    )
    await rounds.confirm_round(preview.id, by=world.admin)
    first, last = class_dates()
    after = datetime.combine(last + timedelta(days=1), time(12), tzinfo=LOCAL_TZ)
    held = {
        (p.class_label, p.first_name): p
        for p in await placements.list_placements(by=world.admin)
        if p.status == "placed"
    }
    assert sorted(held) == [("8a", "Name1"), ("8a", "Name2"), ("8a", "Name3"), ("9c", "Name1")]
    assert held[("8a", "Name1")].host == "firm-a"
    days = working_days(first, last)
    await placements.record_attendance(
        held[("8a", "Name1")].id,
        PlacementAttendanceIn(days_attended=8, apprenticeship_offered=True),
        by=world.firm_a,
        now=after,
    )
    await placements.record_attendance(
        held[("8a", "Name3")].id,
        PlacementAttendanceIn(days_attended=days, apprenticeship_offered=False),
        by=world.firm_b,
        now=after,
    )
    return school_year_of(first), days


def _by_name(report) -> dict[str, list]:
    return {row[0]: row[1:] for row in report.rows}


async def _name(slug: str) -> str:
    return (await get_by_slug(slug)).name


async def test_internship_figures_per_firm_and_school_counted_by_hand(world):
    year, w = await _small_world(world)
    firm_a, firm_b = await _name("firm-a"), await _name("firm-b")
    school_a, school_b = await _name("school-a"), await _name("school-b")
    found = await get_reports(
        ["internships-by-host", "internships-by-school"], year, by=world.admin
    )
    hosts, schools = found["internships-by-host"], found["internships-by-school"]
    assert hosts.columns == [
        "Host",
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
    #          offers places wishes placed first%  attended working  %  apprenticeships
    # Rows by name (names sort as text: "Firm 1000" before "Firm 998").
    assert [r[0] for r in hosts.rows] == sorted([firm_a, firm_b], key=str.lower)
    assert _by_name(hosts) == {
        firm_a: [1, 1, 3, 1, 100.0, 8, w, round(800 / w, 1), 1],
        firm_b: [2, 5, 4, 3, 66.7, w, w, 100.0, 0],
    }
    total = [TOTAL, 3, 6, 7, 4, 75.0, 8 + w, 2 * w, round(100 * (8 + w) / (2 * w), 1), 1]
    assert hosts.total == total
    assert _by_name(schools) == {
        school_a: [None, None, 6, 3, 66.7, 8 + w, 2 * w, round(100 * (8 + w) / (2 * w), 1), 1],
        school_b: [None, None, 1, 1, 100.0, 0, 0, None, 0],
    }
    assert schools.total == total
    # A member: its own row and the network's total, never another member's row.
    mine = await get_report("internships-by-host", year, by=world.firm_b)
    assert [r[0] for r in mine.rows] == [firm_b] and mine.total == [NETWORK_TOTAL, *total[1:]]
    theirs = await get_report("internships-by-school", year, by=world.school_b)
    assert theirs.rows == [[school_b, None, None, 1, 1, 100.0, 0, 0, None, 0]]
    seen = await get_report("internships-by-school", year, by=world.firm_a)
    assert seen.rows == [[school_a, None, None, 3, 1, 100.0, 8, w, round(800 / w, 1), 1]]
    # Another school year has none.
    empty = await get_report("internships-by-host", "2019/20", by=world.admin)
    assert empty.rows == [] and empty.total == [TOTAL, 0, 0, 0, 0, None, 0, 0, None, 0]


async def test_the_api_the_export_and_the_bilanz_page_show_them(client, world):
    year, _ = await _small_world(world)
    got = await client.get(
        "/api/v1/reports/internships-by-host",
        params={"year": year},
        headers=bearer(world.tokens["admin"]),
    )
    assert got.status_code == 200, got.text
    assert got.json()["total"][1:6] == [3, 6, 7, 4, 75.0]
    await give_password(world.admin.email)
    await sign_in(client, world.admin.email)
    exported = (
        await client.get("/reports/export/internships-by-school", params={"year": year})
    ).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported), delimiter=";"))
    assert rows[0][:5] == ["Schule", "Angebote", "Angebotene Plätze", "Wünsche", "Vermittlungen"]
    assert rows[-1][3:6] == ["7", "4", "75 %"]
    page = (await client.get("/reports", params={"year": year})).text
    assert "Praktika nach Firma" in page and "Praktika nach Schule" in page
    assert "Erstwunsch (Prozent)" in page
