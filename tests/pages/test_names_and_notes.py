"""On the demo network: people read organisations by name, and only hosts read the note.

Slugs are the keys of URLs and of the API; a page, a print page or an export a person
reads names the school or firm ("Oberschule Glashütte", not "os-glashuette"). The note a
booker writes ("one pupil uses a wheelchair") reaches the host (pending table, attendee
list, export) and nobody else: no other firm, no public page, no feed.
"""

from __future__ import annotations

import csv
import html as html_lib
import io
import re

import pytest

from outreach.accounts.services import principal_for
from outreach.accounts.tables import User
from outreach.booking.queries import list_bookings
from outreach.booking.tables import Booking
from outreach.demo import ADMIN_EMAIL, DEMO_PASSWORD, load_demo
from outreach.feeds.render import drafts_for_bookings, drafts_for_slots
from outreach.organisations.tables import Organisation
from outreach.principal import Principal
from outreach.timeutil import utcnow
from tests.pages.conftest import sign_in

NOTE = "Eine Schülerin nutzt einen Rollstuhl, bitte den Aufzug freihalten."
_TAGS = re.compile(r"<[^>]+>")
_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1>", re.S)
# An e-mail address carries its organisation's domain, which is no name to replace.
_ADDRESS = re.compile(r"[\w.+-]+@[\w.-]+")


def visible(page: str) -> str:
    """The text a reader sees: no tags, no attributes (hrefs keep their slugs), no addresses."""
    text = html_lib.unescape(_TAGS.sub(" ", _HIDDEN.sub(" ", page)))
    return _ADDRESS.sub(" ", text)


def slugs_in(text: str, slugs: list[str]) -> list[str]:
    return [s for s in slugs if re.search(rf"(?<![\w/-]){re.escape(s)}(?![\w-])", text)]


def _csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))  # German


async def _member_email(org_id: int, role: str, *, other_than: bool = False) -> str:
    where = User.organisation != org_id if other_than else User.organisation == org_id
    row = await User.select(User.email).where(where & (User.role == role)).first()
    assert row is not None
    return row["email"]


@pytest.fixture
async def demo(db):
    await load_demo()
    b = Booking
    visit = (
        await b.select(b.id, b.slot, b.event, b.school, b.event.host.as_alias("host"))
        .where((b.status == "pending") & (b.kind == "class_visit") & (b.slot.starts_at > utcnow()))
        .order_by(b.id)
        .first()
    )
    assert visit is not None, "the demo keeps pending class visits for the hosts to answer"
    await Booking.update({Booking.notes: NOTE}).where(Booking.id == visit["id"])
    orgs = {
        r["id"]: r
        for r in await Organisation.select(Organisation.id, Organisation.slug, Organisation.name)
    }
    return visit, orgs


async def test_names_not_slugs_and_the_note_for_the_host_alone(client, demo):
    """One test, one demo load per database (a load takes tens of seconds)."""
    visit, orgs = demo
    await _host_reads_names_and_the_note(client, visit, orgs)
    client.cookies.clear()
    await _no_other_firm_no_public_page_and_no_feed_shows_the_note(client, visit)
    client.cookies.clear()
    await _the_office_and_the_school_read_names(client, visit, orgs)


async def _host_reads_names_and_the_note(client, visit, orgs) -> None:
    slugs = [o["slug"] for o in orgs.values()]
    host, school = orgs[visit["host"]], orgs[visit["school"]]
    await sign_in(client, await _member_email(visit["host"], "firm"), DEMO_PASSWORD)
    event = visit["event"]
    seen: dict[str, str] = {}
    for path in ("/firm", f"/firm/events/{event}", f"/firm/events/{event}/attendees", "/reports"):
        got = await client.get(path)
        assert got.status_code == 200, (path, got.status_code)
        seen[path] = visible(got.text)
        assert not slugs_in(seen[path], slugs), (path, slugs_in(seen[path], slugs))
    # The pending table and the attendee list (its print page) name the school, show the note.
    for path in ("/firm", f"/firm/events/{event}/attendees"):
        assert school["name"] in seen[path] and NOTE in seen[path], path
    assert "Hinweis der buchenden Person" in seen["/firm"]
    # The export names host and school and carries the note in its own column.
    exported = _csv((await client.get("/reports/bookings/export?format=csv")).content)
    head, rows = exported[0], {int(r[0]): r for r in exported[1:]}
    row = rows[visit["id"]]
    assert row[head.index("Gastgeber")] == host["name"]
    assert row[head.index("Schule")] == school["name"]
    assert row[head.index("Hinweis der buchenden Person")] == NOTE
    cells = " ".join(_ADDRESS.sub(" ", c) for r in exported for c in r)
    assert not slugs_in(cells, slugs)
    # The API keeps the slugs as keys and adds the names.
    (api_row,) = [
        b
        for b in await list_bookings(by=await _principal(visit["host"]), status="pending")
        if b.id == visit["id"]
    ]
    assert (api_row.host, api_row.school) == (host["slug"], school["slug"])
    assert (api_row.host_name, api_row.school_name) == (host["name"], school["name"])


async def _principal(org_id: int) -> Principal:
    user = await User.objects().where((User.organisation == org_id) & (User.role == "firm")).first()
    return principal_for(user)


async def _no_other_firm_no_public_page_and_no_feed_shows_the_note(client, visit) -> None:
    await sign_in(
        client, await _member_email(visit["host"], "firm", other_than=True), DEMO_PASSWORD
    )
    for path in ("/firm", "/reports", "/reports/bookings/export?format=csv"):
        got = await client.get(path)
        assert got.status_code == 200 and "Rollstuhl" not in got.text, path
    attendees = await client.get(f"/firm/events/{visit['event']}/attendees")
    assert attendees.status_code in (403, 404) and "Rollstuhl" not in attendees.text
    client.cookies.clear()
    for path in ("/", f"/events/{visit['event']}"):
        got = await client.get(path)
        assert got.status_code == 200 and "Rollstuhl" not in got.text, path
    # Feeds: the public and the host's piece of the slot, the booker's piece of the booking.
    pieces = [*await drafts_for_slots([visit["slot"]]), *await drafts_for_bookings([visit["id"]])]
    assert pieces and all("Rollstuhl" not in repr(p.spec) for p in pieces)


async def _the_office_and_the_school_read_names(client, visit, orgs) -> None:
    slugs = [o["slug"] for o in orgs.values()]
    await sign_in(client, ADMIN_EMAIL, DEMO_PASSWORD)
    for path in ("/office", "/office/bookings", "/office/events", "/office/users", "/reports"):
        got = await client.get(path)
        assert got.status_code == 200, path
        assert not slugs_in(visible(got.text), slugs), (path, slugs_in(visible(got.text), slugs))
    bookings = visible((await client.get("/office/bookings")).text)
    assert orgs[visit["host"]]["name"] in bookings and orgs[visit["school"]]["name"] in bookings
    client.cookies.clear()
    await sign_in(client, await _member_email(visit["school"], "school"), DEMO_PASSWORD)
    for path in ("/school", "/school/book", "/reports"):
        got = await client.get(path)
        assert got.status_code == 200, path
        assert not slugs_in(visible(got.text), slugs), (path, slugs_in(visible(got.text), slugs))
