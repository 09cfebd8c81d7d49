"""The planner's pages over HTTP: plan, book once on a double click, a race that leaves
nothing booked, the itinerary with each visit's status, cancel, replace, print."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from outreach.booking.tables import Booking
from outreach.booking.writes import place_booking
from outreach.itineraries.tables import Itinerary, ItineraryVisit
from tests.factories import class_visit
from tests.itineraries.helpers import make_net, three_firm_day
from tests.pages.conftest import csrf_of, give_password, sign_in

_BOOK_FORM = re.compile(r'<form method="post" action="/school/plan/book">(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
async def net(db):
    net = await make_net()
    await give_password(net.world.school_a.email)
    await give_password(net.world.school_b.email)
    return net


def plan_query(net, **extra: str) -> str:
    values = {
        "date": net.day.isoformat(),
        "grade": "8",
        "pupils": "24",
        "adults": "2",
        "arrive_at": "08:30",
        "leave_by": "15:00",
        "travel_mode": "foot",
        "max_visits": "3",
        "class_label": "8a",
        "lunch_minutes": "0",
        **extra,
    }
    return "/school/plan?" + "&".join(f"{k}={v}" for k, v in values.items())


def book_forms(html: str) -> list[list[tuple[str, str]]]:
    """Each proposal's "book this day" form as its hidden (name, value) pairs."""
    return [_HIDDEN.findall(form) for form in _BOOK_FORM.findall(html)]


def slot_ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [v for k, v in pairs if k == "slot_ids"]


