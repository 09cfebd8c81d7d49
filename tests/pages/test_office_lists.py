"""The office's lists: bookings by date with filters and pages, the overview's figures (each
the count of the list it links to), and the stored mails by date, recipient and subject."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html import unescape

import pytest

from outreach.booking import search
from outreach.booking.writes import place_booking
from outreach.config import get_settings
from outreach.notifications import transports
from outreach.timeutil import LOCAL_TZ, utcnow
from tests.factories import at, class_visit, make_event, make_slot, make_world, school_day
from tests.pages.conftest import give_password, sign_in

ROW = re.compile(r'<tr><td>(.*?)</td><td><a href="/bookings/(\d+)">', re.S)


@pytest.fixture
async def world(db):
    world = await make_world()
    await give_password(world.admin.email)
    return world


async def _book(host, school, day_offset: int, *, mode: str = "auto", label: str = "8a") -> int:
    event_id = await make_event(host, booking_mode=mode)
    slot_id = await make_slot(host, event_id, starts_at=at(school_day(day_offset), 9))
    placed = await place_booking(slot_id, class_visit(label), by=school)
    return placed.booking.id


def _ids(html: str) -> list[int]:
    return [int(found[1]) for found in ROW.findall(html)]


async def test_the_bookings_list_sorts_by_visit_date_and_filters(client, world):
    late = await _book(world.firm_a, world.school_a, 40)
    early = await _book(world.firm_b, world.school_b, 10)
    middle = await _book(world.firm_a, world.school_b, 25, mode="approval")
    await sign_in(client, world.admin.email)

    listing = await client.get("/office/bookings")
    assert listing.status_code == 200
    assert _ids(listing.text) == [early, middle, late]  # the earliest visit first
    latest_first = await client.get("/office/bookings?sort=-date")
    assert _ids(latest_first.text) == [late, middle, early]

    assert _ids((await client.get("/office/bookings?firm=firm-a")).text) == [middle, late]
    assert _ids((await client.get("/office/bookings?school=school-b")).text) == [early, middle]
    assert _ids((await client.get("/office/bookings?status=pending")).text) == [middle]
    span = f"from={school_day(20).isoformat()}&to={school_day(30).isoformat()}"
    assert _ids((await client.get(f"/office/bookings?{span}")).text) == [middle]
    both = await client.get("/office/bookings?firm=firm-a&school=school-a")
    assert _ids(both.text) == [late]
    assert 'value="firm-a" selected' in both.text  # the filter shows what it filters by


async def test_the_bookings_list_pages(client, world, monkeypatch):
    monkeypatch.setattr(search, "PAGE_SIZE", 2)
    ids = [await _book(world.firm_a, world.school_a, 10 + 3 * n, label=f"9{n}") for n in range(5)]
    await sign_in(client, world.admin.email)
    first = await client.get("/office/bookings")
    assert _ids(first.text) == ids[:2]
    assert "Seite 1 von 3" in first.text
    assert 'href="/office/bookings?page=2" rel="next"' in first.text
    second = await client.get("/office/bookings?page=2")
    assert _ids(second.text) == ids[2:4]
    assert 'rel="prev"' in second.text
    last = await client.get("/office/bookings?page=3&sort=-date")
    assert _ids(last.text) == [ids[0]]
    # The pager keeps the order and the filters.
    assert 'href="/office/bookings?sort=-date&amp;page=2" rel="prev"' in last.text


@pytest.mark.parametrize(
    ("query", "field", "text"),
    [
        ("status=lost", "status", "Status"),
        ("from=31.12.2026", "from", "Datum"),
        ("to=tomorrow", "to", "Datum"),
        ("from=2027-02-01&to=2027-01-01", "to", "letzte Tag"),
        ("page=zero", "page", "Seite"),
        ("firm=no-such-firm", "firm", "Kurzname"),
        ("school=%3Cscript%3E", "school", "Kurzname"),
        ("sort=name", "sort", "sort"),
    ],
)
async def test_a_filter_it_cannot_use_is_named_beside_its_field(client, world, query, field, text):
    await sign_in(client, world.admin.email)
    response = await client.get(f"/office/bookings?{query}")
    assert response.status_code == 422
    error = re.search(rf'<p class="error" id="f-{field}-error">(.*?)</p>', response.text, re.S)
    assert error, response.text
    assert text in unescape(error.group(1))
    assert "<script>" not in response.text


async def test_the_overview_counts_what_its_links_list(client, world):
    today = utcnow().astimezone(LOCAL_TZ).date()
    await _book(world.firm_a, world.school_a, 3, mode="approval")  # pending
    await _book(world.firm_b, world.school_b, 60)  # confirmed, beyond this month
    event_id = await make_event(world.firm_a, waitlist=True)
    slot_id = await make_slot(world.firm_a, event_id, capacity=25)
    await place_booking(slot_id, class_visit("8a", pupils=22), by=world.school_a)
    await place_booking(slot_id, class_visit("8b", pupils=22), by=world.school_b)  # waits
    await sign_in(client, world.admin.email)
    overview = await client.get("/office")
    assert overview.status_code == 200
    links = re.findall(r'<a href="(/office/[^"]+)"><strong>(\d+)</strong>', overview.text)
    assert len(links) == 4, overview.text
    for href, count in links:
        target = await client.get(unescape(href))
        assert target.status_code == 200, href
        if href.startswith("/office/bookings"):
            assert len(_ids(target.text)) == int(count), href
    figures = {unescape(href): int(count) for href, count in links}
    assert figures["/office/bookings?status=pending"] == 1
    assert figures["/office/bookings?status=waitlisted"] == 1
    assert figures["/office/notifications"] == 0
    [month] = [h for h in figures if "status=confirmed" in h]
    assert f"from={today.isoformat()}" in month


async def test_stored_mails_list_date_recipient_and_subject_newest_first(
    client, world, monkeypatch
):
    settings = get_settings()
    for n in range(3):
        message = EmailMessage()
        message["From"] = "office@outreach.test"
        message["To"] = f"person{n}@test.example"
        message["Subject"] = f"Betreff {n}"
        message["Date"] = f"Mon, 0{n + 1} Mar 2027 10:00:00 +0100"
        message["Message-ID"] = f"<mail-{n}@outreach.test>"
        message.set_content("Hallo")
        await transports.FileTransport(settings.mail_dir).send(message)
    monkeypatch.setattr(
        transports,
        "stored_mail_page",
        lambda settings, page=1, size=50, real=transports.stored_mail_page: real(
            settings, page=page, size=2
        ),
    )
    await sign_in(client, world.admin.email)
    first = await client.get("/office/mails")
    assert first.status_code == 200
    rows = re.findall(
        r'<tr><td>(.*?)</td><td>(.*?)</td><td><a href="([^"]+)">(.*?)</a>', first.text
    )
    assert [r[1] for r in rows] == ["person2@test.example", "person1@test.example"]
    assert [r[3] for r in rows] == ["Betreff 2", "Betreff 1"]
    assert "03.03.27" in rows[0][0] or "3. März" in rows[0][0] or "03.03.2027" in rows[0][0]
    assert (await client.get(rows[0][2])).status_code == 200
    second = await client.get("/office/mails?page=2")
    assert "person0@test.example" in second.text
    assert "person2@test.example" not in second.text
