"""The Bilanz page, charts, exports and the API over HTTP, for the office and a firm."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from outreach.booking.tables import Booking
from outreach.events.tables import Event
from outreach.organisations.services import get_by_slug
from outreach.workplan import services
from outreach.workplan.exports import CSV_DELIMITERS, Percent, defuse, to_csv
from outreach.workplan.schemas import MilestoneIn, WorkPlanIn
from tests.pages.conftest import give_password, post_form, sign_in
from tests.support import bearer
from tests.workplan.world import build_report_world

YEAR = "2026/27"


@pytest.fixture
async def rw(db):
    rw = await build_report_world()
    for principal in (rw.world.firm_a, rw.world.admin, rw.world.school_a):
        await give_password(principal.email)
    plan_id = await services.create_plan(
        WorkPlanIn(school_year=YEAR, title="Arbeitsplan"), by=rw.world.admin
    )
    for spec in (
        MilestoneIn(
            title="Vier Klassen", due_on=date(2027, 6, 30), metric="class_visits", target=4
        ),
        MilestoneIn(
            title="Ziel von B", due_on=date(2027, 6, 30), metric="pupils", target=9, owner="firm-b"
        ),
    ):
        await services.add_milestone(plan_id, spec, by=rw.world.admin)
    rw.plan_id = plan_id  # type: ignore[attr-defined]
    return rw


def _csv(body: bytes, locale: str = "de") -> list[list[str]]:
    """A CSV export read as Excel in `locale` reads it: its BOM, its list separator."""
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark
    text = body.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=CSV_DELIMITERS[locale]))


def _sheet(body: bytes) -> list[tuple[object, ...]]:
    return list(load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True))


def _percent_cells(row: tuple[object, ...]) -> tuple[object, ...]:
    """Percent cells hold fractions; rounded, as the reports round to one decimal."""
    return tuple(round(v, 6) if isinstance(v, float) else v for v in row)


async def test_office_sees_the_bilanz_with_milestones_charts_and_tables(client, rw):
    await sign_in(client, rw.world.admin.email)
    page = await client.get("/reports", params={"year": YEAR})
    assert page.status_code == 200, page.text
    html = page.text
    firm_b = (await get_by_slug("firm-b")).name
    assert "Vier Klassen" in html and "Ziel von B" in html and firm_b in html
    assert "/reports/charts/progress.svg?year=2026/27" in html
    assert "<script" not in html
    for name in ("progress", "month", "host", "grade", "fill"):
        svg = await client.get(f"/reports/charts/{name}.svg", params={"year": YEAR})
        assert svg.status_code == 200
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert svg.text.startswith("<svg") and "<script" not in svg.text


async def test_a_firm_sees_only_its_own_figures_and_network_totals(client, rw):
    await sign_in(client, rw.world.firm_a.email)
    firm_a, firm_b = (await get_by_slug("firm-a")).name, (await get_by_slug("firm-b")).name
    html = (await client.get("/reports", params={"year": YEAR})).text
    assert firm_a in html and "Vier Klassen" in html
    assert firm_b not in html and "Ziel von B" not in html
    host_chart = await client.get("/reports/charts/host.svg", params={"year": YEAR})
    assert firm_b not in host_chart.text and firm_a in host_chart.text
    by_host = _csv((await client.get("/reports/export/by-host", params={"year": YEAR})).content)
    assert by_host[1:] == [
        [firm_a, "1", "19", "24", "1"],
        ["Netzwerk gesamt", "2", "34", "40", "1"],
    ]  # in the reader's language
    xlsx = await client.get("/reports/export/fill-by-host", params={"year": YEAR, "format": "xlsx"})
    rows = [_percent_cells(row) for row in _sheet(xlsx.content)]
    assert rows[1:] == [
        (firm_a, 4, 105, 71, 0.676, 24),
        ("Netzwerk gesamt", 6, 155, 98, 0.632, 40),
    ]
    # Firm A's booking export: its own bookings, school B visited it (SA2), never firm B's.
    exported = _csv((await client.get("/reports/bookings/export?format=csv")).content)
    ids = {int(row[0]) for row in exported[1:]}
    b = rw.bookings
    assert ids == {b["SA1"], b["SA2"], b["SA3"], b["SP"], b["STA"], b["STB"]}
    assert all(firm_b not in cell for row in exported for cell in row)
    school_b = (await get_by_slug("school-b")).name
    assert school_b in {row[6] for row in exported[1:]}  # school B visited firm A, by name
    assert not {"school-b", "school-a", "firm-a"} & {cell for row in exported for cell in row}


async def test_the_office_filters_its_booking_export(client, rw):
    await sign_in(client, rw.world.admin.email)
    got = await client.get("/reports/bookings/export?format=xlsx&status=confirmed")
    rows = list(load_workbook(io.BytesIO(got.content)).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("Buchung", "Status", "Art", "Zeit")  # headings in German
    assert {r[1] for r in rows[1:]} == {"bestätigt"}
    assert {r[2] for r in rows[1:]} <= {"Klassenbesuch", "Anmeldung"}
    assert all(isinstance(r[3], datetime) for r in rows[1:])  # a date cell, not text
    assert len(rows) - 1 == len(rw.bookings)


async def test_reports_and_exports_write_numbers_and_times_for_the_reader(client, rw):
    await sign_in(client, rw.world.admin.email)
    fill = "/reports/export/fill-by-host"
    german = _csv((await client.get(fill, params={"year": YEAR})).content)
    assert german[0][4] == "Auslastung (Prozent)" and german[-1][4] == "63,2 %"
    english = _csv(
        (await client.get(fill, params={"year": YEAR}, headers={"Accept-Language": "en"})).content,
        "en",
    )
    assert english[0][4] == "Fill rate (percent)" and english[-1][4] == "63.2%"
    czech = _csv(
        (await client.get(fill, params={"year": YEAR}, headers={"Accept-Language": "cs"})).content,
        "cs",
    )
    assert czech[-1][4] == "63,2 %"
    # Times as the reader's Excel reads them back as dates, never "2026-09-08T10:30+02:00".
    by_slot = _csv(
        (await client.get("/reports/export/fill-by-slot", params={"year": YEAR})).content
    )
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", row[0]) for row in by_slot[1:-1])
    months = _csv((await client.get("/reports/export/by-month", params={"year": YEAR})).content)
    assert [row[0] for row in months[1:3]] == ["August 2026", "September 2026"]
    page = (await client.get("/reports", params={"year": YEAR})).text
    assert "63,2\u00a0%" in page and "63.2" not in page
    assert not re.search(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d", page)
    bookings = _csv((await client.get("/reports/bookings/export?format=csv")).content)
    assert bookings[0][0] == "Buchung" and bookings[0][-1] == "Hinweis der buchenden Person"
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", row[3]) for row in bookings[1:])


async def test_exports_cannot_smuggle_formulas(client, rw):
    assert defuse("=HYPERLINK(1)") == "'=HYPERLINK(1)" and defuse("-1") == "'-1"
    assert defuse(-1) == -1 and defuse("Glashütte") == "Glashütte"
    assert _csv(to_csv([["@SUM(A1)", "+1", 5]]), "en") == [["'@SUM(A1)", "'+1", "5"]]
    # Figures are no user input: a negative change stays a number Excel can read.
    assert _csv(to_csv([[-5, Percent(-12.5), "-x"]], "de")) == [["-5", "-12,5 %", "'-x"]]
    await Event.update({Event.title: "=cmd|' /C calc'!A0"}).where(Event.id == rw.tour_a)
    await sign_in(client, rw.world.firm_a.email)
    exported = _csv((await client.get("/reports/bookings/export?format=csv")).content)
    assert "'=cmd|' /C calc'!A0" in {row[4] for row in exported}
    xlsx = await client.get("/reports/export/fill-by-slot", params={"year": YEAR, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    titles = {row[1] for row in sheet.iter_rows(values_only=True)}
    assert "'=cmd|' /C calc'!A0" in titles
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


async def test_attendance_is_recorded_on_the_attendee_list(client, rw):
    await sign_in(client, rw.world.firm_a.email)
    page_path = f"/firm/events/{rw.tour_a}/attendees"
    html = (await client.get(page_path)).text
    assert f'name="attended_{rw.bookings["SA3"]}"' in html
    saved = await post_form(
        client,
        f"/firm/events/{rw.tour_a}/attendance",
        {f"attended_{rw.bookings['SA3']}": "17"},
        from_page=page_path,
    )
    assert saved.status_code == 303
    row = await Booking.objects().where(Booking.id == rw.bookings["SA3"]).first()
    assert row.attended == 17
    too_many = await post_form(
        client,
        f"/firm/events/{rw.tour_a}/attendance",
        {f"attended_{rw.bookings['SA3']}": "99"},
        from_page=page_path,
    )
    assert too_many.status_code == 303
    assert (await Booking.objects().where(Booking.id == rw.bookings["SA3"]).first()).attended == 17


async def test_api_attendance_reports_and_plans(client, rw):
    tokens, b = rw.world.tokens, rw.bookings
    done = await client.post(
        f"/api/v1/bookings/{b['SA3']}/attendance",
        json={"attended": 0},
        headers=bearer(tokens["firm_a"]),
    )
    assert done.status_code == 200 and done.json()["attended"] == 0
    refused = await client.post(
        f"/api/v1/bookings/{b['SA3']}/attendance",
        json={"attended": 0},
        headers=bearer(tokens["firm_b"]),
    )
    assert refused.status_code == 404
    bad = await client.post(
        f"/api/v1/bookings/{b['SA3']}/attendance",
        json={"attended": 999},
        headers=bearer(tokens["firm_a"]),
    )
    assert bad.status_code == 422 and bad.json().get("field") == "attended"

    report = await client.get(
        "/api/v1/reports/no-shows", params={"year": YEAR}, headers=bearer(tokens["admin"])
    )
    assert report.status_code == 200
    assert report.json()["total"] == ["Total", 6, 2, 33.3]  # SA3 is now a no-show too
    wrong_year = await client.get(
        "/api/v1/reports/no-shows", params={"year": "2026/28"}, headers=bearer(tokens["admin"])
    )
    assert wrong_year.status_code == 422 and wrong_year.json().get("field") == "year"
    as_csv = await client.get(
        "/api/v1/reports/by-grade",
        params={"year": YEAR, "format": "csv"},
        headers=bearer(tokens["firm_a"]),
    )
    assert _csv(as_csv.content, "en")[1:] == [
        ["8", "1", "19", "21", "0"],
        ["9", "0", "0", "0", "0"],  # SA2, SA3 (now recorded): no-shows
        ["Network total", "2", "34", "37", "0"],
    ]

    plan = await client.get(f"/api/v1/workplans/{rw.plan_id}", headers=bearer(tokens["firm_b"]))
    titles = {m["title"]: m for m in plan.json()["milestones"]}
    assert titles["Ziel von B"]["actual"] == 15 and titles["Ziel von B"]["status"] == "achieved"
    assert (await client.get(f"/api/v1/workplans/{rw.plan_id}")).status_code == 401
    created = await client.post(
        "/api/v1/workplans",
        json={"school_year": "2027/28", "title": "Nächstes Jahr"},
        headers=bearer(tokens["admin"]),
    )
    assert created.status_code == 201
    denied = await client.post(
        "/api/v1/workplans",
        json={"school_year": "2028/29", "title": "x"},
        headers=bearer(tokens["firm_a"]),
    )
    assert denied.status_code == 403


async def test_the_office_writes_the_plan_on_its_page(client, rw):
    await sign_in(client, rw.world.admin.email)
    path = "/office/workplan?year=2027/28"
    created = await post_form(
        client,
        "/office/workplan",
        {"school_year": "2027/28", "title": "Plan 27/28"},
        from_page=path,
    )
    assert created.status_code == 303
    html = (await client.get(path)).text
    assert "Plan 27/28" in html
    plan_id = await services.plan_for_year("2027/28")
    added = await post_form(
        client,
        f"/office/workplan/{plan_id}/milestones?year=2027/28",
        {
            "title": "Zehn Klassen",
            "owner": "firm-a",
            "due_on": "2028-06-30",
            "metric": "class_visits",
            "target": "10",
            "event_ids": str(rw.tour_a),
        },
        from_page=path,
    )
    assert added.status_code == 303
    plan = await services.get_plan(plan_id, by=rw.world.admin)
    assert [(m.title, m.owner, m.target, m.event_ids) for m in plan.milestones] == [
        ("Zehn Klassen", "firm-a", 10, [rw.tour_a])
    ]
    late = await post_form(
        client,
        f"/office/workplan/{plan_id}/milestones?year=2027/28",
        {"title": "Zu spät", "due_on": "2028-08-02", "metric": "pupils", "target": "5"},
        from_page=path,
    )
    assert late.status_code == 422
    assert len((await services.get_plan(plan_id, by=rw.world.admin)).milestones) == 1
    # Firms and schools read the review but do not edit the plan.
    await sign_in(client, rw.world.firm_a.email)
    assert (await client.get(path)).status_code == 403


async def test_a_school_opens_only_the_attendee_lists_of_its_own_events(client, rw):
    await sign_in(client, rw.world.school_a.email)
    # School A booked firm A's tour, but only the host records who came.
    assert (await client.get(f"/firm/events/{rw.tour_a}/attendees")).status_code == 404
    html = (await client.get("/reports", params={"year": YEAR})).text
    firm_b = (await get_by_slug("firm-b")).name
    assert "Vier Klassen" in html and "Ziel von B" not in html and firm_b not in html


@pytest.mark.parametrize(
    ("language", "heading", "status", "time_pattern"),
    [
        ("de", "Buchung", "bestätigt", r"\d\d\.\d\d\.\d{4} \d\d:\d\d"),
        ("cs", "Rezervace", "potvrzeno", r"\d\d\.\d\d\.\d{4} \d\d:\d\d"),
        ("en", "Booking", "confirmed", r"\d{4}-\d\d-\d\d \d\d:\d\d"),
    ],
)
async def test_the_booking_csv_is_written_for_excel_in_the_readers_language(
    client, rw, language, heading, status, time_pattern
):
    await sign_in(client, rw.world.admin.email)
    got = await client.get(
        "/reports/bookings/export?format=csv&status=confirmed",
        headers={"Accept-Language": language},
    )
    assert got.headers["content-type"].startswith("text/csv; charset=utf-8")
    rows = _csv(got.content, language)
    head, body = rows[0], rows[1:]
    assert head[0] == heading and len(head) == 15 and body
    assert all(len(row) == len(head) for row in body)  # the separator split every row right
    assert {row[1] for row in body} == {status}
    assert all(re.fullmatch(time_pattern, row[3]) for row in body)
    assert all(row[11].isdigit() for row in body)  # persons: a plain number


async def test_the_workbooks_keep_types_freeze_the_heading_and_size_the_columns(client, rw):
    await sign_in(client, rw.world.admin.email)
    got = await client.get("/reports/export/fill-by-slot", params={"year": YEAR, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(got.content)).active
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == sheet.dimensions
    head = [cell.value for cell in sheet[1]]
    assert all(cell.font.b for cell in sheet[1])
    rows = list(sheet.iter_rows(min_row=2, max_row=sheet.max_row - 1))  # the total row apart
    time, places, rate = 0, head.index("Plätze"), head.index("Auslastung (Prozent)")
    for row in rows:
        assert row[time].is_date and isinstance(row[time].value, datetime)
        assert row[places].data_type == "n" and isinstance(row[places].value, int)
        assert row[rate].data_type == "n" and row[rate].number_format == "0.0%"
        assert 0 <= row[rate].value <= 1.5  # a fraction, shown as a percentage
    widths = {c: sheet.column_dimensions[c].width for c in "AB"}
    titles = [str(cell.value or "") for cell in sheet["B"]]
    assert widths["A"] >= len("2026-09-08 10:30") and widths["B"] == max(map(len, titles)) + 2

    bookings = await client.get("/reports/bookings/export?format=xlsx")
    sheet = load_workbook(io.BytesIO(bookings.content)).active
    head = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        assert row[head.index("Buchung")].data_type == "n"
        assert row[head.index("Zeit")].is_date
        assert isinstance(row[head.index("Personen")].value, int)
    assert sheet.freeze_panes == "A2"