async def post(client, path: str, pairs: list[tuple[str, str]], token: str):
    """POST a form with repeated names (slot_ids, firms) as a browser sends it."""
    return await client.post(
        path,
        content=urlencode([*pairs, ("_csrf_token", token)]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


async def test_a_teacher_plans_books_once_and_sees_each_visits_status(client, net):
    slots = await three_firm_day(net)
    await sign_in(client, net.world.school_a.email)
    dashboard = await client.get("/school")
    assert 'href="/school/plan"' in dashboard.text

    form = await client.get("/school/plan")
    assert form.status_code == 200 and 'name="firms"' in form.text and "multiple" in form.text
    planned = await client.get(plan_query(net, firms="kaden"))
    assert planned.status_code == 200
    forms = book_forms(planned.text)
    assert forms, planned.text
    first = forms[0]
    assert slot_ids(first) == [
        str(slots["rehn"]),
        str(slots["kaden"]),
        str(slots["seifert"]),
    ]
    assert planned.text.count("<svg") == len(forms)  # a sketch for each proposal
    assert 'aria-labelledby="sketch-1"' in planned.text

    token = csrf_of(planned.text)
    booked = await post(client, "/school/plan/book", first, token)
    assert booked.status_code == 303, booked.text
    again = await post(client, "/school/plan/book", first, token)  # a double click
    assert again.status_code == 303 and again.headers["location"] == booked.headers["location"]
    assert await Itinerary.count() == 1 and await Booking.count() == 3

    page = await client.get(booked.headers["location"])
    assert page.status_code == 200
    assert page.text.count("status-confirmed") >= 3
    assert "Tagesplan" in page.text or "/print" in page.text
    it = await Itinerary.objects().first()
    assert f'href="/itineraries/{it.id}.ics"' in page.text

    printed = await client.get(f"/school/itineraries/{it.id}/print")
    assert printed.status_code == 200
    assert "Klasse 8a: Firmenbesuche" in printed.text and "<svg" in printed.text
    assert "<style" not in printed.text and 'href="/static/itinerary.css"' in printed.text
    assert "kontakt@kaden.example" in printed.text and "Fußweg zu" in printed.text
    # The sheet is for parents: no link or address of a page that asks them to sign in.
    assert ".ics" not in printed.text and "/school/" not in printed.text
    css = await client.get("/static/itinerary.css")
    assert css.status_code == 200 and "A4" in css.text

    # Another school sees none of it.
    await sign_in(client, net.world.school_b.email)
    assert (await client.get(f"/school/itineraries/{it.id}")).status_code == 404
    assert (await client.get(f"/school/itineraries/{it.id}/print")).status_code == 404


async def test_a_part_taken_meanwhile_books_nothing_and_shows_fresh_proposals(client, net):
    slots = await three_firm_day(net)
    await net.tour("lange")
    await net.slot("lange", 11)
    await sign_in(client, net.world.school_a.email)
    planned = await client.get(plan_query(net, firms="kaden"))
    chosen = book_forms(planned.text)[0]
    assert str(slots["kaden"]) in slot_ids(chosen)
    # Another school takes Kaden's slot between planning and booking.
    await place_booking(slots["kaden"], class_visit(pupils=25, adults=2), by=net.world.school_b)
    before = await Booking.count()
    raced = await post(client, "/school/plan/book", chosen, csrf_of(planned.text))
    assert raced.status_code == 409
    assert "Nichts wurde gebucht" in raced.text or "Nothing was booked" in raced.text
    assert await Booking.count() == before and await Itinerary.count() == 0
    fresh = book_forms(raced.text)
    assert fresh and all(str(slots["kaden"]) not in slot_ids(f) for f in fresh)


async def test_nothing_fits_explains_and_suggests(client, net):
    await three_firm_day(net)
    await sign_in(client, net.world.school_a.email)
    page = await client.get(plan_query(net, pupils="40"))
    assert page.status_code == 200
    assert not book_forms(page.text)
    assert "Kein Tag mit 2 oder mehr Besuchen passt" in page.text  # German, the default


async def test_bad_input_is_shown_beside_its_field(client, net):
    await sign_in(client, net.world.school_a.email)
    page = await client.get(plan_query(net, grade="99"))
    assert page.status_code == 422 and 'id="f-grade-error"' in page.text
    page = await client.get(plan_query(net, leave_by="07:00"))
    assert page.status_code == 422 and 'id="f-leave_by-error"' in page.text


async def test_cancel_a_visit_then_book_a_replacement_in_one_click(client, net):
    slots = await three_firm_day(net)
    await net.tour("lange")
    spare = await net.slot("lange", 11)
    await sign_in(client, net.world.school_a.email)
    planned = await client.get(plan_query(net, firms="kaden"))
    booked = await post(
        client, "/school/plan/book", book_forms(planned.text)[0], csrf_of(planned.text)
    )
    path = booked.headers["location"]
    it = await Itinerary.objects().first()
    kaden = await Booking.objects().where(Booking.slot == slots["kaden"]).first()

    page = await client.get(path)
    cancel = await client.post(
        f"{path}/visits/{kaden.id}/cancel",
        data={"reason": "Bus fällt aus", "_csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert cancel.status_code == 303
    page = await client.get(path)
    assert 'id="replacements"' in page.text and "status-cancelled" in page.text
    assert f'name="slot" value="{spare}"' in page.text
    form = re.search(rf'action="{re.escape(path)}/replace"(.*?)</form>', page.text, re.S)
    pairs = _HIDDEN.findall(form.group(1))
    replaced = await post(client, f"{path}/replace", pairs, csrf_of(page.text))
    assert replaced.status_code == 303, replaced.text
    again = await post(client, f"{path}/replace", pairs, csrf_of(page.text))  # double click
    assert again.status_code == 303
    visits = await ItineraryVisit.select().where(ItineraryVisit.itinerary == it.id)
    assert len(visits) == 4
    new = await Booking.objects().where(Booking.slot == spare).first()
    assert new.status == "confirmed" and new.class_label == "8a" and new.pupils == 24

    # Another school's slot or a slot that does not fit is refused.
    page = await client.get(path)
    refused = await post(
        client,
        f"{path}/replace",
        [("booking", str(kaden.id)), ("slot", str(slots["kaden"])), ("key", "k-2")],
        csrf_of(page.text),
    )
    assert refused.status_code == 409

    # The whole day.
    page = await client.get(path)
    gone = await client.post(
        f"{path}/cancel",
        data={"reason": "Krankheit", "_csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    statuses = {
        b["status"]
        for b in await Booking.select(Booking.status).where(
            Booking.id.is_in([v["booking"] for v in visits])
        )
    }
    assert statuses == {"cancelled"}
