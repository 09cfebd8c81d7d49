"""The planner speaks the teacher's language: explanations, suggestions, distances and the
printable day in German, English or Czech; the API's `explanation` stays English."""

from __future__ import annotations

import re

import pytest

from outreach.calendar.holidays import closures_between
from outreach.itineraries.tables import Itinerary
from tests.itineraries.helpers import make_net, three_firm_day
from tests.itineraries.test_pages import book_forms, plan_query, post
from tests.pages.conftest import csrf_of, give_password, sign_in
from tests.support import bearer

# Sentences the planner used to show in English on every page.
ENGLISH_SENTENCES = ("No day with", "can take", "best first", "would fit", "cannot take the class")
_PROPOSAL = re.compile(r'<li class="card proposal" id="proposal-1">(.*?)</li>', re.S)


@pytest.fixture
async def net(db):
    net = await make_net()
    await give_password(net.world.school_a.email)
    return net


def lang(locale: str) -> dict[str, str]:
    return {"Accept-Language": locale}


async def test_nothing_fits_is_explained_in_german_english_and_czech(client, net):
    await three_firm_day(net)
    await sign_in(client, net.world.school_a.email)
    query = plan_query(net, pupils="40")  # 42 persons; each firm takes 30

    german = await client.get(query, headers=lang("de"))
    assert german.status_code == 200 and not book_forms(german.text)
    assert "Kein Tag mit 2 oder mehr Besuchen passt." in german.text
    assert "nur 0 Firmen können dann 42 Personen aufnehmen" in german.text
    assert "Eine Gruppe von bis zu 30 Personen (die Klasse hat 42)" in german.text
    assert not [s for s in ENGLISH_SENTENCES if s in german.text]
    assert 'class="meta" lang="en"' not in german.text

    english = await client.get(query, headers=lang("en"))
    assert "No day with 2 or more visits fits." in english.text
    assert "only 0 firms can take 42 persons then" in english.text
    assert "A group of up to 30 persons (the class is 42)" in english.text

    czech = await client.get(query, headers=lang("cs"))
    assert "Žádný den s 2 nebo více návštěvami se nehodí." in czech.text
    assert "Skupina až 30 osob (třída má 42)" in czech.text
    assert not [s for s in ENGLISH_SENTENCES if s in czech.text]


async def test_what_was_found_and_a_missing_firm_are_explained_in_the_pages_language(client, net):
    await three_firm_day(net)  # Lange has no tour at all
    await sign_in(client, net.world.school_a.email)
    query = plan_query(net, firms="kaden") + "&firms=lange"

    german = await client.get(query, headers=lang("de"))
    assert german.status_code == 200 and book_forms(german.text)
    assert "zuerst: gewünschte Firmen, dann Ihre Themen" in german.text
    # A firm with no slot at all is named by its name, never by its slug.
    assert (
        "Lange GmbH hat an den gewünschten Tagen keine Termine für Klassenbesuche." in german.text
    )
    assert "lange hat" not in german.text
    assert not [s for s in ENGLISH_SENTENCES if s in german.text]
    assert "has no class-visit slots" not in german.text
    assert 'class="meta" lang="en"' not in german.text
    # Distances with the German decimal comma, never "0.27 km".
    assert re.search(r"\(\d+(,\d)? km\)", german.text)
    assert not re.search(r"\d\.\d+ km", german.text)

    english = await client.get(query, headers=lang("en"))
    assert "best first: wanted firms, then your topics" in english.text
    assert "Lange GmbH has no class-visit slots on the date(s) asked for." in english.text

    czech = await client.get(query, headers=lang("cs"))
    assert "nejlepší první: požadované firmy" in czech.text
    assert "Lange GmbH nemá v požadovaných dnech žádné termíny" in czech.text
    assert not [s for s in ENGLISH_SENTENCES if s in czech.text]


