"""The public calendar one page of dates at a time, grouped by month, with folding filters
and every way to subscribe; deleting a milestone asks on a page of its own."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from outreach.workplan import services as workplans
from outreach.workplan.schemas import MilestoneIn, WorkPlanIn
from outreach.workplan.tables import Milestone
from tests.factories import at, make_event, make_slot, make_world, school_day
from tests.pages.conftest import csrf_of, give_password, post_form, sign_in

CARD = re.compile(r'<li class="card">\s*<h4><a href="/events/(\d+)">')


@pytest.fixture
async def world(db):
    world = await make_world()
    await give_password(world.admin.email)
    return world


async def test_the_calendar_lists_twenty_dates_a_page_under_their_month(client, world):
    event_id = await make_event(world.firm_a, kind="open_day")
    day = school_day(3)
    for n in range(23):
        await make_slot(world.firm_a, event_id, starts_at=at(day + timedelta(days=n), 10))
    first = await client.get("/")
    assert first.status_code == 200
    assert len(CARD.findall(first.text)) == 20
    assert "Termine 1\u201320 von 23" in first.text
    assert re.search(r'<h3 class="month-h">\w+ \d{4}</h3>', first.text)
    more = re.search(
        r'<a class="button" href="/\?([^"]+)" rel="next">Weitere Termine</a>', first.text
    )
    assert more, first.text
    second = await client.get(f"/?{unescape(more.group(1))}")
    assert len(CARD.findall(second.text)) == 3
    assert "Termine 21\u201323 von 23" in second.text
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    # The last page offers the dates past the list's reach.
    assert "Spätere Termine" in second.text


async def test_the_filters_fold_unless_one_is_set(client, world):
    plain = (await client.get("/")).text
    assert '<details class="filters-fold">' in plain
    filtered = (await client.get("/?kind=open_day")).text
    assert '<details class="filters-fold" open>' in filtered


async def test_subscribing_offers_webcal_google_outlook_and_the_address(client, world):
    html = (await client.get("/?kind=factory_tour&host=firm-a")).text
    feed = "http://outreach.test/feeds/public.ics?kind=factory_tour&host=firm-a"

    def href(link_id: str) -> str:
        found = re.search(rf'id="{link_id}" href="([^"]+)"', html)
        assert found, link_id
        return unescape(found.group(1))

    assert (
        href("webcal-link")
        == "webcal://outreach.test/feeds/public.ics?kind=factory_tour&host=firm-a"
    )
    google = urlsplit(href("google-link"))
    assert (google.netloc, google.path) == ("calendar.google.com", "/calendar/render")
    assert parse_qs(google.query) == {"cid": ["webcal://" + feed.split("://", 1)[1]]}
    for link_id, host in (
        ("outlook-link", "outlook.live.com"),
        ("office365-link", "outlook.office.com"),
    ):
        outlook = urlsplit(href(link_id))
        assert (outlook.netloc, outlook.path) == (host, "/calendar/0/addfromweb")
        assert parse_qs(outlook.query)["url"] == [feed]
    address = re.search(r'<input id="feed-address" type="url" readonly value="([^"]+)">', html)
    assert address and unescape(address.group(1)) == feed
    # Each way says what it does.
    assert "Google-Konto nötig" in html and "Arbeits- oder Schulkonto" in html


async def _milestone(world) -> tuple[int, str]:
    year = workplans.current_school_year()
    plan = await workplans.create_plan(WorkPlanIn(school_year=year, title="Plan"), by=world.admin)
    due = school_day(20)
    if workplans.school_year_of(due) != year:  # a milestone falls in its plan's year
        due = school_day(1)
    milestone = await workplans.add_milestone(
        plan,
        MilestoneIn(title="Zehn Klassenbesuche", due_on=due, metric="class_visits", target=10),
        by=world.admin,
    )
    return milestone, year


async def test_deleting_a_milestone_asks_on_a_page_of_its_own(client, world):
    milestone, year = await _milestone(world)
    await sign_in(client, world.admin.email)
    plan = await client.get(f"/office/workplan?year={year}")
    # The plan links to the question; it holds no form that deletes at once.
    assert f'href="/office/milestones/{milestone}/delete"' in plan.text
    assert f'action="/office/milestones/{milestone}/delete' not in plan.text

    question = await client.get(f"/office/milestones/{milestone}/delete")
    assert question.status_code == 200
    assert "„Zehn Klassenbesuche“ löschen?" in question.text
    assert f'<form method="post" action="/office/milestones/{milestone}/delete"' in question.text
    assert "<script" not in question.text
    assert await Milestone.count() == 1  # asking deletes nothing

    done = await client.post(
        f"/office/milestones/{milestone}/delete",
        data={"_csrf_token": csrf_of(question.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith("/office/workplan?year=")
    assert await Milestone.count() == 0
    after = await client.get(done.headers["location"])
    assert "Der Meilenstein ist gelöscht." in after.text
    gone = await client.get(f"/office/milestones/{milestone}/delete")
    assert gone.status_code == 404


async def test_events_are_linked_on_the_milestones_own_page(client, world):
    milestone, year = await _milestone(world)
    event_id = await make_event(world.firm_a)
    await sign_in(client, world.admin.email)
    edit = f"/office/milestones/{milestone}/edit"
    linked = await post_form(
        client,
        f"/office/milestones/{milestone}/events?year={year}",
        {"event_id": event_id},
        from_page=edit,
    )
    assert linked.status_code == 303
    page = (await client.get(edit)).text
    assert f'action="/office/milestones/{milestone}/events/{event_id}/unlink"' in page
    plan = (await client.get(f"/office/workplan?year={year}")).text
    assert "<select" not in plan.split("<table", 1)[1].split("</table>", 1)[0]


async def test_the_private_feed_offers_the_same_ways_to_subscribe(client, world):
    await give_password(world.school_a.email)
    await sign_in(client, world.school_a.email)
    html = (await client.get("/school")).text
    address = re.search(r'<input id="feed-address" type="url" readonly value="([^"]+)">', html)
    assert address and "/feeds/private/" in address.group(1)
    google = re.search(r'id="google-link" href="([^"]+)"', html)
    assert google
    assert parse_qs(urlsplit(unescape(google.group(1))).query)["cid"] == [
        "webcal://" + unescape(address.group(1)).split("://", 1)[1]
    ]
    assert 'id="outlook-link"' in html and 'id="office365-link"' in html
