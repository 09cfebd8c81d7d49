"""The printable pieces, without a database: route sketch, print page, calendar file."""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

from icalendar import Calendar
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from outreach.events.schemas import VenueOut
from outreach.itineraries.ical import itinerary_calendar
from outreach.itineraries.schemas import ItineraryOut, LegOut, LunchOut, VisitStatusOut
from outreach.itineraries.sketch import RouteStop, route_svg, stops_of
from outreach.pages import i18n
from outreach.timeutil import LOCAL_TZ

SVG = "{http://www.w3.org/2000/svg}"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
DAY = dt.date(2027, 3, 10)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute), tzinfo=LOCAL_TZ)


def visit(n: int, host: str, start: dt.datetime, status: str = "confirmed") -> VisitStatusOut:
    return VisitStatusOut(
        position=n,
        booking_id=100 + n,
        slot_id=10 + n,
        status=status,
        reason="Maschinenausfall" if status == "cancelled" else "",
        host=host,
        host_name=f"{host.title()} & Söhne <GmbH>",
        event_id=n,
        event_title=f"Tour {n}",
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=90),
        venue=VenueOut(
            name=f"Werk {n}",
            street="Hauptstraße 1",
            postal_code="01768",
            city="Glashütte",
            lat=50.85 + n / 200,
            lon=13.78 + n / 300,
        ),
        contact_name="Frau Muster",
        contact_phone="035053 0000",
        contact_email="kontakt@firm.example",
    )


def itinerary(statuses: tuple[str, str, str] = ("confirmed", "pending", "confirmed")):
    visits = [
        visit(1, "rehn", at(9), statuses[0]),
        visit(2, "kaden", at(11), statuses[1]),
        visit(3, "seifert", at(13, 30), statuses[2]),
    ]
    on = [v for v in visits if v.status != "cancelled"]
    legs = [
        LegOut(
            from_=a.host,
            to=b.host,
            minutes=25,
            km=0.9,
            mode="foot",
            departs_at=a.ends_at,
            arrives_at=a.ends_at + dt.timedelta(minutes=25),
        )
        for a, b in itertools.pairwise(on)
    ]
    return ItineraryOut(
        id=7,
        school="os-glashuette",
        school_name="Oberschule Glashütte",
        date=DAY,
        class_label="8a",
        grade=8,
        pupils=24,
        adults=2,
        status="pending",
        travel_mode="foot",
        arrive_at="08:30",
        leave_by="15:30",
        lunch_minutes=30,
        visits=visits,
        legs=legs,
        lunch=LunchOut(starts_at=at(12, 45), ends_at=at(13, 15)),
        bookings=[],
        ics_url="http://outreach.test/itineraries/7.ics",
        created_at=at(8),
    )


def test_route_sketch_is_svg_with_a_numbered_stop_per_visit_and_escaped_names():
    it = itinerary()
    svg = route_svg(stops_of(it), mode="foot", title="Route der Klasse 8a")
    root = ET.fromstring(svg)  # well-formed XML, names escaped
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert len(root.findall(f"{SVG}circle")) == 3
    assert len(root.findall(f"{SVG}polyline")) == 1
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert [t for t in texts if t in ("1", "2", "3")] == ["1", "2", "3"]
    assert "Rehn & Söhne <GmbH>" in texts and "N" in texts
    assert any(t and t.endswith((" m", " km")) for t in texts)  # the scale bar
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # no tiles, no links
    # Stops stay inside the drawing.
    for c in root.findall(f"{SVG}circle"):
        assert 0 < float(c.get("cx")) < 640 and 0 < float(c.get("cy")) < 420


def test_route_sketch_copes_with_one_stop_or_one_place():
    one = route_svg([RouteStop("Allein", 50.85, 13.78)])
    assert len(ET.fromstring(one).findall(f"{SVG}circle")) == 1
    same = route_svg([RouteStop("A", 50.85, 13.78), RouteStop("B", 50.85, 13.78)], mode="bus")
    assert "stroke-dasharray" not in same and "nan" not in same


def test_cancelled_visits_leave_the_route():
    it = itinerary(("confirmed", "cancelled", "confirmed"))
    assert [s.name for s in stops_of(it)] == [
        "Rehn & Söhne <GmbH>",
        "Seifert & Söhne <GmbH>",
    ]


def test_print_page_lists_times_places_legs_and_contacts():
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
    )
    i18n.install(env)  # no request in the context: German, the default locale
    it = itinerary(("confirmed", "cancelled", "confirmed"))
    html = env.get_template("itineraries/print.html").render(
        itinerary=it, route_svg=route_svg(stops_of(it)), locale="de"
    )
    assert "Klasse 8a: Firmenbesuche am Mittwoch, 10. März 2027" in html
    assert "09:00\u201310:30" in html and "13:30\u201315:00" in html
    assert "Rehn &amp; Söhne &lt;GmbH&gt;" in html  # escaped in the page
    assert "Fußweg zu Seifert &amp; Söhne &lt;GmbH&gt;" in html
    assert "(0,9 km Luftlinie)" in html  # the locale's decimal comma, by Babel
    assert "abgesagt" in html and "Maschinenausfall" in html
    assert "Mittagspause" in html and "Tel. 035053 0000" in html
    # Lunch (12:45) comes after the morning's visit and before the afternoon's.
    assert html.index("10:30\u2013") < html.index("Mittagspause") < html.index("13:30\u2013")
    assert "<svg" in html and "<script" not in html


def test_calendar_has_every_visit_leg_and_lunch_as_utc_instants():
    it = itinerary(("confirmed", "pending", "cancelled"))
    body = itinerary_calendar(it, host="outreach.test", stamp=at(8), sequences={101: 2})
    cal = Calendar.from_ical(body)
    assert cal["METHOD"] == "PUBLISH" and "8a" in str(cal["X-WR-CALNAME"])
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {
        "itinerary-7-visit-101@outreach.test",
        "itinerary-7-visit-102@outreach.test",
        "itinerary-7-visit-103@outreach.test",
        "itinerary-7-leg-101-102@outreach.test",
        "itinerary-7-lunch@outreach.test",
    }
    assert events["itinerary-7-visit-101@outreach.test"]["SEQUENCE"] == 2
    assert events["itinerary-7-visit-102@outreach.test"]["STATUS"] == "TENTATIVE"
    assert events["itinerary-7-visit-103@outreach.test"]["STATUS"] == "CANCELLED"
    leg = events["itinerary-7-leg-101-102@outreach.test"]
    assert leg["DTSTART"].dt == at(10, 30) and leg["DTEND"].dt == at(10, 55)
    assert str(leg["SUMMARY"]).startswith("Fußweg zu Kaden")
    assert "0,9 km Luftlinie" in str(leg["DESCRIPTION"])  # German text, German number
    assert "GEO" in events["itinerary-7-visit-101@outreach.test"]
    # UTC (see outreach.calendar.ical): no TZID anywhere, so no VTIMEZONE is needed.
    assert b"TZID" not in body and b"BEGIN:VTIMEZONE" not in body and b"\r\n" in body
    assert b"DTSTART:" in body and leg["DTSTART"].dt.utcoffset().total_seconds() == 0