async def test_the_api_explains_in_english_whatever_the_request_language(client, net):
    await three_firm_day(net)
    teacher = bearer(net.world.tokens["school_a"]) | lang("de")
    body = {
        "date": net.day.isoformat(),
        "grade": 8,
        "pupils": 40,
        "adults": 2,
        "arrive_at": "08:30",
        "leave_by": "15:00",
    }
    response = await client.post("/api/v1/itineraries/plan", json=body, headers=teacher)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["explanation"].startswith("No day with 2 or more visits fits.")
    assert f"{net.day:%d.%m.%Y}: only 0 firms can take 42 persons then" in plan["explanation"]
    group = next(s for s in plan["suggestions"] if s["kind"] == "group")
    assert group["message"].startswith("A group of up to 30 persons (the class is 42)")


async def test_the_lunch_break_is_listed_in_time_order(client, net):
    await three_firm_day(net, lunch_gap=True)  # Kaden ends 12:30, Seifert starts 13:30
    await sign_in(client, net.world.school_a.email)
    page = await client.get(plan_query(net, lunch_minutes="30"), headers=lang("de"))
    proposal = _PROPOSAL.search(page.text)
    assert proposal, page.text
    rows = proposal.group(1)
    assert "Mittagspause" in rows
    assert rows.index("Kaden GmbH") < rows.index("Mittagspause") < rows.index("Seifert GmbH")

    # The booked day's page too.
    booked = await post(client, "/school/plan/book", book_forms(page.text)[0], csrf_of(page.text))
    assert booked.status_code == 303, booked.text
    day = await client.get(booked.headers["location"], headers=lang("de"))
    table = day.text[day.text.index("<tbody>") : day.text.index("</tbody>")]
    assert table.index("Kaden GmbH") < table.index("Mittagspause") < table.index("Seifert GmbH")


async def test_the_printed_day_follows_the_locale(client, net):
    await three_firm_day(net)
    await sign_in(client, net.world.school_a.email)
    planned = await client.get(plan_query(net), headers=lang("en"))
    booked = await post(
        client, "/school/plan/book", book_forms(planned.text)[0], csrf_of(planned.text)
    )
    assert booked.status_code == 303, booked.text
    it = await Itinerary.objects().first()
    path = f"/school/itineraries/{it.id}/print"

    english = await client.get(path, headers=lang("en"))
    assert english.status_code == 200 and '<html lang="en">' in english.text
    assert "Class 8a: company visits on" in english.text
    assert "Walk to Kaden GmbH: about" in english.text and "km as the crow flies" in english.text
    assert "Lunch break" not in english.text  # no lunch planned
    assert not re.search(r"Fußweg|Klasse|Mittagspause|Ankunft", english.text)
    assert re.search(r"9:00\s?AM", english.text)  # English clock, from Babel

    german = await client.get(path, headers=lang("de"))
    assert '<html lang="de">' in german.text and "Klasse 8a: Firmenbesuche am" in german.text
    assert "09:00\u201310:30" in german.text and "km Luftlinie" in german.text

    czech = await client.get(path, headers=lang("cs"))
    assert '<html lang="cs">' in czech.text and "Třída 8a: návštěvy firem" in czech.text
    assert "Pěšky do Kaden GmbH" in czech.text


async def test_holidays_are_named_in_the_pages_language(client, net):
    """A day in the autumn holidays: Herbstferien, autumn holidays, podzimní prázdniny."""
    school = next(
        c
        for c in closures_between(net.day, net.day.replace(year=net.day.year + 1))
        if c.reason != "public_holiday" and c.name == "Herbstferien"
    )
    await sign_in(client, net.world.school_a.email)
    query = plan_query(net, date=school.first_day.isoformat())
    for locale, name in (("de", "Herbstferien"), ("en", "autumn holidays"), ("cs", "podzimní")):
        page = await client.get(query, headers=lang(locale))
        assert page.status_code == 200 and name in page.text, locale
    assert "Herbstferien" not in (await client.get(query, headers=lang("cs"))).text
